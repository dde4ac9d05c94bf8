"""Issue 27.6: a full disk during a checkpoint save stops the run with one line naming the path; the last complete
checkpoint stays the one to resume from, and the rerun ends where a run that never failed ends."""

import errno
from pathlib import Path

import jax
import numpy as np
import pytest
from orbax.checkpoint._src.handlers import json_checkpoint_handler

from jaxgan import cli
from jaxgan.run.checkpoint import Checkpointer

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--config", str(ROOT / "experiments/configs/mlp_digits.py"), "--config.model.mlp.g_hidden=(8,)",
        "--config.model.mlp.d_hidden=(8,)", "--config.model.z_dim=4", "--config.data.image_size=8",
        "--config.train.batch_size=8", "--config.train.num_devices=1", "--config.train.num_steps=6",
        "--config.train.checkpoint_every=2", "--config.train.sample_every=1000", "--config.train.num_samples=4",
        "--config.train.progress=False"]


def fail_the_second_save(monkeypatch) -> None:
    """Make the second checkpoint's record write raise ENOSPC, as a full disk would (the first one writes)."""
    write = json_checkpoint_handler.JsonCheckpointHandler._save_fn
    calls = []

    async def full_disk(self, item, directory):
        calls.append(directory)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(directory / "metadata"))
        return await write(self, item, directory)

    monkeypatch.setattr(json_checkpoint_handler.JsonCheckpointHandler, "_save_fn", full_disk)


def train(workdir: Path, asynchronous: bool) -> int:
    return cli.main(["train", *TINY, "--workdir", str(workdir), f"--config.train.async_checkpoint={asynchronous}"])


def arrays(workdir: Path) -> tuple[list[int], dict]:
    with Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:
        steps = ckpt.all_steps()
        flat = {}
        for path, leaf in jax.tree_util.tree_leaves_with_path(ckpt.read_arrays(steps[-1])):
            flat[str(path)] = np.asarray(leaf)
        return steps, flat


@pytest.mark.parametrize("asynchronous", [True, False])
def test_a_full_disk_stops_the_run_and_the_rerun_resumes_from_the_last_complete_checkpoint(
        tmp_path, capsys, caplog, monkeypatch, asynchronous):
    workdir = tmp_path / "run"
    fail_the_second_save(monkeypatch)
    assert train(workdir, asynchronous) == 2
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert errors[0].startswith(f"error: could not save checkpoint 4 in {workdir / 'checkpoints'}: No space left")
    assert f"the last complete checkpoint, {workdir / 'checkpoints' / '2'}, is kept" in errors[0]
    assert arrays(workdir)[0] == [2]  # the failed save never counts

    monkeypatch.undo()  # space freed
    assert train(workdir, asynchronous) == 0
    assert "Resumed from the checkpoint of step 2" in caplog.text
    straight = tmp_path / "straight"
    assert train(straight, asynchronous) == 0
    (steps, resumed), (_, expected) = arrays(workdir), arrays(straight)
    assert steps[-1] == 6 and resumed.keys() == expected.keys()
    for path in expected:
        np.testing.assert_array_equal(resumed[path], expected[path], err_msg=path)
