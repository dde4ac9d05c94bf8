"""Issue 27.6 and 27.4's keys: a platform or device count that is not there, and a multi-process job described
wrongly, end in one `error:` line naming the fix, exit status 2, and nothing written in the workdir."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jaxgan import cli
from jaxgan.config import base_config
from jaxgan.run.distributed import initialize_arguments

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--config", str(ROOT / "experiments/configs/mlp_digits.py"), "--config.train.num_steps=2",
        "--config.train.progress=False"]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def one_error_line(stderr: str) -> str:
    """The stderr of a refused run: exactly one line, an `error:` line (no traceback, no log noise)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize("platform, fix", [("cuda", 'pip install "jax[cuda12]"'), ("tpu", 'pip install "jax[tpu]"')])
def test_a_platform_that_is_not_there_is_one_line_and_writes_nothing(tmp_path, child_env, platform, fix):
    workdir = tmp_path / "run"
    env = {**child_env, "JAX_PLATFORMS": platform}
    done = subprocess.run([sys.executable, "-m", "jaxgan.cli", "train", *TINY, "--workdir", str(workdir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-3000:]
    line = one_error_line(done.stderr)
    assert f"JAX_PLATFORMS={platform} asks for {platform}" in line and fix in line and "unset JAX_PLATFORMS" in line
    assert not workdir.exists()


def test_more_devices_than_there_are_is_one_line_and_writes_nothing(tmp_path, capsys):
    workdir = tmp_path / "run"
    status = cli.main(["train", *TINY, "--workdir", str(workdir), "--config.train.num_devices=9"])
    assert status == 2
    line = one_error_line(capsys.readouterr().err)
    assert "train.num_devices=9, but only 8 cpu devices" in line
    assert not workdir.exists()


@pytest.mark.parametrize("flags, words", [
    (["--config.parallel.distributed=explicit"], "parallel.coordinator=HOST:PORT"),
    (["--config.parallel.distributed=explicit", "--config.parallel.coordinator=localhost:1234"],
     "parallel.num_processes >= 1"),
    (["--config.parallel.distributed=explicit", "--config.parallel.coordinator=localhost:1234",
      "--config.parallel.num_processes=2", "--config.parallel.process_id=2"], "parallel.process_id must be in 0..1"),
    (["--config.parallel.distributed=pod"], "Unknown parallel.distributed 'pod'"),
    (["--config.parallel.distributed=explicit", f"--config.parallel.coordinator=localhost:{closed_port()}",
      "--config.parallel.num_processes=2", "--config.parallel.process_id=1",
      "--config.parallel.initialization_timeout_s=1"], "cannot reach the coordinator parallel.coordinator=localhost:"),
])
def test_a_job_described_wrongly_is_one_line_before_joining(tmp_path, capsys, flags, words):
    workdir = tmp_path / "run"
    status = cli.main(["train", *TINY, "--workdir", str(workdir), *flags])
    assert status == 2
    assert words in one_error_line(capsys.readouterr().err)
    assert not workdir.exists()


def test_the_modes_pass_what_jax_distributed_initialize_needs():
    parallel = base_config().parallel
    assert initialize_arguments(parallel) is None  # off: one process, jax.distributed is not called
    parallel.distributed = "auto"
    auto = initialize_arguments(parallel)
    assert not {"coordinator_address", "num_processes", "process_id"} & auto.keys()  # jax detects the cluster
    parallel.update(distributed="explicit", coordinator="10.0.0.1:1234", num_processes=4, process_id=3,
                    heartbeat_timeout_s=7)
    explicit = initialize_arguments(parallel)
    assert (explicit["coordinator_address"], explicit["num_processes"], explicit["process_id"]) == \
        ("10.0.0.1:1234", 4, 3)
    backstop = explicit["heartbeat_timeout_seconds"]
    assert backstop == 14  # jax's own heartbeat: the backstop of ours, at twice
