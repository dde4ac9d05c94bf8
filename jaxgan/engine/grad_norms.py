"""Metrics computed only on the train steps whose metrics are logged: gradient norms and D's output statistics.

A norm is one more pass over every gradient leaf, and it keeps XLA from fusing the gradient into the optimizer
update. On a small model that is a tenth of the step (the seeds' MLP GAN at batch 64 on one CPU core, median of
16 alternating rounds: 30.8k images/s with a norm every step, 34.3k without). The loop writes one row per
`train.log_every` steps, so the norms are computed under a `lax.cond` on the step counter (`computed_when`): 34.1k
images/s. They are NaN on the other steps, whose rows drop them on the host (`drop_unlogged`). The state does not
depend on them.

D's output statistics (`D/real`, `D/fake` and their sigmoid means) are read only from the logged rows too, so the
GAN phases compute them in the same branch as D's norm (`logged_only`), with no cond of their own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import optax

_COMPUTED_WHEN: contextvars.ContextVar[jax.Array | None] = contextvars.ContextVar("grad_norms_when", default=None)


LOGGED_ONLY_PREFIXES = ("Grad/", "D/")  # the metrics that may be NaN placeholders on the steps not logged


def logged_only(metrics_fn: Callable[..., Any], *operands: Any) -> Any:
    """`metrics_fn(*operands)` (float arrays); inside `computed_when(flag)`, computed only on the steps where the
    traced flag holds, NaN on the others."""
    flag = _COMPUTED_WHEN.get()
    if flag is None:
        return metrics_fn(*operands)
    shapes = jax.eval_shape(metrics_fn, *operands)
    nans = lambda *_: jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shapes)
    return jax.lax.cond(flag, metrics_fn, nans, *operands)


def grad_norm(grads: Any) -> jax.Array:
    """The global L2 norm of `grads`; inside `computed_when(flag)`, NaN (not computed) on steps where flag is False."""
    return logged_only(optax.tree.norm, grads)


@contextlib.contextmanager
def computed_when(flag: jax.Array) -> Iterator[None]:
    """While a step is traced inside this, its `logged_only` metrics are computed only where the traced bool `flag`
    holds."""
    token = _COMPUTED_WHEN.set(flag)
    try:
        yield
    finally:
        _COMPUTED_WHEN.reset(token)


def is_grad_norm(metric: str) -> bool:
    """Whether `metric` is a gradient norm (`Grad/...`), the metrics `train.grad_norms=False` drops."""
    return metric.startswith("Grad/")


def is_logged_only(metric: str) -> bool:
    """Whether `metric` may be computed on the logged steps only (`Grad/...`, `D/...`)."""
    return metric.startswith(LOGGED_ONLY_PREFIXES)


def drop_unlogged(rows: list[tuple[int, dict[str, float]]], every: int) -> list[tuple[int, dict[str, float]]]:
    """The host rows `(step, metrics)` without the placeholders (`is_logged_only`) of steps that are not multiples
    of `every` (every <= 1: all rows keep them)."""
    if every <= 1:
        return rows
    return [(step, metrics if step % every == 0 else {k: v for k, v in metrics.items() if not is_logged_only(k)})
            for step, metrics in rows]
