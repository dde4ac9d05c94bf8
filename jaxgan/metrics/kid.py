"""Kernel Inception Distance (Binkowski et al., 2018): unbiased MMD^2 with a cubic polynomial kernel.

Defaults follow torch-fidelity: k(x, y) = (x.y / d + 1)^3, 100 subsets of 1000 samples drawn without
replacement from each set, the unbiased estimator

    MMD^2 = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (m(m-1))
            - 2 sum_{i,j} k(x_i, y_j) / m^2

and the mean and (population) standard deviation over subsets.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import JaxganError
from jaxgan.metrics.registry import MetricInputs, register_metric


class KIDSampleError(JaxganError, ValueError):
    """Too few samples for KID's subsets: the estimate would silently change its definition if shrunk."""


def check_kid_samples(subset_size: int, num_generated: int, num_reference: int) -> None:
    """Raise KIDSampleError unless both sets hold at least `subset_size` samples (and subset_size >= 2)."""
    if subset_size < 2 or subset_size > min(num_generated, num_reference):
        raise KIDSampleError(
            f"KID draws subsets of {subset_size} samples from each set, but there are {num_generated} generated "
            f"and {num_reference} reference samples; generate more samples (eval.num_samples / --num-samples), "
            f"keep more reference features, or lower the subset size (eval.kid_subset_size / --kid-subset-size) "
            "and report it with the score.")


def polynomial_kernel(x: jax.Array, y: jax.Array, degree: int = 3, coef0: float = 1.0) -> jax.Array:
    """Return the (n, m) matrix (x @ y.T / d + coef0) ** degree (gamma = 1/d, as torch-fidelity)."""
    return (x @ y.T / x.shape[-1] + coef0) ** degree


def _offdiag_mean(kernel: jax.Array) -> jax.Array:
    """Return the mean of the off-diagonal entries of a square matrix."""
    m = kernel.shape[0]
    return (jnp.sum(kernel) - jnp.trace(kernel)) / (m * (m - 1))


@partial(jax.jit, static_argnames=("degree",))
def mmd2_unbiased(x: jax.Array, y: jax.Array, degree: int = 3, coef0: float = 1.0) -> jax.Array:
    """Return the unbiased MMD^2 of two equal-size (m, D) samples under the polynomial kernel."""
    k_xx = polynomial_kernel(x, x, degree, coef0)
    k_yy = polynomial_kernel(y, y, degree, coef0)
    k_xy = polynomial_kernel(x, y, degree, coef0)
    return _offdiag_mean(k_xx) + _offdiag_mean(k_yy) - 2.0 * jnp.mean(k_xy)


@partial(jax.jit, static_argnames=("degree",))
def _subset_mmd2(x: jax.Array, y: jax.Array, ix: jax.Array, iy: jax.Array, degree: int,
                 coef0: float) -> jax.Array:
    """Return the MMD^2 of each subset pair (x[ix[s]], y[iy[s]]), one after another on device."""
    return jax.lax.map(lambda idx: mmd2_unbiased(x[idx[0]], y[idx[1]], degree, coef0), (ix, iy))


def _as_features(name: str, features: Any) -> np.ndarray:
    """Return `features` as float32 (N, D) or raise ValueError naming the argument."""
    array = np.asarray(features, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"{name} must be an (N, D) feature array; got shape {array.shape}.")
    return array


def kernel_inception_distance(
    features1: Any,
    features2: Any,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """Return (mean, std) of the unbiased MMD^2 over `num_subsets` random subsets of each set.

    Runs on the default JAX device in float32 (as torch-fidelity's float32 numpy). Subsets are
    drawn with numpy's Generator(seed) so the value is reproducible.
    """
    x, y = _as_features("features1", features1), _as_features("features2", features2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}.")
    check_kid_samples(subset_size, len(x), len(y))
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1; got {num_subsets}.")
    rng = np.random.default_rng(seed)
    subsets = [(rng.choice(len(x), subset_size, replace=False),
                rng.choice(len(y), subset_size, replace=False)) for _ in range(num_subsets)]
    ix, iy = (np.stack(idx) for idx in zip(*subsets, strict=True))
    values = _subset_mmd2(jnp.asarray(x), jnp.asarray(y), jnp.asarray(ix), jnp.asarray(iy),
                          degree, coef0)
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std())


def _check_kid_request(num_generated: int, reference: Any, *, kid_subset_size: int, **_: Any) -> None:
    """Before any sample is drawn: both sets must hold a subset's worth of samples (when the reference's are known)."""
    if reference.features is not None:
        check_kid_samples(kid_subset_size, num_generated, len(reference.features))


@register_metric("kid", keys={"kid_mean": "min", "kid_std": None}, needs=("features", "reference_features"),
                 check=_check_kid_request, default=True)
def kid(inputs: MetricInputs, *, kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict[str, float]:
    """KID of the generated features against the reference's, with the subset size it used."""
    check_kid_samples(kid_subset_size, len(inputs.features), len(inputs.reference.features))
    mean, std = kernel_inception_distance(inputs.features, inputs.reference.features, num_subsets=kid_subsets,
                                          subset_size=kid_subset_size, seed=inputs.seed)
    return {"kid_mean": mean, "kid_std": std, "kid_subset_size": float(kid_subset_size)}
