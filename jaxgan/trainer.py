"""The training loop: data in, steps run, numbers, samples, evaluations and checkpoints out.

Samples are drawn with G in inference mode, so BatchNorm uses its running averages (as PyTorch's `netG.eval()`);
that makes a sample depend only on z and the checkpoint, never on the rest of the sample batch. With an EMA, samples
come from the EMA params (with G's running BatchNorm statistics).

Resuming: running the same command on the same workdir restores the newest readable checkpoint, i.e. the step and
the RNG key (each step's keys are fold_in(rng, step)) and the optimizer states, and reads the data from the stored
position (batch i depends only on (seed, i)), so 2N steps straight and N steps + stop + N more give bit-identical
params. On SIGTERM or SIGINT the loop finishes the step in flight, saves, says so and returns (exit status 0); a
second signal stops at once without saving.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.checkpoint import Checkpointer, NoReadableCheckpointError
from jaxgan.config import validate
from jaxgan.data import build_dataset, prefetch_to_device, stack_batches, with_decoded_batch
from jaxgan.errors import JaxganError
from jaxgan.factory import build_gan, build_train_step, ema_decay, initial_state_aux
from jaxgan.images import sample_picture, save_png
from jaxgan.metrics.protocol import PROTOCOL_FILE, write_protocol
from jaxgan.multistep import (
    K_AXIS_EXAMPLE_AXIS,
    dispatch_batches,
    dispatch_sizes,
    jit_multi_step,
    unroll_k_steps,
)
from jaxgan.profiling import instrument, parse_profile_steps
from jaxgan.run_info import run_info, run_meta, update_run_info, write_run_info
from jaxgan.sampling import generator_variables
from jaxgan.sharding import batch_sharding, check_divisible, data_mesh, jit_data_parallel, replicated
from jaxgan.state import GAN, GANState, create_state
from jaxgan.train_step import sample_latents
from jaxgan.training_eval import build_eval_fn
from jaxgan.workdir_lock import WorkdirLock, prepare_workdir
from jaxgan.writers import MetricWriter, Progress

log = logging.getLogger(__name__)

# eval_fn(state, step) -> {"eval/fid": ..., ...}: run every train.eval_every steps; values are logged and saved
# with the checkpoint written at that step (train.best_metric ranks checkpoints by one of them).
EvalFn = Callable[[GANState, int], dict[str, float]]


class NonFiniteError(JaxganError, FloatingPointError):
    """Training produced a NaN or infinity; the run stops and keeps its last good checkpoint."""

    def naming_arrays(self, state: Any) -> NonFiniteError:
        """This error, extended with the arrays of `state` that are not finite (read on the host, params first)."""
        bad = non_finite_arrays(state)
        if not bad:
            return self
        shown = ", ".join(bad[:6]) + (f" and {len(bad) - 6} more" if len(bad) > 6 else "")
        return NonFiniteError(f"{self} Non-finite arrays in the state after that step: {shown}.")


class ResumeBeyondEndError(JaxganError):
    """The workdir's checkpoint is past train.num_steps: resuming would do nothing (and rewrite config.json)."""


def non_finite_arrays(state: Any) -> list[str]:
    """Dotted paths of the float arrays of `state` holding a NaN or infinity, params before optimizer moments."""
    flat = jax.tree_util.tree_flatten_with_path(state)[0]
    bad = [jax.tree_util.keystr(path, simple=True, separator=".") for path, leaf in flat
           if jnp.issubdtype(leaf.dtype, jnp.floating) and not bool(jnp.isfinite(leaf).all())]
    return sorted(bad, key=lambda k: ("opt_state" in k, k))


def network_of(metric: str) -> str:
    """The network a metric belongs to: "G" for `Loss/G`, `Grad/G_norm`, `G/...`; else "D"."""
    return "G" if "/G" in metric or metric.startswith("G/") else "D"


