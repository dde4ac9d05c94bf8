"""A run you can follow: plain status lines on the terminal, the same lines and every library's log in workdir/log.txt.

While a run is open on process 0, the `jaxgan` loggers print their INFO lines as plain text (warnings as
`warning: ...`), and the python/absl logging of other libraries (absl, orbax, grain, tensorboardX) goes to log.txt
instead of the terminal. log.txt is appended to on resume and holds a start banner (config file, devices, batch,
parameter counts, data), every terminal line (evaluations, status lines when the progress bar is off, warnings)
and an end summary (steps, wall time, images/s, best evaluation). Other processes print and write nothing here.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
from tqdm.auto import tqdm

LOG_FILE = "log.txt"
OUR_LOGGER = "jaxgan"
log = logging.getLogger(__name__)


class TerminalHandler(logging.Handler):
    """Writes jaxgan's records as plain lines: INFO on stdout, warnings as `warning: ...` on stderr, above the bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.levelno >= logging.WARNING:
                tqdm.write(f"{record.levelname.lower()}: {text}", file=sys.stderr)
            else:
                tqdm.write(text, file=sys.stdout)
        except Exception:  # noqa: BLE001 - logging must never stop the run
            self.handleError(record)


class FileFormatter(logging.Formatter):
    """`TIME message` for jaxgan's lines (as the terminal shows them), `TIME LEVEL logger: message` for others'."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if record.name == OUR_LOGGER or record.name.startswith(OUR_LOGGER + "."):
            prefix = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
            return f"{stamp} {prefix}{message}"
        return f"{stamp} {record.levelname} {record.name}: {message}"


def is_terminal_handler(handler: logging.Handler) -> bool:
    """Whether a root handler prints to the terminal: logging.basicConfig's stream handler or absl's handler."""
    from absl import logging as absl_logging

    return type(handler) is logging.StreamHandler or isinstance(handler, absl_logging.ABSLHandler)


class _Block(logging.Filter):
    """Lets nothing through: hides the other libraries' terminal output while a run is open."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


class RunLog:
    """The run's log (a context manager): routes logging while open and writes the banner, lines and summary."""

    def __init__(self, workdir: str | Path, enabled: bool = True):
        self.path = Path(workdir) / LOG_FILE
        self.enabled = enabled
        self.started = time.perf_counter()
        self.evaluations: list[tuple[int, dict[str, float]]] = []
        self._file: logging.Handler | None = None
        self._terminal: logging.Handler | None = None
        self._blocked: list[logging.Handler] = []
        self._block = _Block()
        self._our_level = logging.NOTSET

    def __enter__(self) -> RunLog:
        if self.enabled:
            self._open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.enabled:
            if exc is not None:  # the CLI prints the error line; the log keeps it too
                self._to_file_only(f"The run stopped with {exc_type.__name__}: {' '.join(str(exc).split())}")
            self._close()

    def _open(self) -> None:
        root, ours = logging.getLogger(), logging.getLogger(OUR_LOGGER)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = logging.FileHandler(self.path, mode="a", encoding="utf-8")
        self._file.setFormatter(FileFormatter())
        self._blocked = [h for h in root.handlers if is_terminal_handler(h)]
        for handler in self._blocked:
            handler.addFilter(self._block)
        root.addHandler(self._file)
        self._terminal = TerminalHandler()
        self._terminal.addFilter(lambda record: not getattr(record, "file_only", False))
        ours.addHandler(self._terminal)
        self._our_level = ours.level
        ours.setLevel(logging.INFO)

    def _close(self) -> None:
        root, ours = logging.getLogger(), logging.getLogger(OUR_LOGGER)
        ours.removeHandler(self._terminal)
        ours.setLevel(self._our_level)
        root.removeHandler(self._file)
        self._file.close()
        for handler in self._blocked:
            handler.removeFilter(self._block)
        self._blocked = []

    def _to_file_only(self, message: str) -> None:
        log.info("%s", message, extra={"file_only": True})

    def banner(self, lines: list[str]) -> None:
        """Open this session in log.txt with the start banner (also printed)."""
        if self.enabled:
            self._to_file_only("=" * 20 + " run started " + "=" * 20)
            for line in lines:
                log.info("%s", line)

    def evaluated(self, step: int, values: Mapping[str, float]) -> None:
        """Print one line of the evaluation at `step` and keep it for the summary's best score (none when empty)."""
        if not values:
            return
        self.evaluations.append((step, dict(values)))
        if self.enabled:
            log.info("%s", eval_line(step, values))

    def status(self, step: int, total: int, postfix: Mapping[str, float]) -> None:
        """Print one status line (the progress bar's numbers, for runs without the bar)."""
        if self.enabled:
            log.info("%s", status_line(step, total, postfix))

    def summary(self, start_step: int, end_step: int, images_per_step: int, best_metric: str = "",
                best_mode: str = "min") -> None:
        """Print and log the end summary: steps, wall time, images/s and the best evaluation."""
        if not self.enabled:
            return
        wall = time.perf_counter() - self.started
        steps = end_step - start_step
        line = (f"Done: steps {start_step} -> {end_step} ({steps} this session) in {format_seconds(wall)}, "
                f"{steps * images_per_step / max(wall, 1e-9):.1f} images/s.")
        best = best_evaluation(self.evaluations, best_metric, best_mode)
        if best is not None:
            name, value, step = best
            line += f" Best {name} = {value:.6g} at step {step}."
        log.info("%s", line)


