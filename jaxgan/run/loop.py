"""The training loop every objective shares: steps dispatched, metrics checked and written, samples, evaluations,
checkpoints, resume and the stop request. An objective's task plugs in through `Task`.

Resuming: running the same command on the same workdir restores the newest readable checkpoint, i.e. the step and
the RNG key (each step's keys are fold_in(rng, step)) and the optimizer states, and reads the data from the stored
position (batch i depends only on (seed, i)), so 2N steps straight and N steps + stop + N more give bit-identical
params. On SIGTERM or SIGINT the loop finishes the step in flight, saves, says so and returns (exit status 0); a
second signal stops at once without saving.

The steps run data-parallel over a 1-D mesh (`jaxgan.engine.sharding`: state replicated and donated, examples split),
one per dispatch or K = `train.steps_per_dispatch` per dispatch (`jaxgan.run.dispatch`, `jaxgan.engine.multistep`). The
loop's parts live beside it: the health checks (`jaxgan.run.health`) and resuming (`jaxgan.run.resume`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import jax
import ml_collections
import numpy as np

from jaxgan.engine.grad_norms import drop_unlogged
from jaxgan.engine.sharding import check_divisible, data_mesh
from jaxgan.metrics.protocol import PROTOCOL_FILE, write_protocol
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.devices import visible_devices
from jaxgan.run.dispatch import Dispatch, host_rows, make_step_runner
from jaxgan.run.health import DeadRunWatch, NonFiniteError, check_finite, check_state_finite
from jaxgan.run.profiling import instrument, parse_profile_steps
from jaxgan.run.resume import open_checkpointer, restore_or_init, trim_metrics, warm_start, write_config
from jaxgan.run.run_info import run_info, update_run_info, write_run_info
from jaxgan.run.run_log import RunLog, StatusLines, banner_lines
from jaxgan.run.workdir_lock import WorkdirLock, prepare_workdir
from jaxgan.run.writers import DEFAULT_WRITERS, MetricWriter, Progress
from jaxgan.sampling.images import save_png

log = logging.getLogger(__name__)

StepFn = Callable[[Any, dict], tuple[Any, dict]]
# eval_fn(state, step) -> {"eval/fid": ..., ...}: run every train.eval_every steps; values are logged and saved
# with the checkpoint written at that step (train.best_metric ranks checkpoints by one of them).
EvalFn = Callable[[Any, int], dict[str, float]]


class Task(Protocol):
    """What the loop needs from one kind of model (the GAN, pix2pix, CycleGAN); the state is the task's pytree.

    `example_axis` is the axis of the examples in one step's batch leaves (GAN: 1, after the n_disc axis), and one
    step reads `batches_per_step` data positions (GAN: n_disc) of `images_per_step` images in all.
    """

    config: ml_collections.ConfigDict
    example_axis: int
    batches_per_step: int
    images_per_step: int
    unroll: bool  # unroll a K-step dispatch instead of looping (convolutional models on XLA:CPU)
    eval_protocol: dict | None  # how the eval/* numbers are computed (written beside the run), or None

    def initializer(self, mesh) -> Callable[[], Any]:
        """A `() -> state` from config.seed, replicated over `mesh` (also the restore target's layout)."""

    def step(self) -> StepFn:
        """The un-jitted `(state, batch) -> (state, metrics)` of one train step."""

    def step_batches(self, start_batch: int) -> Iterator[dict]:
        """This process's rows of each step's host batch, from data position `start_batch`."""

    def evaluate(self, state: Any, step: int) -> dict[str, float] | None:
        """The eval/* values at `step`, or None when the task has nothing to evaluate."""

    def samples(self, state: Any, step: int) -> np.ndarray:
        """The picture (H, W, C uint8) of this step's samples."""

    def run_meta(self, step: int, data_batches: int) -> dict[str, Any]:
        """The JSON record saved beside a checkpoint (must hold `config` and `data_batches`)."""

    def progress_postfix(self, metrics: dict[str, float]) -> dict[str, float]:
        """The few losses the progress bar shows."""

    def close(self) -> None:
        """Release what the task holds open (data workers)."""


def due(prev_step: int, step: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (prev_step, step]: one call may run several steps."""
    return every > 0 and step // every > prev_step // every


def gan_postfix(metrics: dict[str, float]) -> dict[str, float]:
    """The losses the progress bar shows for a GAN: D's and G's."""
    return {"D": metrics["Loss/D"], "G": metrics["Loss/G"]}


class MetricLog:
    """Queues step metrics on the device; `flush` checks them for NaNs and writes the newest row and images/s."""

    def __init__(self, writer: MetricWriter, progress: Progress, images_per_step: int,
                 postfix: Callable[[dict[str, float]], dict[str, float]] = gan_postfix, log_every: int = 1):
        self._writer, self._progress, self._images_per_step = writer, progress, images_per_step
        self._log_every = log_every  # the steps whose logged-only metrics are computed (`jaxgan.engine.grad_norms`)
        self._postfix = postfix
        self._pending: list[Dispatch] = []
        self._t0 = time.perf_counter()
        self._dead = DeadRunWatch()

    def add(self, dispatch: Dispatch) -> None:
        self._pending.append(dispatch)

    def flush(self) -> None:
        """Fetch, check (raises NonFiniteError) and write what is queued."""
        if not self._pending:
            return
        rows = drop_unlogged(host_rows(self._pending), self._log_every)
        self._pending.clear()
        check_finite(rows)
        self._dead.check(rows)
        elapsed, self._t0 = time.perf_counter() - self._t0, time.perf_counter()
        step, last = rows[-1]
        last = {**last, "images_per_sec": len(rows) * self._images_per_step / max(elapsed, 1e-9)}
        self._writer.scalars(step, last)
        self._progress.update(len(rows), {**self._postfix(last), "img/s": last["images_per_sec"]})


class StopRequest:
    """Turns SIGTERM and SIGINT into a request to stop after the step in flight; a second signal stops at once.

    Multi-process runs leave the signals to JAX's preemption service and ask its sync point instead, so that every
    process stops at the same step (needs `jax_enable_preemption_service`, on by default with jax.distributed).
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal_name: str | None = None
        self._previous: dict = {}
        self._multi_process = jax.process_count() > 1

    def __enter__(self) -> StopRequest:
        if not self._multi_process and threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.signal_name is not None:
            raise KeyboardInterrupt(f"second signal ({name}): stopping without saving")
        self.signal_name = name
        log.warning("Received %s: finishing the step in flight, then saving a checkpoint and exiting.", name)

    def requested(self, step: int) -> bool:
        """Whether to stop after `step` (all processes agree in multi-process runs)."""
        if not self._multi_process:
            return self.signal_name is not None
        from jax.experimental import multihost_utils

        try:
            return multihost_utils.reached_preemption_sync_point(step)
        except RuntimeError as error:  # preemption service off: no coordinated stop
            log.warning("No coordinated preemption: %s", error)
            self._multi_process = False
            return False


def write_samples(workdir: Path, step: int, picture: np.ndarray, writer: MetricWriter) -> Path:
    """Save a sample picture under samples/ and log it to TensorBoard."""
    writer.image(step, "samples", picture)
    return save_png(picture, workdir / "samples" / f"step_{step:07d}.png")


def select_devices(num_devices: int) -> list:
    """The first `num_devices` devices (0 = all) for the data-parallel mesh; a clear error when they are not there."""
    devices = visible_devices()
    if num_devices > len(devices):
        raise ValueError(f"train.num_devices={num_devices}, but only {len(devices)} {devices[0].platform} devices "
                         "are visible; use 0 for all of them, or a machine (or JAX_PLATFORMS) with more.")
    return devices if num_devices == 0 else devices[:num_devices]


@dataclasses.dataclass
class Run:
    """What the loop writes to: the workdir, metrics and checkpoints, for one task."""

    task: Task
    workdir: Path
    ckpt: Checkpointer
    writer: MetricWriter
    metrics: MetricLog
    start_step: int
    start_batch: int
    run_log: RunLog | None = None  # where evaluations are printed (None: not printed)

    def __post_init__(self):
        self.config = self.task.config
        self.is_main = jax.process_index() == 0

    def write_samples(self, state: Any, step: int) -> None:
        """The task's sample picture (process 0 only)."""
        if self.is_main:
            write_samples(self.workdir, step, self.task.samples(state, step), self.writer)

    def evaluate(self, state: Any, step: int) -> dict[str, float] | None:
        """Run the task's evaluation and log its values; None when it has none."""
        values = self.task.evaluate(state, step)
        if values is None:
            return None
        values = {k: float(v) for k, v in values.items()}
        best = self.config.train.best_metric
        if best and best not in values:
            raise ValueError(f"train.best_metric={best!r} is not among the evaluation results {sorted(values)}; "
                             "set it to one of them.")
        scored = f"{self.ckpt.directory.name}/{step}"  # saved next; relative, so a moved run still finds it
        self.writer.scalars(step, values, fields={"checkpoint": scored})
        if self.run_log is not None:
            self.run_log.evaluated(step, values)
        return values

    def flush_metrics(self, state: Any) -> None:
        """Write the queued metrics; on a NaN, the error also names the arrays of `state` that went non-finite."""
        try:
            self.metrics.flush()
        except NonFiniteError as error:
            raise error.naming_arrays(state) from None

    def save(self, state: Any, step: int, metrics: dict[str, float] | None = None) -> None:
        """Check the queued metrics (never save a state whose metrics were not checked), then save asynchronously."""
        self.flush_metrics(state)
        check_state_finite(state, step)
        position = self.start_batch + (step - self.start_step) * self.task.batches_per_step
        meta = self.task.run_meta(step, position)
        if metrics is not None and self.task.eval_protocol:  # how the scores were computed
            meta["eval_protocol"] = self.task.eval_protocol
        self.ckpt.save(step, state, meta, metrics)


def train_loop(run: Run, runner: Callable[[Any, int], tuple[Any, Dispatch]], state: Any) -> Any:
    """Run steps from `run.start_step` to `train.num_steps`: log, sample, evaluate, save; stop on request."""
    train = run.config.train
    step = run.start_step
    with StopRequest() as stop:
        while step < train.num_steps:
            prev = step
            state, dispatch = runner(state, step)
            step = dispatch.last_step
            run.metrics.add(dispatch)
            final = step >= train.num_steps
            if due(prev, step, train.log_every) or final:
                run.flush_metrics(state)
            if due(prev, step, train.sample_every) or final:
                run.write_samples(state, step)
            evaluated = run.evaluate(state, step) if due(prev, step, train.eval_every) else None
            stopping = stop.requested(step) and not final
            if due(prev, step, train.checkpoint_every) or final or evaluated is not None or stopping:
                run.save(state, step, evaluated)
            if stopping:
                run.ckpt.wait()
                log.info("Stopped by %s after step %d; saved the checkpoint %s. Run the same command to resume.",
                            stop.signal_name or "preemption", step, run.ckpt.directory / str(step))
                break
    return state


def train_and_evaluate(build_task: Callable[[], Task], config: ml_collections.ConfigDict,
                       workdir: str | Path, config_file: str | None = None) -> Any:
    """Train the task `build_task()` makes (after the workdir is locked) in `workdir`, resuming from its checkpoints.

    Writes config.json, run_info.json, metrics.jsonl, log.txt (`jaxgan.run.run_log`; its banner names `config_file`),
    TensorBoard events, samples/*.png and checkpoints/. The caller validates `config` first. The workdir is locked
    (one trainer per workdir and process) until this returns.
    """
    parse_profile_steps(config.train.profile_steps)  # a bad value stops the run before anything is written
    select_devices(config.train.num_devices)  # a missing platform or device stops the run before the workdir exists
    workdir = prepare_workdir(Path(workdir))
    with WorkdirLock(workdir, jax.process_index()), RunLog(workdir, enabled=jax.process_index() == 0) as run_log:
        task = build_task()
        try:
            return _train_in_locked_workdir(task, workdir, run_log, config_file)
        finally:
            task.close()


def write_run_files(task: Task, workdir: Path, start: int) -> None:
    """config.json, run_info.json and the eval protocol beside the run; metrics past `start` dropped (process 0)."""
    if jax.process_index() != 0:
        return
    write_config(workdir, task.config)
    write_run_info(workdir, run_info(start_step=start))
    if task.eval_protocol is not None:  # how the eval/* numbers were computed
        write_protocol(workdir / PROTOCOL_FILE, task.eval_protocol)
    trim_metrics(workdir, start)


def _train_in_locked_workdir(task: Task, workdir: Path, run_log: RunLog, config_file: str | None = None) -> Any:
    """The set-up, loop and clean-up of `train_and_evaluate`, once the workdir is checked and locked."""
    config = task.config
    mesh = data_mesh(select_devices(config.train.num_devices))
    check_divisible(config.train.batch_size, mesh)
    ckpt = open_checkpointer(workdir, config)
    writer = progress = runner = instrumented = None
    try:
        state, start, start_batch = restore_or_init(ckpt, task.initializer(mesh), config, task.batches_per_step)
        state = warm_start(task, state, resumed=start > 0)
        write_run_files(task, workdir, start)
        run_log.banner(banner_lines(task, mesh, state, start, config_file))
        is_main = jax.process_index() == 0
        runner = make_step_runner(task, mesh, start_batch, start)
        instrumented = instrument(runner, workdir, config.train.profile_steps, enabled=is_main,
                                  on_compiled=lambda times: is_main and update_run_info(workdir, step_compile=times))
        writer = MetricWriter(workdir, enabled=is_main, writers=config.train.get("writers", DEFAULT_WRITERS),
                              config=json.loads(config.to_json_best_effort()))
        progress = (Progress(config.train.num_steps, start, enabled=is_main) if config.train.progress
                    else StatusLines(run_log, config.train.num_steps, start))
        metrics = MetricLog(writer, progress, task.images_per_step, task.progress_postfix, config.train.log_every)
        state = train_loop(Run(task, workdir, ckpt, writer, metrics, start, start_batch, run_log), instrumented, state)
        progress.close()  # the bar's last line ends before the summary starts
        run_log.summary(start, int(jax.device_get(state.step)), task.images_per_step, config.train.best_metric,
                        config.train.best_mode)
        return state
    finally:
        if instrumented is not None:
            instrumented.close()  # write a trace the run ended inside of
        if runner is not None and hasattr(runner.batches, "close"):
            runner.batches.close()  # stop grain's worker processes before the interpreter exits
        for closable in (progress, writer, ckpt):
            if closable is not None:
                closable.close()