def check_finite(step_metrics: list[tuple[int, dict[str, float]]]) -> None:
    """Raise NonFiniteError naming the first step and network whose loss or gradient norm is not finite."""
    for step, metrics in step_metrics:
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            bad.sort(key=lambda k: (network_of(k) != "D", k))  # D is updated first within a step
            nets = sorted({network_of(k) for k in bad})
            values = ", ".join(f"{k}={metrics[k]}" for k in bad)
            raise NonFiniteError(
                f"Non-finite values at step {step} in {' and '.join(nets)}: {values} (first non-finite: {bad[0]}). "
                "The run stopped without saving this state; the last good checkpoint is kept. Check the data for "
                "NaN/inf and the checkpoints with `jaxgan verify`, then lower optim.*.lr, or add a gradient "
                "penalty or optim.*.grad_clip."
            )


DEAD_INTERVALS = 3  # log intervals of zero gradient norm before the run is called dead
DEAD_LOGIT = 1e6  # |D's mean logit| (D/real, D/fake) or |loss| beyond this: D's outputs have blown up


class DeadRunWatch:
    """Warns once, naming the step, when a network's gradient norm is 0 for DEAD_INTERVALS log intervals in a row,
    or D's logits or a loss reach DEAD_LOGIT: a dead D (saturated logits) that no longer trains G, which no NaN
    would flag."""

    def __init__(self, intervals: int = DEAD_INTERVALS):
        self.intervals = intervals
        self._zero_since: dict[str, int] = {}
        self._zero_count: dict[str, int] = {}
        self._warned = False

    def check(self, rows: list[tuple[int, dict[str, float]]]) -> str | None:
        """Look at one log interval's rows; returns (and logs) the warning the first time the run looks dead."""
        if self._warned or not rows:
            return None
        step, last = rows[-1]
        for key, value in last.items():
            if key.startswith("Grad/") and key.endswith("_norm"):
                zero = all(m.get(key, 1.0) == 0.0 for _, m in rows)
                self._zero_count[key] = self._zero_count.get(key, 0) + 1 if zero else 0
                if zero:
                    self._zero_since.setdefault(key, rows[0][0])
                else:
                    self._zero_since.pop(key, None)
                if self._zero_count[key] >= self.intervals:
                    return self._warn(f"{key} has been 0 since step {self._zero_since[key]}", step)
            if (key.startswith("Loss/") or key in ("D/real", "D/fake")) and abs(value) >= DEAD_LOGIT:
                return self._warn(f"{key}={value:.3g} (D's logits have blown up)", step)
        return None

    def _warn(self, what: str, step: int) -> str:
        self._warned = True
        message = (f"The run looks dead at step {step}: {what}; D is saturated and G no longer learns. Lower "
                   "optim.*.lr (GANs train at 1e-5..1e-3), or add a gradient penalty.")
        log.warning("%s", message)
        return message


