"""Issue 18, point 4: one trainer per workdir. A second one stops at once naming the holder; a lock left by a killed
process is taken over with a warning; each process of a multi-host run has its own lock; the lock goes on exit."""

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jaxgan.config import base_config
from jaxgan.errors import run_guarded
from jaxgan.run.train import train_and_evaluate
from jaxgan.run.workdir_lock import WorkdirLock, WorkdirLockedError

ROOT = Path(__file__).resolve().parents[1]
HOLD = ("import sys, time\nfrom jaxgan.run.workdir_lock import WorkdirLock\nWorkdirLock(sys.argv[1]).acquire()\n"
        "print('held', flush=True)\ntime.sleep(120)\n")


def tiny_config():
    c = base_config()
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (8,)
    c.model.z_dim = 4
    c.data.image_size = 8
    c.train.update(dict(batch_size=8, num_steps=2, progress=False, num_devices=1, num_samples=4))
    return c


@pytest.fixture
def holder(tmp_path):
    """Another process that holds the lock of tmp_path/run (as a second trainer would find it)."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(workdir)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout.readline().strip() == "held"
    yield workdir, child
    child.kill()
    child.wait()


def test_a_second_trainer_stops_at_once_naming_the_holder_then_takes_over_when_it_is_killed(holder, capsys, caplog):
    workdir, child = holder
    status = run_guarded(lambda argv: train_and_evaluate(tiny_config(), workdir), [])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2
    assert f"is in use by another trainer: pid {child.pid} on host {socket.gethostname()}" in last
    assert not (workdir / "checkpoints").exists() and not (workdir / "config.json").exists()

    child.send_signal(signal.SIGKILL)  # the holder dies without cleaning up: its lock file stays
    child.wait()
    assert (workdir / "lock.process0").exists()
    with caplog.at_level(logging.WARNING, logger="jaxgan.run.workdir_lock"):
        state = train_and_evaluate(tiny_config(), workdir)
    assert int(state.step) == 2
    assert f"Took over the stale lock {workdir / 'lock.process0'} of pid {child.pid}" in caplog.text
    assert not (workdir / "lock.process0").exists()  # released on return


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    config = tiny_config()
    config.data.name = "no_such_dataset"
    with pytest.raises(Exception):  # noqa: B017 - any error of the set-up
        train_and_evaluate(config, tmp_path)
    assert not (tmp_path / "lock.process0").exists()
    with WorkdirLock(tmp_path):  # and can be taken again by this process
        pass


def test_each_process_has_its_own_lock_and_a_held_one_refuses_another_holder(tmp_path):
    with WorkdirLock(tmp_path, 0), WorkdirLock(tmp_path, 1):
        assert (tmp_path / "lock.process0").exists() and (tmp_path / "lock.process1").exists()
        with pytest.raises(WorkdirLockedError, match=f"pid {os.getpid()} on host"):
            WorkdirLock(tmp_path, 1).acquire()
    assert not list(tmp_path.iterdir())
