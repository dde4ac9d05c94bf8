"""Improved precision and recall (Kynkäänniemi et al., 2019) from k-nearest-neighbour radii.

Each set's manifold is the union of balls around its samples, a ball's radius being the distance
to the sample's k-th nearest neighbour in its own set (k = 3; the sample itself is not counted).
Precision is the share of generated samples inside the real manifold, recall the share of real
samples inside the generated manifold. Distances are computed block by block on the device from
squared norms, as in NVIDIA's reference code, so memory stays O(block_size * N).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.metrics.protocol import pr_features
from jaxgan.metrics.registry import MetricInputs, register_metric


def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
    """Return the (n, m) squared Euclidean distances |a_i - b_j|^2, clipped at 0."""
    sq = jnp.sum(a * a, axis=1)[:, None] - 2.0 * (a @ b.T) + jnp.sum(b * b, axis=1)[None, :]
    return jnp.maximum(sq, 0.0)


@partial(jax.jit, static_argnames=("k",))
def _kth_block(block: jax.Array, points: jax.Array, k: int) -> jax.Array:
    """Return each block row's squared distance to its k-th nearest point (itself = 0th)."""
    neg_nearest, _ = jax.lax.top_k(-_squared_distances(block, points), k + 1)
    return -neg_nearest[:, k]


@jax.jit
def _inside_block(block: jax.Array, centres: jax.Array, radii_sq: jax.Array) -> jax.Array:
    """Return for each block row whether it lies within some centre's ball."""
    return jnp.any(_squared_distances(block, centres) <= radii_sq[None, :], axis=1)


def _blocks(points: np.ndarray, block_size: int):
    """Yield (padded block, valid count) pieces of `points` with a fixed block shape."""
    for start in range(0, len(points), block_size):
        block = points[start : start + block_size]
        valid = len(block)
        if valid < block_size:
            block = np.concatenate([block, np.repeat(block[-1:], block_size - valid, axis=0)])
        yield block, valid


def knn_radii(points: Any, k: int = 3, block_size: int = 1024) -> np.ndarray:
    """Return the squared distance from each point to its k-th nearest other point, shape (N,)."""
    points = np.asarray(points, dtype=np.float32)
    if not 1 <= k < len(points):
        raise ValueError(f"k={k} must be in [1, N-1] = [1, {len(points) - 1}].")
    size = min(block_size, len(points))
    all_points = jnp.asarray(points)
    radii = [np.asarray(_kth_block(jnp.asarray(b), all_points, k))[:n] for b, n in _blocks(points, size)]
    return np.concatenate(radii)


def manifold_coverage(queries: Any, centres: Any, radii_sq: Any, block_size: int = 1024) -> float:
    """Return the share of `queries` inside the union of balls (centres, radii_sq)."""
    queries = np.asarray(queries, dtype=np.float32)
    size = min(block_size, len(queries))
    centres, radii_sq = jnp.asarray(centres, jnp.float32), jnp.asarray(radii_sq, jnp.float32)
    hits = sum(
        int(np.sum(np.asarray(_inside_block(jnp.asarray(b), centres, radii_sq))[:n]))
        for b, n in _blocks(queries, size)
    )
    return hits / len(queries)


def precision_recall(
    real_features: Any, fake_features: Any, *, k: int = 3, block_size: int = 1024
) -> tuple[float, float]:
    """Return (precision, recall) of fake features against real features, both (N, D)."""
    real = np.asarray(real_features, dtype=np.float32)
    fake = np.asarray(fake_features, dtype=np.float32)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"need (N, D) real and fake features with one D; got {real.shape} and {fake.shape}."
        )
    precision = manifold_coverage(fake, real, knn_radii(real, k, block_size), block_size)
    recall = manifold_coverage(real, fake, knn_radii(fake, k, block_size), block_size)
    return precision, recall


@register_metric("pr", keys={"precision": "max", "recall": "max"}, needs=("features", "reference_features"),
                 describe=lambda extractor: {"pr_features": pr_features(extractor)}, default=True)
def precision_recall_metric(inputs: MetricInputs, *, pr_k: int = 3) -> dict[str, float]:
    """Precision and recall of the generated features against the reference's."""
    precision, recall = precision_recall(inputs.reference.features, inputs.features, k=pr_k)
    return {"precision": precision, "recall": recall}
