"""Keep a failed orbax read or save quiet: one short reason for the terminal, everything else in the run's log file.

A failed TensorStore read inside orbax prints TensorStore spec dumps, tracebacks from callbacks on orbax's closed
event loop, unraisable-coroutine reports and unretrieved asyncio task errors, some of them after the read returned.
`quiet_reads` sends all of it to the log file; `short_reason` says in a few words what went wrong. A failed save
(a full disk) is reported by orbax's background threads as tracebacks at ERROR level; `quiet_failed_saves` sends those
to the log file too, and the save itself raises one `CheckpointWriteError`.
"""

from __future__ import annotations

import gc
import io
import logging
import re
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("jaxgan.run.checkpoint")

_NOISY_LOGGERS = ("absl", "asyncio", "jax._src.distributed")  # orbax/TensorStore chatter during a failed read


def quiet_orbax_notices() -> None:
    """Keep orbax's absl notices (`WARNING:absl:Given directory is read only`) off the terminal of a tool that only
    reads checkpoints: both absl's own verbosity and the Python logger it writes through."""
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def log_details(log_path: Path | None, header: str, error: BaseException) -> None:
    """The whole error with its traceback, in the log file (debug level when there is none)."""
    text = "".join(traceback.format_exception(error))
    if log_path is None:
        log.debug("%s\n%s", header, text)
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as out:
        out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {header}\n{text}\n")


@contextmanager
def quiet_reads(log_path: Path | None) -> Iterator[None]:
    """Send what orbax, absl, asyncio and TensorStore print during a read to `log_path`, not the terminal.

    sys.stderr and the unraisable hook are redirected while reading, and garbage is collected before they are
    restored, so the failed read's coroutines report here; later stragglers go through `_LateReadNoise`.
    """
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    _LateReadNoise.install(log_path)
    sink = open(log_path, "a") if log_path is not None else io.StringIO()  # noqa: SIM115
    handler = logging.StreamHandler(sink)
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    saved = [(lg.handlers[:], lg.propagate) for lg in loggers]
    previous = sys.stderr, sys.unraisablehook
    for lg in loggers:
        lg.handlers, lg.propagate = [handler], False
    sys.stderr = sink
    sys.unraisablehook = lambda unraisable: print(f"unraisable in {unraisable.object!r}: "
                                                  f"{unraisable.exc_value!r}", file=sink)
    try:
        yield
    finally:
        gc.collect()
        sys.stderr, sys.unraisablehook = previous
        for lg, (handlers, propagate) in zip(loggers, saved, strict=True):
            lg.handlers, lg.propagate = handlers, propagate
        sink.close()


class _LateReadNoise(logging.Filter):
    """Route what a failed orbax read reports after it returned (unraisable coroutines, unretrieved asyncio task
    errors, garbage-collected later) to the checkpoint log instead of the terminal; other reports pass through."""

    _MARKS = ("Encountered error while reading array", "_read_array_index", "async_deserialize", "Event loop is closed")
    log_path: Path | None = None
    _installed = False

    @classmethod
    def install(cls, log_path: Path | None) -> None:
        cls.log_path = log_path
        if cls._installed:
            return
        cls._installed = True
        original = sys.unraisablehook

        def hook(unraisable: Any) -> None:
            text = f"{unraisable.object!r} {unraisable.exc_value!r}"
            if any(mark in text for mark in cls._MARKS):
                cls._write(f"unraisable in {unraisable.object!r}: {unraisable.exc_value!r}")
            else:
                original(unraisable)

        sys.unraisablehook = hook
        logging.getLogger("asyncio").addFilter(cls())

    @classmethod
    def _write(cls, text: str) -> None:
        if cls.log_path is None:
            log.debug("%s", text)
            return
        with open(cls.log_path, "a") as out:
            out.write(text + "\n")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage() + (repr(record.exc_info[1]) if record.exc_info else "")
        if any(mark in text for mark in self._MARKS):
            self._write(text)
            return False
        return True


class _SaveNoise(logging.Filter):
    """Route the ERROR reports of orbax's save threads (tracebacks of a failed write) to the checkpoint log."""

    log_path: Path | None = None
    _installed = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or "orbax" not in record.pathname:
            return True
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        if self.log_path is None:
            log.debug("orbax: %s", text)
            return False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as out:
            out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} orbax: {text}\n")
        return False


def quiet_failed_saves(log_path: Path | None) -> None:
    """From now on, orbax's ERROR-level reports (a failed background save) go to `log_path`, not the terminal."""
    _SaveNoise.log_path = log_path
    if not _SaveNoise._installed:
        _SaveNoise._installed = True
        logging.getLogger("absl").addFilter(_SaveNoise())


_TENSORSTORE_CODE = re.compile(r"\b([A-Z][A-Z_]{3,}): ")  # NOT_FOUND, FAILED_PRECONDITION, DATA_LOSS, ...
_TENSORSTORE_ARRAY = re.compile(r'Error reading "([^"/]+)[^"]*"[^:]*: ([^;\[\n]*)')


def short_reason(error: BaseException) -> str:
    """Why a read failed, in a few words: the array, TensorStore's status code and reason when the chain names them,
    else the innermost cause."""
    seen: BaseException | None = error
    root = error
    while seen is not None:
        root, text = seen, str(seen)
        array = _TENSORSTORE_ARRAY.search(text)
        if array:
            code = _TENSORSTORE_CODE.search(text)
            detail = array[2].strip()
            if detail.startswith("Error reading Byte range"):
                detail = "a data file is missing or shorter than recorded"
            return f"cannot read array {array[1]}: {code[1] + ': ' if code else ''}{detail[:100]}"
        seen = seen.__cause__ or seen.__context__
    first = " ".join(str(root).split())[:120]  # the innermost cause says most
    return f"{type(root).__name__}: {first}"
