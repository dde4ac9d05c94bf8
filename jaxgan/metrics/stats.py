"""Streaming feature statistics (mean, covariance) and the .npz cache of reference statistics.

Each batch's count, mean and centred scatter matrix sum (x - mean_b)(x - mean_b)^T are computed on
the device in float32; they are merged on the host in float64 with Chan et al.'s pairwise update

    M2 = M2_a + M2_b + delta delta^T * n_a n_b / n,   delta = mean_b - mean_a,

so no sample is kept and no large uncentred sum loses precision. The covariance is M2 / (n - 1),
np.cov's default and pytorch-fid's.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.files.downloads import cache_dir
from jaxgan.files.npzfile import open_npz

KEY_FIELDS = ("dataset", "split", "resolution", "extractor")


@jax.jit
def _batch_moments(features: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Return a batch's mean and centred scatter matrix (sum of outer products about the mean)."""
    mean = jnp.mean(features, axis=0)
    centred = features - mean
    return mean, centred.T @ centred


@dataclasses.dataclass(frozen=True)
class FeatureStats:
    """Running count, mean and centred scatter matrix (float64, host) of a feature stream."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> FeatureStats:
        """Return statistics of no samples for D = `dim` features."""
        return cls(0, np.zeros(dim, np.float64), np.zeros((dim, dim), np.float64))

    def update(self, features: Any) -> FeatureStats:
        """Return the statistics with the (B, D) batch `features` merged in."""
        features = jnp.asarray(features, jnp.float32)
        if features.ndim != 2 or features.shape[1] != self.mean.shape[0]:
            raise ValueError(f"expected features (B, {self.mean.shape[0]}); got {features.shape}.")
        n_b = features.shape[0]
        if n_b == 0:
            return self
        mean_b, m2_b = (np.asarray(a, np.float64) for a in jax.device_get(_batch_moments(features)))
        n = self.count + n_b
        delta = mean_b - self.mean
        mean = self.mean + delta * (n_b / n)
        m2 = self.m2 + m2_b + np.outer(delta, delta) * (self.count * n_b / n)
        return FeatureStats(n, mean, m2)

    def covariance(self) -> np.ndarray:
        """Return the unbiased (ddof=1) covariance; needs at least 2 samples."""
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 samples; have {self.count}.")
        return self.m2 / (self.count - 1)


def stats_of(batches: Any, dim: int | None = None) -> FeatureStats:
    """Return FeatureStats of an iterable of (B, D) feature batches."""
    stats = None if dim is None else FeatureStats.empty(dim)
    for batch in batches:
        if stats is None:
            stats = FeatureStats.empty(np.shape(batch)[1])
        stats = stats.update(batch)
    if stats is None:
        raise ValueError("no feature batches given.")
    return stats


@dataclasses.dataclass(frozen=True)
class ReferenceStats:
    """Reference-set statistics for FID (mu, sigma) and a feature sample for KID and P/R."""

    mu: np.ndarray
    sigma: np.ndarray
    count: int
    features: np.ndarray | None = None  # (N_kept, D) float32 pool features, or None
    key: dict[str, str] = dataclasses.field(default_factory=dict)


def _slug(value: Any) -> str:
    """Return `value` as a file-name-safe token."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", str(value)).strip("-") or "none"


def default_cache_dir() -> Path:
    """ref_stats/ in jaxgan's cache folder (`jaxgan.files.downloads.cache_dir`), for training and `jaxgan evaluate`."""
    return cache_dir() / "ref_stats"


def cache_key(*, dataset: str, split: str, resolution: int, extractor: str) -> dict[str, str]:
    """Return the key that identifies a set of reference statistics."""
    return {"dataset": str(dataset), "split": str(split), "resolution": str(int(resolution)),
            "extractor": str(extractor)}


def reference_stats_path(cache_dir: str | Path, *, dataset: str, split: str, resolution: int,
                         extractor: str) -> Path:
    """Return the cache file `<cache_dir>/<dataset>_<split>_<resolution>px_<extractor>.npz`."""
    name = f"{_slug(dataset)}_{_slug(split)}_{int(resolution)}px_{_slug(extractor)}.npz"
    return Path(cache_dir) / name


def save_reference_stats(path: str | Path, stats: ReferenceStats) -> Path:
    """Write `stats` (with its key) to an .npz file, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"mu": stats.mu, "sigma": stats.sigma, "count": np.asarray(stats.count)}
    if stats.features is not None:
        arrays["features"] = np.asarray(stats.features, np.float32)
    arrays.update({f"key_{k}": np.asarray(v) for k, v in stats.key.items()})
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # atomic: readers never see half a file
    with partial.open("wb") as f:
        np.savez(f, **arrays)
    os.replace(partial, path)
    return path


def load_reference_stats(path: str | Path, expected_key: dict[str, str] | None = None
                         ) -> ReferenceStats:
    """Read statistics written by `save_reference_stats`; check their key against `expected_key`.

    Also accepts pytorch-fid's `--save-stats` files (arrays `mu` and `sigma` only, no key).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference statistics file {path} does not exist.")
    with open_npz(path, "reference statistics", "pass a statistics .npz (mu, sigma) or compute them anew.") as data:
        if "mu" not in data or "sigma" not in data:
            raise ValueError(f"{path} has no 'mu' and 'sigma' arrays; is it a statistics file?")
        key = {k[4:]: str(data[k]) for k in data.files if k.startswith("key_")}
        features = np.asarray(data["features"]) if "features" in data else None
        count = int(data["count"]) if "count" in data else 0
        stats = ReferenceStats(np.asarray(data["mu"], np.float64),
                               np.asarray(data["sigma"], np.float64), count, features, key)
    for field, want in (expected_key or {}).items():
        if field in key and key[field] != want:
            raise ValueError(
                f"{path} holds statistics for {field}={key[field]!r}, not {want!r}; delete it "
                "or point to the statistics for this setting."
            )
    return stats