def due(prev_step: int, step: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (prev_step, step]: one call may run several steps."""
    return every > 0 and step // every > prev_step // every


def select_devices(num_devices: int) -> list:
    """The first `num_devices` devices (0 = all) for the data-parallel mesh."""
    devices = jax.devices()
    if num_devices > len(devices):
        raise ValueError(f"train.num_devices={num_devices}, but only {len(devices)} {devices[0].platform} devices "
                         "are visible; use 0 for all of them.")
    return devices if num_devices == 0 else devices[:num_devices]


def host_batches(dataset, config: ml_collections.ConfigDict, start_batch: int) -> Iterator[dict]:
    """This process's rows of the global batches from data position `start_batch`, read by grain."""
    return dataset.batches(config.train.batch_size, start_batch=start_batch,
                           process_index=jax.process_index(), process_count=jax.process_count())


def train_batches(dataset, config: ml_collections.ConfigDict, start_batch: int, sharding) -> Iterator[dict]:
    """Device batches for the step: `n_disc` real batches stacked per step, from data position `start_batch`.

    Each process reads only its rows of the global batch; two batches are transferred to the devices ahead.
    Image pixels cross as uint8; the step decodes them (see `with_decoded_batch`).
    """
    host = host_batches(dataset, config, start_batch)
    return prefetch_to_device(stack_batches(host, config.n_disc), size=2, sharding=sharding)


@dataclasses.dataclass(frozen=True)
class Dispatch:
    """The device-side metrics of one call: steps first_step .. first_step + size - 1 (stacked when size > 1)."""

    first_step: int
    size: int
    metrics: dict

    @property
    def last_step(self) -> int:
        return self.first_step + self.size - 1


# Dispatches the host may queue ahead of the devices. Unbounded asynchronous dispatch of a multi-device program with
# collectives deadlocks XLA:CPU (issue 18): in the hung trainer (gdb), 7 devices' threads wait in the step's
# all-reduce while the 8th device's launch waits on that device's in-flight-computations semaphore, and XLA aborts
# after 40 s. A jitted 8-device psum dispatched 2,000 times without waiting aborts 3 times in 3; with this bound,
# 0 in 3. Two keeps the host one dispatch ahead, which is all the overlap the loop needs.
MAX_IN_FLIGHT = 2


class InFlight:
    """Bounds the dispatches queued on the devices: `admit` waits for the oldest while `limit` are in flight."""

    def __init__(self, limit: int = MAX_IN_FLIGHT):
        self._pending: collections.deque = collections.deque()
        self._limit = limit

    def admit(self) -> None:
        while len(self._pending) >= self._limit:
            jax.block_until_ready(self._pending.popleft())

    def add(self, outputs: Any) -> None:
        self._pending.append(outputs)


@dataclasses.dataclass
class StepRunner:
    """How the loop advances the state: each call runs one compiled dispatch of `steps_per_call` train steps.

    The loop only calls it and reads `Dispatch` metrics, so K steps per dispatch (`train.steps_per_dispatch`, the
    `lax.scan` of `jaxgan.multistep`) plugs in through `make_step_runner` without touching the loop.
    """

    step_fn: Callable[[GANState, dict], tuple[GANState, dict]]
    batches: Iterator[dict]
    steps_per_call: int = 1
    in_flight: InFlight = dataclasses.field(default_factory=InFlight)

    def __call__(self, state: GANState, step: int) -> tuple[GANState, Dispatch]:
        """Run the steps after `step`; returns the new state and their metrics, still on the device."""
        batch = next(self.batches)
        self.in_flight.admit()
        state, metrics = self.step_fn(state, batch)
        self.in_flight.add(metrics)
        return state, Dispatch(step + 1, self.steps_per_call, metrics)


def make_step_runner(config: ml_collections.ConfigDict, gan: GAN, mesh, dataset, start_batch: int,
                     start_step: int = 0) -> StepRunner | MultiStepRunner:
    """Data-parallel train steps fed from data position `start_batch`: one per call, or K = train.steps_per_dispatch
    per call (a `lax.scan`), with single steps for a remainder shorter than K before train.num_steps."""
    step_fn = with_decoded_batch(build_train_step(config, gan, dataset.example_shape), flip=config.data.random_flip)
    k = config.train.steps_per_dispatch
    if k == 1:
        return StepRunner(jit_data_parallel(step_fn, mesh), train_batches(dataset, config, start_batch,
                                                                          batch_sharding(mesh)))
    host = host_batches(dataset, config, start_batch)
    sizes = dispatch_sizes(start_step, config.train.num_steps, k)
    batches = prefetch_to_device(dispatch_batches(stack_batches(host, config.n_disc), sizes), size=2,
                                 sharding=batch_sharding(mesh, K_AXIS_EXAMPLE_AXIS))
    unroll = unroll_k_steps(config.model.name)
    if unroll:
        log.info("XLA:CPU: the %d steps of a dispatch are unrolled (convolutions in a loop are slow there).", k)
    return MultiStepRunner({n: jit_multi_step(step_fn, n, mesh, unroll) for n in {k, 1}}, batches)


@dataclasses.dataclass
class MultiStepRunner:
    """Each call runs one dispatch of K stacked steps (`jaxgan.multistep`); metrics come back stacked (K, ...)."""

    fns: dict[int, Callable[[GANState, dict], tuple[GANState, dict]]]  # dispatch size -> jitted K-step function
    batches: Iterator[dict]
    in_flight: InFlight = dataclasses.field(default_factory=InFlight)

    def __call__(self, state: GANState, step: int) -> tuple[GANState, Dispatch]:
        batch = next(self.batches)
        size = jax.tree.leaves(batch)[0].shape[0]
        self.in_flight.admit()
        state, metrics = self.fns[size](state, batch)
        self.in_flight.add(metrics)
        if size == 1:  # one step: plain scalars, as StepRunner gives
            metrics = jax.tree.map(lambda v: v[0], metrics)
        return state, Dispatch(step + 1, size, metrics)


def host_rows(pending: list[Dispatch]) -> list[tuple[int, dict[str, float]]]:
    """Bring the queued metrics to the host in one transfer, as one (step, metrics) row per train step."""
    host = jax.device_get([d.metrics for d in pending])
    rows = []
    for dispatch, metrics in zip(pending, host, strict=True):
        for i in range(dispatch.size):
            pick = (lambda v: v) if dispatch.size == 1 else (lambda v, i=i: np.asarray(v)[i])
            rows.append((dispatch.first_step + i, {k: float(pick(v)) for k, v in metrics.items()}))
    return rows


class MetricLog:
    """Queues step metrics on the device; `flush` checks them for NaNs and writes the newest row and images/s."""

    def __init__(self, writer: MetricWriter, progress: Progress, images_per_step: int):
        self._writer, self._progress, self._images_per_step = writer, progress, images_per_step
        self._pending: list[Dispatch] = []
        self._t0 = time.perf_counter()
        self._dead = DeadRunWatch()

    def add(self, dispatch: Dispatch) -> None:
        self._pending.append(dispatch)

    def flush(self) -> None:
        """Fetch, check (raises NonFiniteError) and write what is queued."""
        if not self._pending:
            return
        rows = host_rows(self._pending)
        self._pending.clear()
        check_finite(rows)
        self._dead.check(rows)
        elapsed, self._t0 = time.perf_counter() - self._t0, time.perf_counter()
        step, last = rows[-1]
        last = {**last, "images_per_sec": len(rows) * self._images_per_step / max(elapsed, 1e-9)}
        self._writer.scalars(step, last)
        self._progress.update(len(rows), {"D": last["Loss/D"], "G": last["Loss/G"], "img/s": last["images_per_sec"]})


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


def make_sampler(gan: GAN):
    """A jitted `(state, z, labels=None) -> samples` from the EMA params (with standing BatchNorm stats) if present."""

    @jax.jit
    def sample(state: GANState, z: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        return gan.generate(generator_variables(state, gan), z, labels)

    return sample


def grid_labels(n: int, num_classes: int | None) -> jax.Array | None:
    """Class labels for a sample grid of n (ceil(sqrt(n)) per row): row r shows class r mod K; None if unconditional."""
    if num_classes is None:
        return None
    return jnp.asarray((np.arange(n) // math.ceil(math.sqrt(n))) % num_classes, jnp.int32)


def write_samples(workdir: Path, step: int, samples: np.ndarray, writer: MetricWriter, modes=None) -> Path:
    """Save a PNG grid of `samples` under samples/ and log it to TensorBoard."""
    picture = sample_picture(samples, modes)
    writer.image(step, "samples", picture)
    return save_png(picture, workdir / "samples" / f"step_{step:07d}.png")


def write_config(workdir: Path, config: ml_collections.ConfigDict) -> None:
    """Write the resolved config as JSON (machine-readable) beside the run."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")


def trim_metrics(workdir: Path, last_step: int) -> None:
    """Drop metrics.jsonl rows after `last_step`: a resumed run recomputes those steps."""
    path = workdir / "metrics.jsonl"
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= last_step]
    if len(kept) != len(lines):
        path.write_text("".join(kept))


def open_checkpointer(workdir: Path, config: ml_collections.ConfigDict) -> Checkpointer:
    """The run's checkpoints under workdir/checkpoints: last `keep_checkpoints`, plus the best by `best_metric`."""
    train = config.train
    return Checkpointer(workdir / "checkpoints", keep=train.keep_checkpoints, async_save=train.async_checkpoint,
                        best_metric=train.best_metric or None, best_mode=train.best_mode,
                        log_path=workdir / "logs" / "checkpoint.log")


def config_changes(stored: dict, config: ml_collections.ConfigDict) -> list[str]:
    """`key: old -> new` for each config value that differs from the one a checkpoint was written with."""
    old = _flatten(stored)
    new = _flatten(json.loads(config.to_json_best_effort()))
    return [f"{k}: {old[k]!r} -> {new[k]!r}" for k in sorted(old.keys() & new.keys()) if old[k] != new[k]]


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def restore_or_init(ckpt: Checkpointer, init: Callable[[], GANState], config: ml_collections.ConfigDict
                    ) -> tuple[GANState, int, int]:
    """(state, step, data position) from the newest readable checkpoint in the workdir, else (init(), 0, 0).

    The restore target is `init`'s abstract output (shapes, dtypes, shardings), so nothing is initialised in vain.
    Raises CheckpointMismatchError (naming the differing arrays) when the checkpoint is of another model,
    NoReadableCheckpointError when no checkpoint can be read (unless `train.restart`: then the unreadable ones are
    moved to checkpoints/unreadable/ and the run starts from step 0), and ResumeBeyondEndError when the checkpoint is
    past `train.num_steps`. Nothing in the workdir is written before these checks.
    """
    if ckpt.latest_step() is None:
        return init(), 0, 0
    try:
        state, meta = ckpt.restore(jax.eval_shape(init))
    except NoReadableCheckpointError:
        if not config.train.get("restart", False):
            raise
        kept = ckpt.set_aside_all()
        log.warning("train.restart=True and no checkpoint can be read: starting from step 0. The unreadable "
                    "checkpoints were moved to %s.", kept)
        return init(), 0, 0
    step = int(state.step)
    if step > config.train.num_steps:
        raise ResumeBeyondEndError(
            f"The checkpoint in {ckpt.directory} is at step {step}, past train.num_steps={config.train.num_steps}: "
            f"nothing to train. Pass --config.train.num_steps={step} or more to go on, or use a new --workdir.")
    changes = config_changes(meta.get("config", {}), config)
    if changes:
        log.warning("Resuming with a config that differs from the checkpoint's in: %s", "; ".join(changes))
    log.warning("Resumed from the checkpoint of step %d in %s.", step, ckpt.directory)
    return state, step, int(meta.get("data_batches", step * config.n_disc))


@dataclasses.dataclass
class Run:
    """What the loop writes to: the workdir, metrics, checkpoints, and the optional evaluation."""

    config: ml_collections.ConfigDict
    workdir: Path
    gan: GAN
    dataset: Any
    ckpt: Checkpointer
    writer: MetricWriter
    metrics: MetricLog
    eval_fn: EvalFn | None
    start_step: int
    start_batch: int

    def __post_init__(self):
        self.is_main = jax.process_index() == 0
        self._sampler = make_sampler(self.gan)
        n = self.config.train.num_samples
        self._z = sample_latents(jax.random.PRNGKey(self.config.seed + 1), n, self.gan.z_dim)
        self._labels = grid_labels(n, self.gan.num_classes)

    def write_samples(self, state: GANState, step: int) -> None:
        """The sample grid of the fixed latents (process 0 only)."""
        if self.is_main:
            samples = np.asarray(jax.device_get(self._sampler(state, self._z, self._labels)))
            write_samples(self.workdir, step, samples, self.writer, self.dataset.modes)

    def evaluate(self, state: GANState, step: int) -> dict[str, float] | None:
        """Run eval_fn, log its values; None without an eval_fn."""
        if self.eval_fn is None:
            return None
        values = {k: float(v) for k, v in self.eval_fn(state, step).items()}
        best = self.config.train.best_metric
        if best and best not in values:
            raise ValueError(f"train.best_metric={best!r} is not among the evaluation results {sorted(values)}; "
                             "set it to one of them.")
        self.writer.scalars(step, values)
        return values

    def flush_metrics(self, state: GANState) -> None:
        """Write the queued metrics; on a NaN, the error also names the arrays of `state` that went non-finite."""
        try:
            self.metrics.flush()
        except NonFiniteError as error:
            raise error.naming_arrays(state) from None

    def save(self, state: GANState, step: int, metrics: dict[str, float] | None = None) -> None:
        """Check the queued metrics (never save a state whose metrics were not checked), then save asynchronously."""
        self.flush_metrics(state)
        position = self.start_batch + (step - self.start_step) * self.config.n_disc
        meta = run_meta(self.config, step, position, self.dataset.example_shape, self.gan.num_classes)
        if metrics is not None and getattr(self.eval_fn, "protocol", None):  # how the scores were computed
            meta["eval_protocol"] = self.eval_fn.protocol
        self.ckpt.save(step, state, meta, metrics)


def train_loop(run: Run, runner: StepRunner, state: GANState) -> GANState:
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
                log.warning("Stopped by %s after step %d; saved the checkpoint %s. Run the same command to resume.",
                            stop.signal_name or "preemption", step, run.ckpt.directory / str(step))
                break
    return state


def state_initializer(config: ml_collections.ConfigDict, gan: GAN, example_shape, mesh) -> Callable[[], GANState]:
    """A jitted `() -> state` from `config.seed`, replicated over the mesh: one compile instead of op-by-op init."""
    init = functools.partial(create_state, gan, tuple(example_shape), config.seed, ema=ema_decay(config) > 0,
                             aux=initial_state_aux(config))
    return jax.jit(init, out_shardings=replicated(mesh))


def initial_state(config: ml_collections.ConfigDict, gan: GAN, example_shape, mesh) -> GANState:
    """A fresh state from `config.seed`, replicated over the mesh (also the restore target's layout)."""
    return state_initializer(config, gan, example_shape, mesh)()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path,
                       eval_fn: EvalFn | None = None) -> GANState:
    """Train the GAN that `config` describes in `workdir`, resuming from its checkpoints; returns the final state.

    Writes config.json, metrics.jsonl, TensorBoard events, samples/*.png and checkpoints/. Every `train.eval_every`
    steps it runs `eval_fn(state, step)` (see EvalFn), by default the config's `eval` block (jaxgan.training_eval).
    The workdir is locked (one trainer per workdir and process) until this returns or raises.
    """
    validate(config)
    parse_profile_steps(config.train.profile_steps)  # a bad value stops the run before anything is written
    workdir = prepare_workdir(Path(workdir))
    with WorkdirLock(workdir, jax.process_index()):
        return _train_in_locked_workdir(config, workdir, eval_fn)


def _train_in_locked_workdir(config: ml_collections.ConfigDict, workdir: Path, eval_fn: EvalFn | None) -> GANState:
    """The set-up, loop and clean-up of `train_and_evaluate`, once the workdir is checked and locked."""
    dataset = build_dataset(config.data, seed=config.seed)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    if eval_fn is None:
        eval_fn = build_eval_fn(config, gan, dataset)  # before any step: bad eval settings stop the run here
    mesh = data_mesh(select_devices(config.train.num_devices))
    check_divisible(config.train.batch_size, mesh)
    ckpt = open_checkpointer(workdir, config)
    writer = progress = runner = instrumented = None
    try:
        init = state_initializer(config, gan, dataset.example_shape, mesh)
        state, start, start_batch = restore_or_init(ckpt, init, config)
        is_main = jax.process_index() == 0
        if is_main:
            write_config(workdir, config)
            write_run_info(workdir, run_info(start_step=start))
            if getattr(eval_fn, "protocol", None) is not None:  # how the eval/* numbers were computed
                write_protocol(workdir / PROTOCOL_FILE, eval_fn.protocol)
            trim_metrics(workdir, start)
        runner = make_step_runner(config, gan, mesh, dataset, start_batch, start)
        instrumented = instrument(runner, workdir, config.train.profile_steps, enabled=is_main,
                                  on_compiled=lambda times: is_main and update_run_info(workdir, step_compile=times))
        writer = MetricWriter(workdir, enabled=is_main)
        progress = Progress(config.train.num_steps, start, enabled=is_main and config.train.progress)
        metrics = MetricLog(writer, progress, config.train.batch_size * config.n_disc)
        run = Run(config, workdir, gan, dataset, ckpt, writer, metrics, eval_fn, start, start_batch)
        return train_loop(run, instrumented, state)
    finally:
        if instrumented is not None:
            instrumented.close()  # write a trace the run ended inside of
        if runner is not None and hasattr(runner.batches, "close"):
            runner.batches.close()  # stop grain's worker processes before the interpreter exits
        for closable in (progress, writer, ckpt):
            if closable is not None:
                closable.close()


def generate_samples(gan: GAN, state: GANState, key: jax.Array, n: int,
                     labels: jax.Array | None = None) -> jax.Array:
    """n samples from G (EMA params when present) in inference mode, of classes `labels` for conditional G."""
    z = sample_latents(key, n, gan.z_dim)
    return make_sampler(gan)(state, z.astype(jnp.float32), labels)
