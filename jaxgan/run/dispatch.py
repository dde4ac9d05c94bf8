"""How the loop advances the state: one compiled dispatch of one or K train steps, with a bound on the dispatches
in flight, and the host rows of their metrics."""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from jaxgan.data import prefetch_to_device
from jaxgan.engine.multistep import dispatch_batches, dispatch_sizes, jit_multi_step
from jaxgan.engine.sharding import batch_sharding, jit_data_parallel
from jaxgan.engine.train_step import with_grad_norm_policy

if TYPE_CHECKING:
    from jaxgan.run.loop import Task

log = logging.getLogger(__name__)

@dataclasses.dataclass(frozen=True)
class Dispatch:
    """The device-side metrics of one call: steps first_step .. first_step + size - 1 (stacked when size > 1)."""

    first_step: int
    size: int
    metrics: dict

    @property
    def last_step(self) -> int:
        return self.first_step + self.size - 1


# Dispatches the host may queue ahead of the devices: one ahead is all the overlap the loop needs, and unbounded
# asynchronous dispatch of multi-device collectives deadlocks XLA:CPU (docs/notes.md, "XLA:CPU workarounds").
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
class Programs:
    """The compiled dispatches of a step, one per kind of dispatch, compiled on first use.

    A `PhasedStep` has one program per combination of due lazy phases (`PhasedStep.program`), chosen here on the host
    from the step number, so a step runs only the phases that are due; a K-step dispatch is keyed by the kinds of
    its K steps. Any other step function has one program per dispatch size.
    """

    step_fn: Callable[[Any, dict], tuple[Any, dict]]
    compile: Callable[[int, tuple | None], Callable]  # (steps, step kinds or None) -> jitted dispatch
    cache: dict = dataclasses.field(default_factory=dict)

    def __call__(self, first_step: int, size: int) -> Callable:
        """The jitted dispatch of `size` steps whose first has counter `first_step`."""
        due_at = getattr(self.step_fn, "due_at", None)
        kinds = None if due_at is None else tuple(due_at(first_step + i) for i in range(size))
        key = (size, kinds)
        if key not in self.cache:
            self.cache[key] = self.compile(size, kinds)
        return self.cache[key]


def one_step_programs(step_fn: Callable, mesh, axis: int) -> Programs:
    """One step per dispatch, data-parallel over `mesh`."""
    def compile_one(size: int, kinds: tuple | None) -> Callable:
        fn = step_fn if kinds is None else step_fn.program(kinds[0])
        return jit_data_parallel(fn, mesh, example_axis=axis, options_of=step_fn)

    return Programs(step_fn, compile_one)


@dataclasses.dataclass
class StepRunner:
    """How the loop advances the state: each call runs one compiled dispatch of `steps_per_call` train steps.

    The loop only calls it and reads `Dispatch` metrics, so K steps per dispatch (`train.steps_per_dispatch`, the
    `lax.scan` of `jaxgan.engine.multistep`) plugs in through `make_step_runner` without touching the loop.
    """

    programs: Programs
    batches: Iterator[dict]
    steps_per_call: int = 1
    in_flight: InFlight = dataclasses.field(default_factory=InFlight)

    def __call__(self, state: Any, step: int) -> tuple[Any, Dispatch]:
        """Run the steps after `step`; returns the new state and their metrics, still on the device."""
        batch = next(self.batches)
        self.in_flight.admit()
        state, metrics = self.programs(step, 1)(state, batch)
        self.in_flight.add(metrics)
        return state, Dispatch(step + 1, self.steps_per_call, metrics)


def make_step_runner(task: Task, mesh, start_batch: int, start_step: int = 0) -> StepRunner | MultiStepRunner:
    """Data-parallel train steps fed from data position `start_batch`: one per call, or K = train.steps_per_dispatch
    per call (a `lax.scan`), with single steps for a remainder shorter than K before train.num_steps."""
    train = task.config.train
    step_fn, axis, k = task.step(), task.example_axis, train.steps_per_dispatch
    # Grad/* on the logged steps; configs saved before `train.grad_norms` existed computed them
    step_fn = with_grad_norm_policy(step_fn, train.get("grad_norms", True), train.log_every)
    if k == 1:
        batches = prefetch_to_device(task.step_batches(start_batch), size=2, sharding=batch_sharding(mesh, axis))
        return StepRunner(one_step_programs(step_fn, mesh, axis), batches)
    sizes = dispatch_sizes(start_step, task.config.train.num_steps, k)
    batches = prefetch_to_device(dispatch_batches(task.step_batches(start_batch), sizes), size=2,
                                 sharding=batch_sharding(mesh, axis + 1))
    if task.unroll:
        log.info("XLA:CPU: the %d steps of a dispatch are unrolled (convolutions in a loop are slow there).", k)
    compile_k = lambda n, kinds: jit_multi_step(step_fn, n, mesh, task.unroll, example_axis=axis + 1, kinds=kinds)
    return MultiStepRunner(Programs(step_fn, compile_k), batches)


@dataclasses.dataclass
class MultiStepRunner:
    """Each call runs one dispatch of K stacked steps (`jaxgan.engine.multistep`); metrics come back as (K, ...)."""

    programs: Programs
    batches: Iterator[dict]
    in_flight: InFlight = dataclasses.field(default_factory=InFlight)

    def __call__(self, state: Any, step: int) -> tuple[Any, Dispatch]:
        batch = next(self.batches)
        size = jax.tree.leaves(batch)[0].shape[0]
        self.in_flight.admit()
        state, metrics = self.programs(step, size)(state, batch)
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
