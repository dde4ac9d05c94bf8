"""One trainer per workdir: a lock file per process (`<workdir>/lock.process<i>`) naming its holder.

The lock is an exclusive `flock` on that file, so the kernel releases it when the holder dies, even by kill -9; the
file also records the holder's host and pid, which a second trainer names in its error. A file left by a dead
process on this host is a stale lock: it is taken over with a warning. Where flock is not supported (some network
file systems), the recorded pid decides: alive on this host means locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from jaxgan.errors import JaxganError

log = logging.getLogger(__name__)


class WorkdirError(JaxganError):
    """The workdir cannot be used: it is a file, or it is not writable."""


class WorkdirLockedError(JaxganError):
    """Another trainer holds this workdir."""


def prepare_workdir(workdir: Path) -> Path:
    """Create `workdir` if needed; WorkdirError (one line, with the fix) when it is a file or not writable."""
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise WorkdirError(f"--workdir {workdir} is a file, not a folder; pass a folder (it is created if missing).")
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WorkdirError(f"cannot create --workdir {workdir}: {error.strerror}; pass a folder you can write to."
                           ) from error
    if not os.access(workdir, os.W_OK | os.X_OK):
        raise WorkdirError(f"--workdir {workdir} is not writable; fix its permissions or pass another folder.")
    return workdir


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(holder: dict) -> str:
    return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} (since {holder.get('since', '?')})"


def _locked_error(workdir: Path, path: Path, holder: dict) -> WorkdirLockedError:
    return WorkdirLockedError(
        f"--workdir {workdir} is in use by another trainer: {_describe(holder)}, lock file {path}. Stop that run "
        "first, or train in another --workdir.")


class WorkdirLock:
    """Holds `<workdir>/lock.process<process_index>` from `acquire` to `release` (also usable as a context manager)."""

    def __init__(self, workdir: Path, process_index: int = 0):
        self.workdir = Path(workdir)
        self.path = self.workdir / f"lock.process{process_index}"
        self._fd: int | None = None

    def acquire(self) -> WorkdirLock:
        """Take the lock, or raise WorkdirLockedError naming the holder; a stale lock is taken over with a warning."""
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        self._fd = _acquire(self.workdir, self.path, me)
        return self

    def release(self) -> None:
        """Delete the lock file (while still holding it, so nobody locks a file about to vanish) and unlock."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _acquire(workdir: Path, path: Path, me: dict) -> int:
    """Open, flock and stamp the lock file; returns its descriptor (kept open while the lock is held)."""
    for _ in range(10):  # a holder releasing at this moment unlinks the file: open again
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise WorkdirError(f"--workdir {workdir} is not writable ({error.strerror} creating {path.name}); fix "
                               "its permissions or pass another folder.") from error
        previous = _read_holder(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _locked_error(workdir, path, previous) from None
        except OSError:  # no flock here: decide by the recorded pid
            if previous and previous.get("host") == me["host"] and _pid_alive(int(previous.get("pid", -1))) \
                    and previous.get("pid") != me["pid"]:
                os.close(fd)
                raise _locked_error(workdir, path, previous) from None
        if not _same_file(fd, path):
            os.close(fd)
            continue
        if previous.get("pid") not in (None, me["pid"]) or previous.get("host") not in (None, me["host"]):
            log.warning("Took over the stale lock %s of %s: that process is gone.", path, _describe(previous))
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(me).encode())
        os.fsync(fd)
        return fd
    raise WorkdirLockedError(f"could not lock {path}: it keeps being replaced; is another trainer starting there?")


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file behind `fd` (the previous holder may have unlinked it meanwhile)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
