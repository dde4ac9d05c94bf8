"""The event-based waiting of the subprocess tests: progress keeps a slow child alive, silence or an early exit
fails at once with the child's output."""

import os
import shutil
import sys
from pathlib import Path

import child_process
import pytest
from child_process import Child, run_to_exit


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_slow_child_that_keeps_writing_outlives_the_hang_guard(tmp_path, monkeypatch):
    monkeypatch.setattr(child_process, "HANG_GUARD_S", 1.0)
    monkeypatch.setattr(child_process, "ACTIVITY_POLL_S", 0.05)
    done = tmp_path / "done"
    code = (f"import time, pathlib\nfor i in range(8):\n    print(i, flush=True); time.sleep(0.4)\n"
            f"pathlib.Path({str(done)!r}).touch()")
    child = Child(python(code), tmp_path / "slow", cwd=tmp_path)
    child.wait_for(done.exists, "the done file")  # 3.2 s of work, more than 3x the guard, but never 1 s silent
    assert child.finish() == 0 and child.stdout.split() == [str(i) for i in range(8)]


def test_a_silent_child_trips_the_hang_guard_and_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(child_process, "HANG_GUARD_S", 1.0)
    child = Child(python("print('started', flush=True); import time; time.sleep(600)"), tmp_path / "hang", cwd=tmp_path)
    with pytest.raises(pytest.fail.Exception, match="(?s)no output for 1 s.*started"):
        child.wait_for(lambda: False, "anything")
    assert child.returncode is not None  # killed, not left running


def test_a_child_that_exits_before_the_event_fails_with_its_status_and_output(tmp_path, monkeypatch):
    monkeypatch.setattr(child_process, "HANG_GUARD_S", 5.0)  # were the exit missed, fail on silence, not hang
    child = Child(python("import sys; print('bad config', file=sys.stderr); sys.exit(3)"), tmp_path / "early",
                  cwd=tmp_path)
    with pytest.raises(pytest.fail.Exception, match="(?s)status 3.*bad config"):
        child.wait_for(lambda: (tmp_path / "never").exists(), "a file the child never writes")
    finished = run_to_exit(python("import sys; sys.exit(2)"), tmp_path / "exit", cwd=tmp_path)
    assert finished.returncode == 2  # run_to_exit returns whatever the status; the test asserts on it


def test_activity_skips_a_directory_removed_mid_walk(tmp_path, monkeypatch):
    """Orbax renames its temporary checkpoint dirs while a test polls: a dir listed but gone when scanned is skipped."""
    (tmp_path / "ckpt" / "tmp" / "d").mkdir(parents=True)
    (tmp_path / "ckpt" / "kept.txt").write_text("x")
    real_scandir = os.scandir

    def scandir_that_loses_tmp(path="."):
        if not isinstance(path, int) and os.path.basename(os.fspath(path)) == "tmp":
            shutil.rmtree(path)  # the rename happens between the parent's listing and this scan
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir_that_loses_tmp)
    child = Child([sys.executable, "-c", "pass"], tmp_path / "log", cwd=tmp_path, watch=[tmp_path / "ckpt"])
    child.finish()
    paths = [stamp[0] for stamp in child.activity()[2]]
    assert str(tmp_path / "ckpt" / "kept.txt") in paths
    assert not any("tmp" in Path(p).relative_to(tmp_path).parts for p in paths)
