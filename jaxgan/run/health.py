"""Run health: non-finite metrics and arrays stop a run with the culprit named; a run whose gradients died is
flagged."""

from __future__ import annotations

import logging
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxgan.errors import JaxganError

log = logging.getLogger(__name__)


class NonFiniteError(JaxganError, FloatingPointError):
    """Training produced a NaN or infinity; the run stops and keeps its last good checkpoint."""

    def naming_arrays(self, state: Any) -> NonFiniteError:
        """This error, extended with the arrays of `state` that are not finite (read on the host, params first)."""
        bad = non_finite_arrays(state)
        if not bad:
            return self
        return NonFiniteError(f"{self} Non-finite arrays in the state after that step: {_listed(bad)}.")


def check_state_finite(state: Any, step: int) -> None:
    """Raise NonFiniteError naming the arrays of `state` that hold a NaN or infinity: a gradient can go non-finite
    while the loss stays finite, on a step whose `Grad/*` norms were not computed (`jaxgan.engine.grad_norms`)."""
    bad = non_finite_arrays(state)
    if bad:
        raise NonFiniteError(f"Non-finite arrays in the state after step {step}, with finite losses: {_listed(bad)}. "
                             "The run stopped without saving this state; the last good checkpoint is kept. Lower "
                             "optim.*.lr, or add optim.*.grad_clip or a gradient penalty.")


def _listed(names: list[str]) -> str:
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def non_finite_arrays(state: Any) -> list[str]:
    """Dotted paths of the float arrays of `state` holding a NaN or infinity, params before optimizer moments."""
    flat = [(path, leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]
            if jnp.issubdtype(leaf.dtype, jnp.floating)]
    finite = jax.device_get(_all_finite([leaf for _, leaf in flat]))  # one program and one transfer for the state
    bad = [jax.tree_util.keystr(path, simple=True, separator=".") for (path, _), ok in zip(flat, finite, strict=True)
           if not ok]
    return sorted(bad, key=lambda k: ("opt_state" in k, k))


@jax.jit
def _all_finite(leaves: list[jax.Array]) -> list[jax.Array]:
    return [jnp.isfinite(leaf).all() for leaf in leaves]


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
            if key.startswith("Grad/") and key.endswith("_norm"):  # on the logged steps only (engine.grad_norms)
                zero = all(m[key] == 0.0 for _, m in rows if key in m)
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
