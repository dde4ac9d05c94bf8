"""Wait on child processes by events (exit, a file they write), not by a wall-clock deadline.

A test waits until its condition holds or a child exits; it fails at once when a child exits too early or with an
error. The only clock is a hang guard: it trips after `HANG_GUARD_S` seconds in which no child wrote any output and
no watched file changed, so a slow machine that is still working never trips it. `JAXGAN_TEST_HANG_GUARD_S` sets it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

HANG_GUARD_S = float(os.environ.get("JAXGAN_TEST_HANG_GUARD_S", "900"))
POLL_S = 0.005  # how often a condition is checked (fast, to catch short-lived states such as a save in progress)
ACTIVITY_POLL_S = 0.5  # how often the children's output and watched files are checked for progress


class Child:
    """A subprocess whose stdout and stderr go to `<log>.out` and `<log>.err`."""

    def __init__(self, command: Sequence[str], log: Path, *, cwd: Path, env: dict | None = None,
                 watch: Sequence[Path] = ()):
        self.out_path, self.err_path = Path(f"{log}.out"), Path(f"{log}.err")
        self.watch = tuple(watch)
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=out, stderr=err)

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def output(self) -> str:
        return self.stdout + self.stderr

    def activity(self) -> tuple:
        """What changes while the child works: its log sizes and the watched trees' (path, size, mtime)."""
        stamps = []
        for path in _tree_paths(self.watch):
            try:
                stat = os.stat(path)
            except FileNotFoundError:  # removed while listing (e.g. a temporary checkpoint dir)
                continue
            stamps.append((path, stat.st_size, stat.st_mtime_ns))
        return (self.out_path.stat().st_size, self.err_path.stat().st_size, tuple(sorted(stamps)))

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Wait until `condition()` holds; fail if the child exits first or goes silent for HANG_GUARD_S."""
        wait_all([self], condition, what, fail_on="exit")

    def finish(self) -> int:
        """Wait for the child to exit (any status) and return its exit status."""
        wait_all([self], lambda: self.returncode is not None, "the process to exit", fail_on="nothing")
        return self.process.returncode


def _tree_paths(roots: Sequence[Path]) -> list[str]:
    """Every path under `roots`; a directory renamed or removed mid-walk (orbax's temporary dirs) is skipped, not an
    error, because `os.walk` ignores the scandir errors that `Path.rglob` raises."""
    paths = []
    for root in roots:
        for directory, _, files in os.walk(root):  # each directory comes once, as its own entry
            paths.append(directory)
            paths.extend(os.path.join(directory, name) for name in files)
    return paths


def wait_all(children: Sequence[Child], condition: Callable[[], bool], what: str, *, fail_on: str) -> None:
    """Wait until `condition()` holds. Fail, killing every child, when one exits first (`fail_on="exit"`), exits with
    an error (`"error"`; `"nothing"`: no exit fails), or when none shows progress for HANG_GUARD_S seconds."""
    failed_exit = {"exit": lambda c: c.returncode is not None, "error": lambda c: c.returncode not in (None, 0),
                   "nothing": lambda c: False}[fail_on]
    activity, quiet_since, checked = None, time.monotonic(), 0.0
    while not condition():
        exited = [c for c in children if failed_exit(c)]
        now = time.monotonic()
        if now - checked >= ACTIVITY_POLL_S:
            checked, current = now, tuple(c.activity() for c in children)
            if current != activity:
                activity, quiet_since = current, now
        hung = now - quiet_since > HANG_GUARD_S
        if (exited or hung) and not condition():  # the condition may have come true with the exit
            for c in children:
                c.process.kill()
                c.process.wait()
            reason = (f"a process exited with status {exited[0].returncode}" if exited
                      else f"no output for {HANG_GUARD_S:.0f} s (a hang)")
            pytest.fail(f"never saw {what}: {reason}:\n" + "\n---\n".join(c.output()[-3000:] for c in children))
        time.sleep(POLL_S)


def run_to_exit(command: Sequence[str], log: Path, *, cwd: Path, env: dict | None = None,
                watch: Sequence[Path] = ()) -> Child:
    """Run `command` until it exits (whatever its status) and return the finished Child."""
    child = Child(command, log, cwd=cwd, env=env, watch=watch)
    child.finish()
    return child
