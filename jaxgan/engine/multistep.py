"""K train steps per dispatch: one `lax.scan` over K stacked step-batches, so small models are not dispatch-bound.

A K-step call computes exactly what K calls of the one-step function compute (same keys, since each step folds
`state.step` into the run's key, and the same data order); it returns every step's metrics stacked on a leading
axis of K, so the loop can log each step and check each for NaNs. Batches for it have leaves of shape
(K, n_disc, B, ...): use `stack_batches(stack_batches(host_batches, n_disc), K)` and `batch_sharding(mesh, 2)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxgan.engine.sharding import jit_data_parallel
from jaxgan.engine.train_step import jit_train_step

StepFn = Callable[[Any, dict], tuple[Any, dict]]
K_AXIS_EXAMPLE_AXIS = 2  # example axis of a K-step batch: (K, n_disc, B, ...)


def unroll_k_steps(model_name: str, backend: str | None = None) -> bool:
    """Whether a K-step dispatch is unrolled instead of looped: yes for convolutional models on XLA:CPU, which runs
    a convolution inside a while loop 30-100x slower (jax-ml/jax#12868; docs/notes.md). Elsewhere, and for the MLP,
    the scan stays a loop, so the program's size does not grow with K."""
    return (backend or jax.default_backend()) == "cpu" and model_name != "mlp"


StepKinds = tuple[frozenset[str], ...]  # the due lazy phases of each step of a dispatch


def step_runs(kinds: StepKinds) -> list[tuple[frozenset[str], int, int]]:
    """(due phases, first index, length) of each run of consecutive steps of one kind."""
    runs: list[tuple[frozenset[str], int, int]] = []
    for i, due in enumerate(kinds):
        if runs and runs[-1][0] == due:
            runs[-1] = (due, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((due, i, 1))
    return runs


def make_multi_step(step_fn: StepFn, k: int, unroll: bool = False, kinds: StepKinds | None = None) -> StepFn:
    """Return `(state, batches) -> (state, metrics)` running `step_fn` over the K leading slices of `batches`
    (unrolled into K copies of the step with `unroll`, a loop otherwise; the result is the same).

    With `kinds` (a `PhasedStep`'s `due_at` of each of the K steps), each run of steps of one kind is a scan of that
    kind's program (`PhasedStep.program`), so lazy phases run only where they are due.
    """
    if k < 1:
        raise ValueError(f"train.steps_per_dispatch must be >= 1, got {k}.")
    if kinds is not None and len(kinds) != k:
        raise ValueError(f"{len(kinds)} step kinds given for a {k}-step dispatch.")
    runs = [(None, 0, k)] if kinds is None else step_runs(kinds)

    def multi_step(state, batches: dict) -> tuple[Any, dict]:
        """K steps in one program; metrics leaves get a leading axis of K."""
        lead = {leaf.shape[0] for leaf in jax.tree.leaves(batches)}
        if lead != {k}:
            raise ValueError(f"A {k}-step dispatch needs batch leaves with a leading axis of {k} "
                             f"(shape (K, n_disc, B, ...)), got leading sizes {sorted(lead)}.")
        parts = []
        for due, start, length in runs:
            fn = step_fn if due is None else step_fn.program(due)
            chunk = batches if length == k else jax.tree.map(lambda b, s=start, n=length: b[s:s + n], batches)
            state, metrics = jax.lax.scan(fn, state, chunk, unroll=length if unroll else 1)
            parts.append(metrics)
        return state, parts[0] if len(parts) == 1 else jax.tree.map(lambda *m: jnp.concatenate(m), *parts)

    return multi_step


def jit_multi_step(step_fn: StepFn, k: int, mesh: Mesh | None = None, unroll: bool = False,
                   example_axis: int = K_AXIS_EXAMPLE_AXIS, kinds: StepKinds | None = None) -> StepFn:
    """jit the K-step function (state donated); with `mesh`, state replicated and the batches' `example_axis`
    (the GAN's (K, n_disc, B, ...): 2; a translation batch (K, B, ...): 1) split over devices."""
    multi = make_multi_step(step_fn, k, unroll, kinds)
    if mesh is None:
        return jit_train_step(multi, options_of=step_fn)
    return jit_data_parallel(multi, mesh, example_axis=example_axis, options_of=step_fn)


def split_metrics(metrics: dict[str, Any], first_step: int) -> list[tuple[int, dict[str, float]]]:
    """Host rows `(step, {name: float})` for each of the K steps of a dispatch, numbered from `first_step`."""
    host = {name: np.asarray(value) for name, value in jax.device_get(metrics).items()}
    k = {v.shape[0] for v in host.values()}
    if len(k) != 1:
        raise ValueError(f"K-step metrics must share one leading axis, got sizes {sorted(k)}.")
    return [(first_step + i, {name: float(v[i]) for name, v in host.items()}) for i in range(k.pop())]


def dispatch_sizes(start: int, stop: int, k: int) -> Iterator[int]:
    """Steps per dispatch to go from step `start` to `stop`: K while K fit, then the remainder as single steps."""
    step = start
    while step < stop:
        size = k if stop - step >= k else 1
        yield size
        step += size


def dispatch_batches(step_batches: Iterator[dict], sizes: Iterable[int]) -> Iterator[dict]:
    """Stack consecutive host step-batches (n_disc, B, ...) into one (size, n_disc, B, ...) batch per dispatch."""
    for size in sizes:
        group = [next(step_batches) for _ in range(size)]
        yield jax.tree.map(lambda *leaves: np.stack(leaves), *group)
