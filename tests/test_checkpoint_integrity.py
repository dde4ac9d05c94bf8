"""Issue 18, points 1-3: checksums catch flipped bytes, an all-unreadable workdir stops the run (nothing moved, no
restart) unless train.restart=True, transient read errors are retried, and a fallback prints one line."""

import logging
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxgan import cli
from jaxgan.engine.sharding import data_mesh
from jaxgan.errors import run_guarded
from jaxgan.objectives.factory import build_gan
from jaxgan.objectives.gan_task import initial_state
from jaxgan.run.checkpoint import UNREADABLE_DIR, Checkpointer, array_checksums
from jaxgan.run.run_info import run_meta
from jaxgan.run.train import train_and_evaluate
from tests.conftest import tiny_mlp_run_config

SHAPE = (8, 8, 1)


def make_state(seed):
    config = tiny_mlp_run_config()
    config.seed = seed
    return initial_state(config, build_gan(config, SHAPE), SHAPE, data_mesh(jax.devices()[:1]))


def save_steps(directory, steps=(1, 2, 3)):
    states = {step: jax.device_get(make_state(step)) for step in steps}
    with Checkpointer(directory, keep=5) as ckpt:
        for step in steps:
            ckpt.save(step, make_state(step), run_meta(tiny_mlp_run_config(), step, step, SHAPE, None))
    return states


