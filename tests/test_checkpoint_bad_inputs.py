"""Issue 18, point 7: each bad input ends in one named `error: ...` line and exit status 2 (through `jaxgan ...`,
or the trainer under the CLI's own guard), or a warning naming the problem, before the first step."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxgan import cli
from jaxgan.config import base_config, validate
from jaxgan.errors import run_guarded
from jaxgan.run.train import train_and_evaluate

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(**overrides):
    c = base_config()
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (8,)
    c.model.z_dim = 4
    c.data.image_size = 8
    c.train.update(dict(batch_size=8, num_steps=2, progress=False, num_devices=1, num_samples=4,
                        sample_every=1000))
    for key, value in overrides.items():
        section, *rest = key.split(".")
        target = c[section]
        for part in rest[:-1]:
            target = target[part]
        target[rest[-1]] = value
    return c


def jaxgan(capsys, *argv) -> tuple[int, str]:
    """(exit status, last stderr line) of `jaxgan ARGV`."""
    status = cli.main([str(a) for a in argv])
    lines = capsys.readouterr().err.strip().splitlines()
    return status, lines[-1] if lines else ""


def train(capsys, workdir, **overrides) -> tuple[int, str]:
    """`train_and_evaluate` under the CLI's guard: (exit status, last stderr line)."""
    status = run_guarded(lambda argv: train_and_evaluate(tiny_config(**overrides), workdir), [])
    lines = capsys.readouterr().err.strip().splitlines()
    return status, lines[-1] if lines else ""


def test_a_workdir_that_is_a_file_through_the_command(tmp_path):
    (tmp_path / "w").write_text("x")
    done = subprocess.run([sys.executable, "-m", "jaxgan.cli", "train", "--config",
                           str(ROOT / "experiments/configs/mlp_digits.py"), "--workdir", str(tmp_path / "w")],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and last.startswith("error: --workdir") and "is a file, not a folder" in last
    assert "Traceback" not in done.stderr


def test_a_workdir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "w").write_text("x")
    status, line = train(capsys, tmp_path / "w")
    assert status == 2 and line.startswith("error: --workdir") and "is a file, not a folder" in line


def test_a_read_only_workdir(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes through any mode bits: use a folder no one can write to
        workdir = Path("/proc/self")
    else:
        workdir = tmp_path / "ro"
        workdir.mkdir()
        workdir.chmod(0o555)
    status, line = train(capsys, workdir)
    assert status == 2 and "is not writable" in line and str(workdir) in line


@pytest.mark.parametrize("key, value, words", [
    ("optim.g.b1", 5.0, "optim.g.b1 must be in [0, 1)"),
    ("optim.d.b2", 1.0, "optim.d.b2 must be in [0, 1)"),
    ("optim.g.warmup_steps", -10, "optim.g.warmup_steps must be >= 0"),
    ("optim.g.lr", 0.0, "optim.g.lr must be > 0"),
])
def test_bad_optimizer_values_are_refused_before_training(tmp_path, capsys, key, value, words):
    status, line = train(capsys, tmp_path / "w", **{key: value})
    assert status == 2 and line.startswith("error: ") and words in line
    assert not (tmp_path / "w" / "checkpoints").exists()


def test_a_huge_learning_rate_warns(caplog):
    config = base_config()
    config.optim.g.lr = 1e3
    with caplog.at_level(logging.WARNING, logger="jaxgan.config"):
        validate(config)
    assert "optim.g.lr=1000 is far above the usual GAN rates" in caplog.text


def test_resuming_with_num_steps_below_the_checkpoint_is_refused_and_rewrites_nothing(tmp_path, capsys):
    workdir = tmp_path / "w"
    assert train(capsys, workdir, **{"train.num_steps": 4, "train.checkpoint_every": 4})[0] == 0
    before = (workdir / "config.json").read_text()
    status, line = train(capsys, workdir, **{"train.num_steps": 2})
    assert status == 2 and "is at step 4, past train.num_steps=2" in line and "num_steps=4 or more" in line
    assert (workdir / "config.json").read_text() == before  # nothing rewritten
    assert json.loads(before)["train"]["num_steps"] == 4


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sample_src")
    train_and_evaluate(tiny_config(), workdir)
    return workdir


@pytest.mark.parametrize("flags, words", [
    (["--grid", "0"], "--grid must be >= 1, got 0"),
    (["--num-samples", "0"], "--num-samples must be >= 1, got 0"),
    (["--truncation", "0"], "--truncation must be > 0 (a bound on |z_i|), got 0.0"),
])
def test_sample_refuses_bad_counts(trained_run, tmp_path, capsys, flags, words):
    status, line = jaxgan(capsys, "sample", "--workdir", trained_run, "--out", tmp_path / "out", *flags)
    assert status == 2 and line == f"error: {words}."
    assert not (tmp_path / "out").exists()


def test_sample_refuses_an_out_that_is_a_file(trained_run, tmp_path, capsys):
    (tmp_path / "out.png").write_bytes(b"x")
    status, line = jaxgan(capsys, "sample", "--workdir", trained_run, "--out", tmp_path / "out.png")
    assert status == 2 and "--out" in line and "is a file; pass a folder" in line


@pytest.mark.parametrize("flags, words", [
    (["--steps", "0"], "--steps must be >= 1, got 0"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--widths", "16,x"], "--widths must be positive integers"),
])
def test_train_classifier_refuses_bad_values(tmp_path, capsys, flags, words):
    status, line = jaxgan(capsys, "train-classifier", "--out", tmp_path / "c.npz", *flags)
    assert status == 2 and words in line
    assert not (tmp_path / "c.npz").exists()
