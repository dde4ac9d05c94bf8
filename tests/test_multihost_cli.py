"""Issue 27.4: `jaxgan train` joins a multi-process job from its flags. Two CLI processes on the CPU (gloo, 1 device
each) train as one job, equal to one process with the same global batch on 2 devices; when one is killed, the other
stops with one named line, and rerunning both resumes bit-exact from the last complete checkpoint."""

import socket
import sys
from pathlib import Path

import numpy as np
from child_process import Child, run_to_exit, wait_all

from jaxgan.run.checkpoint import Checkpointer

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--config", "experiments/configs/mlp_digits.py", "--config.model.mlp.g_hidden=(16,)",
        "--config.model.mlp.d_hidden=(16,)", "--config.model.z_dim=8", "--config.data.image_size=8",
        "--config.train.batch_size=16", "--config.train.log_every=1", "--config.train.sample_every=1000000",
        "--config.train.num_samples=4", "--config.train.progress=False", "--config.train.checkpoint_every=1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def command(workdir: Path, num_steps: int, *flags: str) -> list[str]:
    return [sys.executable, "-m", "jaxgan.cli", "train", *TINY, "--workdir", str(workdir),
            f"--config.train.num_steps={num_steps}", *flags]


def device_env(env: dict, devices: int) -> dict:
    return {**env, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}


def start_job(workdir: Path, num_steps: int, env: dict, log: str) -> list[Child]:
    """Both processes of a 2-process job (1 CPU device each), joined through --config.parallel.* flags."""
    port = free_port()
    job = ["--config.parallel.distributed=explicit", f"--config.parallel.coordinator=localhost:{port}",
           "--config.parallel.num_processes=2", "--config.parallel.heartbeat_timeout_s=15"]
    return [Child(command(workdir, num_steps, *job, f"--config.parallel.process_id={i}"),
                  workdir.parent / f"{log}_{i}", cwd=ROOT, env=device_env(env, 1), watch=[workdir])
            for i in range(2)]


def finish_job(processes: list[Child]) -> None:
    wait_all(processes, lambda: all(p.returncode is not None for p in processes), "the job's exit", fail_on="error")


def final_arrays(workdir: Path, step: int) -> dict:
    with Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:
        assert ckpt.latest_step() == step
        return ckpt.read_arrays(step)


def assert_same_state(got: dict, want: dict) -> None:
    flat_got, flat_want = (dict(_flat(tree)) for tree in (got, want))
    assert flat_got.keys() == flat_want.keys()
    for path in flat_want:
        np.testing.assert_array_equal(flat_got[path], flat_want[path], err_msg=path)


def _flat(tree, prefix=""):
    if isinstance(tree, dict | list | tuple):
        items = tree.items() if isinstance(tree, dict) else enumerate(tree)
        for key, value in items:
            yield from _flat(value, f"{prefix}.{key}")
    else:
        yield prefix, np.asarray(tree)


def one_process(tmp_path: Path, num_steps: int, env: dict) -> dict:
    """The reference: the same global batch in one process on 2 devices."""
    workdir = tmp_path / "single"
    single = run_to_exit(command(workdir, num_steps), tmp_path / "single", cwd=ROOT, env=device_env(env, 2),
                         watch=[workdir])
    assert single.returncode == 0, single.output()[-3000:]
    return final_arrays(workdir, num_steps)


def test_two_cli_processes_train_as_one_process(tmp_path, child_env):
    workdir = tmp_path / "job"
    job = start_job(workdir, 4, child_env, "job")
    finish_job(job)
    assert '"process_count": 2' in (workdir / "run_info.json").read_text()
    # Bit-exact: the same SPMD program over 2 devices, its one all-reduce of 2 partial sums in- or cross-process.
    assert_same_state(final_arrays(workdir, 4), one_process(tmp_path, 4, child_env))


def test_killed_process_stops_the_job_and_a_rerun_resumes_exactly(tmp_path, child_env):
    workdir = tmp_path / "job"
    first, second = start_job(workdir, 10**6, child_env, "killed")
    complete = lambda: [int(p.name) for p in (workdir / "checkpoints").glob("*") if p.name.isdigit()]
    wait_all([first, second], lambda: (workdir / "checkpoints").exists() and bool(complete()),
             "the first checkpoint", fail_on="exit")
    second.process.kill()  # SIGKILL: no clean-up, its collectives and heartbeats just stop
    assert first.finish() == 2, first.output()[-3000:]
    errors = [line for line in first.stderr.splitlines() if line.startswith("error:")]
    assert errors == [first.stderr.strip().splitlines()[-1]]
    assert errors[0].startswith("error: job member lost: process 1 of this 2-process job")
    assert "Traceback" not in first.stderr

    resume_from = max(complete())
    end = resume_from + 3
    rerun = start_job(workdir, end, child_env, "rerun")
    finish_job(rerun)
    assert f"Resumed from the checkpoint of step {resume_from}" in rerun[0].output()
    assert_same_state(final_arrays(workdir, end), one_process(tmp_path, end, child_env))