def flip_bytes(step_dir: Path, offset=2000, count=64):
    """Invert `count` bytes of the largest array data file, as a bad disk or a stray write would."""
    data = max((p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"),
               key=lambda p: p.stat().st_size)
    raw = bytearray(data.read_bytes())
    for i in range(offset, offset + count):
        raw[i] ^= 0xFF
    data.write_bytes(bytes(raw))


def delete_array_files(step_dir: Path):
    for path in (step_dir / "state").rglob("*"):
        if path.is_file() and path.parent.name == "d":
            path.unlink()


def tree_files(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_size for p in sorted(directory.rglob("*")) if p.is_file()}


def assert_trees_equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_checksums_are_the_crc32_of_each_arrays_bytes():
    import zlib

    state = make_state(0)
    sums = array_checksums(state)
    kernel = np.asarray(state.nets["G"].params["Dense_0"]["kernel"])
    assert sums["nets.G.params.Dense_0.kernel"] == f"crc32:{zlib.crc32(kernel.tobytes()):08x}"
    assert len(sums) == len(jax.tree.leaves(state))


def test_a_flipped_byte_is_caught_and_the_restore_falls_back_with_one_line(tmp_path, caplog, capsys):
    states = save_steps(tmp_path)
    flip_bytes(tmp_path / "3")
    log_path = tmp_path / "logs" / "checkpoint.log"
    with caplog.at_level(logging.WARNING), Checkpointer(tmp_path, keep=5, log_path=log_path) as ckpt:
        restored, meta = ckpt.restore(make_state(9))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("Checkpoint 3 is unreadable (checksum mismatch in array ")
    assert meta["step"] == 2
    assert_trees_equal(restored, states[2])
    assert "Traceback" not in capsys.readouterr().err

    status = cli.main(["verify", "--workdir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 1
    lines = out.strip().splitlines()
    assert lines[:2] == ["checkpoint 1: ok: 30 of 30 arrays verified", "checkpoint 2: ok: 30 of 30 arrays verified"]
    assert lines[2].startswith("checkpoint 3: BAD: checksum mismatch in array ")
    assert err.strip().splitlines()[-1].endswith("are bad: [3]")
    assert (tmp_path / "3").is_dir()  # verify moves nothing


def test_verify_says_ok_for_a_good_run(tmp_path, capsys):
    save_steps(tmp_path, steps=(1,))
    assert cli.main(["verify", "--workdir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "checkpoint 1: ok: 30 of 30 arrays verified\n"


def test_a_transient_read_error_is_retried(tmp_path, caplog, monkeypatch):
    states = save_steps(tmp_path, steps=(1, 2))
    ckpt = Checkpointer(tmp_path, log_path=tmp_path / "ck.log", retry_wait_s=0.01)
    real_restore, calls = ckpt._manager.restore, []

    def flaky_restore(step, *args, **kwargs):
        calls.append(step)
        if len(calls) == 1:
            raise OSError(5, "Input/output error (a network file system hiccup)")
        return real_restore(step, *args, **kwargs)

    monkeypatch.setattr(ckpt._manager, "restore", flaky_restore)
    with caplog.at_level(logging.WARNING):
        restored, meta = ckpt.restore(make_state(9))
    ckpt.close()
    assert calls == [2, 2] and meta["step"] == 2  # the same step again, not the one before
    assert_trees_equal(restored, states[2])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "attempt 1 failed; retrying" in (tmp_path / "ck.log").read_text()


def guarded_train(config, workdir, capsys) -> tuple[int, str]:
    status = run_guarded(lambda argv: train_and_evaluate(config, workdir), [])
    lines = capsys.readouterr().err.strip().splitlines()
    return status, lines[-1] if lines else ""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("finished")
    train_and_evaluate(tiny_mlp_run_config(), workdir)  # checkpoints 2, 4, 6
    return workdir


def test_no_readable_checkpoint_stops_the_run_and_keeps_every_checkpoint(finished_run, tmp_path, capsys, caplog):
    import shutil

    workdir = Path(shutil.copytree(finished_run, tmp_path / "run"))
    for step in (2, 4, 6):
        delete_array_files(workdir / "checkpoints" / str(step))
    before = tree_files(workdir)
    with caplog.at_level(logging.WARNING):
        status, line = guarded_train(tiny_mlp_run_config(num_steps=8), workdir, capsys)
    assert status == 2
    assert line.startswith("error: None of the checkpoints [2, 4, 6] in ") and "can be read" in line
    assert "--config.train.restart=True" in line and "they were all left in place" in line
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Checkpoint ")]
    assert len(skipped) == 3  # one line per skipped checkpoint
    after = tree_files(workdir)
    assert {k: v for k, v in after.items() if not k.startswith(("logs/", "lock.", "log.txt"))} == {
        k: v for k, v in before.items() if k != "log.txt"}  # nothing moved (log.txt records the attempt)
    assert "Traceback" in (workdir / "logs" / "checkpoint.log").read_text()

    status, line = guarded_train(tiny_mlp_run_config(num_steps=8), workdir, capsys)  # the same command: no restart
    assert status == 2 and line.startswith("error: None of the checkpoints [2, 4, 6]")

    state = train_and_evaluate(tiny_mlp_run_config(num_steps=8, restart=True), workdir)  # the explicit request
    assert int(state.step) == 8
    assert sorted(p.name for p in (workdir / "checkpoints" / UNREADABLE_DIR).iterdir()) == ["2", "4", "6"]
    with Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:
        assert ckpt.all_steps() == [4, 6, 8]


def test_a_flipped_newest_checkpoint_resumes_from_the_one_before(finished_run, tmp_path):
    import shutil

    workdir = Path(shutil.copytree(finished_run, tmp_path / "run"))
    flip_bytes(workdir / "checkpoints" / "6")
    resumed = train_and_evaluate(tiny_mlp_run_config(num_steps=8), workdir)
    straight = train_and_evaluate(tiny_mlp_run_config(num_steps=8), tmp_path / "straight")
    assert_trees_equal(resumed, straight)  # trained 4 -> 8 again, not from the damaged 6
    assert (workdir / "checkpoints" / UNREADABLE_DIR / "6").is_dir()  # kept when step 6 was written again


@pytest.mark.parametrize("message, reason", [
    ('FAILED_PRECONDITION: Error reading "g.params.Dense_1.kernel/0.0" in OCDBT database at local file "/r/3/state/": '
     "Truncated Zstd-compressed stream; at byte 0",
     "cannot read array g.params.Dense_1.kernel: FAILED_PRECONDITION: Truncated Zstd-compressed stream"),
    ('NOT_FOUND: Error opening "zarr" driver: Error reading "d.opt_state.0.count/.zarray" in OCDBT database at local '
     'file "/r/6/state/": Error reading Byte range [0, 3596) of local file "/r/6/state/d/5b6e" [tensorstore_spec=...',
     "cannot read array d.opt_state.0.count: NOT_FOUND: a data file is missing or shorter than recorded"),
    ("disk on fire", "OSError: disk on fire"),
])
def test_the_warning_line_names_the_array_and_the_reason(message, reason):
    from jaxgan.run.checkpoint_noise import short_reason

    wrapped = RuntimeError("Encountered error while reading array index: (slice(0, 16, 1),). See full TensorStore")
    wrapped.__cause__ = (ValueError if "_" in message[:20] else OSError)(message)
    assert short_reason(wrapped) == reason
