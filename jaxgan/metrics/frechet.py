"""Fréchet distance between two Gaussians, the core of FID (Heusel et al., 2017).

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2)

pytorch-fid computes tr sqrt(S1 S2) with `scipy.linalg.sqrtm` of the non-symmetric product. Here it is
computed from symmetric eigendecompositions instead, which is stable and always real:
S1 S2 is similar to A S2 A with A = sqrt(S1) (A^-1 (A S2 A) A = A A S2), so its eigenvalues are
those of the symmetric PSD matrix A S2 A and tr sqrt(S1 S2) = sum_i sqrt(max(lambda_i, 0)).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.metrics.registry import MetricInputs, register_metric


def _psd_sqrt(xp: Any, matrix: Any) -> Any:
    """Return the symmetric square root of a symmetric PSD matrix (negative eigenvalues clipped)."""
    eigvals, eigvecs = xp.linalg.eigh(matrix)
    root = xp.sqrt(xp.clip(eigvals, 0.0, None))
    return (eigvecs * root) @ eigvecs.T


def _trace_sqrt_product(xp: Any, sigma1: Any, sigma2: Any) -> Any:
    """Return tr sqrt(sigma1 @ sigma2) as sum sqrt(eig(A sigma2 A)), A = sqrt(sigma1)."""
    root1 = _psd_sqrt(xp, sigma1)
    middle = root1 @ sigma2 @ root1
    middle = 0.5 * (middle + middle.T)  # symmetrise away rounding so eigh sees a symmetric matrix
    return xp.sum(xp.sqrt(xp.clip(xp.linalg.eigvalsh(middle), 0.0, None)))


def _frechet(xp: Any, mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> Any:
    """Return the Fréchet distance written once for numpy and jax.numpy."""
    diff = mu1 - mu2
    trace_term = xp.trace(sigma1) + xp.trace(sigma2) - 2.0 * _trace_sqrt_product(xp, sigma1, sigma2)
    return diff @ diff + trace_term


def _check_shapes(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> None:
    """Raise ValueError unless the means are (D,) and the covariances (D, D) for one D."""
    dim = np.shape(mu1)[-1] if np.ndim(mu1) == 1 else None
    ok = (
        dim is not None
        and np.shape(mu2) == (dim,)
        and np.shape(sigma1) == (dim, dim)
        and np.shape(sigma2) == (dim, dim)
    )
    if not ok:
        raise ValueError(
            "frechet_distance needs mu1, mu2 of shape (D,) and sigma1, sigma2 of shape (D, D); got "
            f"{np.shape(mu1)}, {np.shape(sigma1)}, {np.shape(mu2)}, {np.shape(sigma2)}."
        )


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Return the Fréchet distance, computed in float64 on the host.

    Why the host: JAX runs in float32 unless jax_enable_x64 is on, and in float32 the eigenvalues
    of a 2048x2048 covariance carry absolute errors of about 1e-7 * |S|; the square root turns each
    tiny eigenvalue's error into ~3e-4 * sqrt|S|, and 2048 of them move FID by whole units. Two
    float64 eigendecompositions of 2048x2048 take about a second on a CPU, small beside
    featurising the samples, which is what runs on the device. `frechet_distance_device` is the
    same formula in JAX for callers that enable x64 or use small feature dimensions.
    """
    _check_shapes(mu1, sigma1, mu2, sigma2)
    arrays = [np.asarray(a, dtype=np.float64) for a in (mu1, sigma1, mu2, sigma2)]
    _check_finite(arrays)
    return float(_frechet(np, *arrays))


def _check_finite(arrays: list[np.ndarray]) -> None:
    """Raise ValueError when a mean or covariance holds NaN or infinity (the extractor's features overflowed)."""
    names = ("the generated mean", "the generated covariance", "the reference mean", "the reference covariance")
    bad = [name for name, array in zip(names, arrays, strict=True) if not np.all(np.isfinite(array))]
    if bad:
        raise ValueError(f"FID is undefined: {' and '.join(bad)} hold NaN or infinity, so the features overflowed; "
                         "check the extractor's weights (a corrupt or untrained weights file) and the images' range.")


@jax.jit
def frechet_distance_device(mu1: jax.Array, sigma1: jax.Array, mu2: jax.Array,
                            sigma2: jax.Array) -> jax.Array:
    """Return the Fréchet distance in JAX in the inputs' dtype (float64 needs jax_enable_x64)."""
    return _frechet(jnp, mu1, sigma1, mu2, sigma2)


def frechet_distance_from_features(features1: Any, features2: Any) -> float:
    """Return the Fréchet distance of two (N, D) feature sets (np.cov with ddof=1, as pytorch-fid)."""
    f1, f2 = (np.asarray(f, dtype=np.float64) for f in (features1, features2))
    if f1.ndim != 2 or f2.ndim != 2 or len(f1) < 2 or len(f2) < 2:
        raise ValueError(
            f"need two (N, D) feature arrays with N >= 2; got shapes {f1.shape} and {f2.shape}."
        )
    return frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))


@register_metric("fid", keys={"fid": "min"}, default=True)
def fid(inputs: MetricInputs) -> dict[str, float]:
    """FID: the Fréchet distance of the generated features' Gaussian from the reference's."""
    stats, reference = inputs.stats, inputs.reference
    return {"fid": frechet_distance(stats.mean, stats.covariance(), reference.mu, reference.sigma)}