class StatusLines:
    """The progress bar's stand-in when train.progress is False: a status line each time the metrics are written."""

    def __init__(self, run_log: RunLog, total: int, initial: int):
        self._run_log, self._total, self._step = run_log, total, initial

    def update(self, steps: int, postfix: dict[str, float] | None = None) -> None:
        self._step += steps
        self._run_log.status(self._step, self._total, postfix or {})

    def close(self) -> None:
        pass


def format_number(value: float) -> str:
    """A metric as the log shows it: 4 significant digits, integers as integers."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


def eval_line(step: int, values: Mapping[str, float]) -> str:
    """`eval step 1000: fid 12.3  is_mean 5.6`: one compact line per evaluation."""
    parts = "  ".join(f"{k.removeprefix('eval/')} {format_number(v)}" for k, v in values.items())
    return f"eval step {step}: {parts}"


def status_line(step: int, total: int, postfix: Mapping[str, float]) -> str:
    """`step 500/10000  D 1.23  G 0.87  img/s 4512`."""
    parts = "  ".join(f"{k} {format_number(v)}" for k, v in postfix.items())
    return f"step {step}/{total}  {parts}"


def format_seconds(seconds: float) -> str:
    """`1 h 02 min 03 s`, `2 min 03 s` or `4.2 s`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def best_evaluation(evaluations: list[tuple[int, dict[str, float]]], metric: str = "", mode: str = "min"
                    ) -> tuple[str, float, int] | None:
    """(name, value, step) of the best evaluation: by `metric` and `mode` when set, else by the first eval value
    (in the direction its registered metric declares; lower is better for the rest, e.g. L1); None before any."""
    from jaxgan.metrics.registry import key_direction

    if not evaluations:
        return None
    if not metric:
        metric = next(iter(evaluations[0][1]))
        mode = "max" if key_direction(metric.removeprefix("eval/")) == "max" else "min"
    scored = [(values[metric], step) for step, values in evaluations if math.isfinite(values.get(metric, math.nan))]
    if not scored:
        return None
    value, step = max(scored, key=lambda vs: (vs[0], -vs[1])) if mode == "max" else min(scored)
    return metric, value, step  # the earliest step on a tie


def param_counts(state: Any) -> dict[str, int]:
    """Parameters per network of a train state, by the networks' names (G and D of a GAN, g_ab, d_b, ... of
    translation)."""
    from jaxgan.engine.state import param_count

    return {name: param_count(net.params) for name, net in state.nets.items()}


def describe_data(task: Any) -> str:
    """The task's dataset and its size."""
    data = getattr(task, "dataset", None) or getattr(task, "data", None)
    if data is None:
        return "unknown"
    if hasattr(data, "sizes"):  # a translation dataset: two domains
        a, b = data.sizes
        return f"{data.name}: {a:,} A and {b:,} B images"
    size = getattr(data, "num_examples", None)
    return f"{data.name}: {size:,} examples" if size else f"{data.name}: sampled on the fly (no fixed size)"


def banner_lines(task: Any, mesh: Any, state: Any, start_step: int, config_file: str | None) -> list[str]:
    """The start banner: config file, devices, batch, parameter counts, data and where the run starts."""
    train = task.config.train
    devices = mesh.devices.flatten()
    kind = f"{len(devices)} x {devices[0].device_kind} ({devices[0].platform})"
    counts = ", ".join(f"{name} {count:,}" for name, count in param_counts(state).items())
    start = f"resuming at step {start_step}" if start_step else "starting at step 0"
    return [
        f"jaxgan run: config {config_file or '(given in code)'}, {start} of {train.num_steps:,}",
        f"devices: {kind}, {jax.process_count()} process(es)",
        f"global batch: {train.batch_size} ({task.images_per_step} images per step)",
        f"parameters: {counts}",
        f"data: {describe_data(task)}",
    ]
