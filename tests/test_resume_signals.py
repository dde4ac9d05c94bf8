"""Preemption with real processes and real signals: SIGTERM/SIGINT save and exit 0; kill -9 during a save loses
nothing but the steps since the last complete checkpoint."""

import json
import re
import signal
import sys
import time
from pathlib import Path

from child_process import Child

REPO = Path(__file__).resolve().parents[1]
TMP_MARK = ".orbax-checkpoint-tmp"


class Training:
    """`jaxgan train` on the 2-D ring with a tiny MLP, its output in a log file."""

    def __init__(self, workdir: Path, env: dict, num_steps: int = 10**6, checkpoint_every: int = 1000):
        self.workdir = workdir
        log = workdir.parent / f"{workdir.name}.{time.monotonic_ns()}.log"
        flags = dict(num_steps=num_steps, checkpoint_every=checkpoint_every, log_every=1, sample_every=10**6,
                     num_samples=16, batch_size=8, num_devices=1, progress=False)
        command = [sys.executable, "experiments/train.py", "--config", "experiments/configs/mlp_ring8.py",
                   "--workdir", str(workdir), "--config.model.mlp.g_hidden=(8,)", "--config.model.mlp.d_hidden=(8,)",
                   *[f"--config.train.{k}={v}" for k, v in flags.items()]]
        self.child = Child(command, log, cwd=REPO, env=env, watch=[workdir])
        self.process = self.child.process

    def output(self) -> str:
        return self.child.output()

    def wait_for(self, condition, what: str) -> None:
        """Wait until `condition` holds (an event: a file the run writes); fail if the child exits first."""
        self.child.wait_for(condition, what)

    def finish(self) -> int:
        """Wait for the child to exit and return its status."""
        return self.child.finish()


def logged_steps(workdir: Path) -> list[int]:
    path = workdir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines() if line.endswith("}")]


def step_dirs(workdir: Path) -> tuple[list[int], list[str]]:
    """(complete checkpoint steps, names of orbax's unfinished temporary step dirs)."""
    root = workdir / "checkpoints"
    names = [p.name for p in root.iterdir()] if root.exists() else []
    return sorted(int(n) for n in names if n.isdigit()), [n for n in names if TMP_MARK in n]


def test_sigterm_and_sigint_save_exit_zero_and_the_next_start_resumes(tmp_path, child_env):
    workdir = tmp_path / "run"
    run = Training(workdir, child_env)
    run.wait_for(lambda: logged_steps(workdir), "a first logged step")
    run.process.send_signal(signal.SIGTERM)
    assert run.finish() == 0
    stopped = int(re.search(r"Stopped by SIGTERM after step (\d+); saved", run.output()).group(1))
    assert step_dirs(workdir) == ([stopped], [])
    assert stopped >= max(logged_steps(workdir))

    rerun = Training(workdir, child_env)  # the same command
    rerun.wait_for(lambda: max(logged_steps(workdir), default=0) > stopped, "a step after the resume")
    assert f"Resumed from the checkpoint of step {stopped} " in rerun.output()
    rerun.process.send_signal(signal.SIGINT)
    assert rerun.finish() == 0
    again = int(re.search(r"Stopped by SIGINT after step (\d+); saved", rerun.output()).group(1))
    assert again > stopped
    assert step_dirs(workdir)[0][-1] == again


def test_kill_9_during_a_save_resumes_from_the_last_complete_checkpoint(tmp_path, child_env):
    workdir = tmp_path / "run"
    run = Training(workdir, child_env, checkpoint_every=1)  # a save after every step: one is nearly always running

    def saving_after_a_complete_one():
        complete, partial = step_dirs(workdir)
        return bool(complete and partial)

    run.wait_for(saving_after_a_complete_one, "a save in progress after a complete checkpoint")
    run.process.kill()  # SIGKILL: no handler, no cleanup
    run.finish()
    complete, _ = step_dirs(workdir)
    last = complete[-1]

    rerun = Training(workdir, child_env, num_steps=last + 2, checkpoint_every=1)
    assert rerun.finish() == 0, rerun.output()[-3000:]
    assert f"Resumed from the checkpoint of step {last} " in rerun.output()
    complete, partial = step_dirs(workdir)
    assert complete[-1] == last + 2 and not partial  # leftovers of the killed save are gone
