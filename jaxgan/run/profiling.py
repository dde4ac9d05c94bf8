"""Profiling a run: a jax.profiler trace of chosen steps, and the train step's compile time, measured once.

`train.profile_steps = (start, count)` traces steps start .. start + count - 1 into workdir/profile: an XPlane trace
(`tensorboard --logdir WORKDIR`, Profile tab, with the `[profile]` extra) and a Perfetto trace
(`profile/plugins/profile/*/*.trace.json.gz`, open in ui.perfetto.dev). (0, 0), the default, traces nothing.
The first dispatch's trace, lowering and XLA compile times are read from jax.monitoring's compile events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import jax.monitoring

from jaxgan.errors import JaxganError

log = logging.getLogger(__name__)

# jax.monitoring duration events of one jit compilation: tracing to a jaxpr, lowering to MLIR, XLA's compile.
COMPILE_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace_s",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower_s",
    "/jax/core/compile/backend_compile_duration": "compile_s",
}


@contextlib.contextmanager
def compile_events() -> Iterator[dict[str, float]]:
    """Sum the durations of the compile events recorded while the block runs, by kind (trace_s, lower_s, ...)."""
    totals = dict.fromkeys(COMPILE_EVENTS.values(), 0.0)

    def listener(event: str, duration: float, **kwargs: Any) -> None:
        if event in COMPILE_EVENTS:
            totals[COMPILE_EVENTS[event]] += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield totals
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


@contextlib.contextmanager
def trace_to(directory: str | Path | None) -> Iterator[None]:
    """A jax.profiler trace (XPlane and Perfetto) of the block into `directory`; nothing when it is None."""
    if directory is None:
        yield
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    jax.profiler.start_trace(str(directory), create_perfetto_trace=True)
    try:
        yield
    finally:
        jax.profiler.stop_trace()


def parse_profile_steps(value: Any) -> tuple[int, int]:
    """(start, count) from `train.profile_steps`; a bad value raises JaxganError naming the fix."""
    try:
        start, count = (int(v) for v in value)
    except (TypeError, ValueError):
        raise JaxganError(f"train.profile_steps must be (start step, count), got {value!r}; "
                          "e.g. --config.train.profile_steps='(10, 5)', or (0, 0) for no trace.") from None
    if count < 0 or (count > 0 and start < 1):
        raise JaxganError(f"train.profile_steps={value!r}: the start step must be >= 1 and the count >= 0.")
    return start, count


@dataclasses.dataclass
class ProfileWindow:
    """Start a jax.profiler trace before step `start` runs and stop it once step `start + count - 1` has run."""

    directory: Path
    start: int
    count: int
    active: bool = False
    done: bool = False

    def before(self, next_step: int) -> None:
        """Called before the dispatch whose first step is `next_step`."""
        in_window = self.start <= next_step < self.start + self.count  # a run resumed past the window skips it
        if in_window and not self.active and not self.done:
            self.directory.mkdir(parents=True, exist_ok=True)
            jax.profiler.start_trace(str(self.directory), create_perfetto_trace=True)
            self.active = True

    def after(self, last_step: int, outputs: Any) -> None:
        """Called after the dispatch that ran up to `last_step` (its `outputs` are waited for before stopping)."""
        if self.active and last_step >= self.start + self.count - 1:
            self.stop(outputs)

    def stop(self, outputs: Any = None) -> None:
        """Wait for `outputs` and write the trace (also when the run ends inside the window)."""
        if self.active:
            jax.block_until_ready(outputs)
            jax.profiler.stop_trace()
            self.active, self.done = False, True
            log.info("Wrote the profiler trace of steps %d.. to %s", self.start, self.directory)


@dataclasses.dataclass
class InstrumentedRunner:
    """Wraps the loop's step runner: the profile window around its dispatches, and the first dispatch's compile time.

    `on_compiled(times)` receives {"trace_s", "lower_s", "compile_s", "first_dispatch_s"} once.
    """

    runner: Callable[[Any, int], tuple[Any, Any]]
    window: ProfileWindow
    on_compiled: Callable[[dict[str, float]], None]
    compiled: bool = False

    def __call__(self, state: Any, step: int) -> tuple[Any, Any]:
        self.window.before(step + 1)
        if self.compiled:
            state, dispatch = self.runner(state, step)
        else:
            state, dispatch = self._first(state, step)
        self.window.after(dispatch.last_step, dispatch.metrics)
        return state, dispatch

    def _first(self, state: Any, step: int) -> tuple[Any, Any]:
        started = time.perf_counter()
        with compile_events() as times:
            state, dispatch = self.runner(state, step)
            jax.block_until_ready(dispatch.metrics)
        times = {**times, "first_dispatch_s": time.perf_counter() - started}
        self.compiled = True
        log.info("Train step: traced in %.2f s, lowered in %.2f s, compiled in %.2f s (first dispatch %.2f s).",
                    times["trace_s"], times["lower_s"], times["compile_s"], times["first_dispatch_s"])
        self.on_compiled({k: round(v, 4) for k, v in times.items()})
        return state, dispatch

    def close(self) -> None:
        """Stop a trace the run ended inside of."""
        self.window.stop()


def instrument(runner: Callable, workdir: Path, profile_steps: Any, on_compiled: Callable, enabled: bool = True
               ) -> InstrumentedRunner:
    """The runner with `train.profile_steps`' trace under workdir/profile (on the process with `enabled`)."""
    start, count = parse_profile_steps(profile_steps)
    return InstrumentedRunner(runner, ProfileWindow(Path(workdir) / "profile", start, count if enabled else 0),
                              on_compiled)
