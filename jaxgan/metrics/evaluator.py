"""Evaluate a sampler: generate and featurise batch by batch, then compute the chosen metrics.

Only one batch of images exists at a time. The pool features stream into float64 mean/covariance
(`FeatureStats`); KID and precision/recall need the features themselves, and IS the logits, so
those are kept on the host (8 KB per sample for 2048-d features) only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.metrics.extractors import Extractor
from jaxgan.metrics.mode_coverage import DEFAULT_MIN_COUNT
from jaxgan.metrics.protocol import quantise
from jaxgan.metrics.registry import Metric, MetricInputs, check_options, default_metrics, get_metrics
from jaxgan.metrics.stats import (
    FeatureStats,
    ReferenceStats,
    cache_key,
    load_reference_stats,
    reference_stats_path,
    save_reference_stats,
)

RANGE_TOLERANCE = 1e-3  # images may overshoot [-1, 1] by this much (float rounding of tanh)

SampleFn = Callable[[jax.Array, int], Any]


def check_image_range(images: Any, where: str = "images") -> jax.Array:
    """Return images as a float32 NHWC device array; raise ValueError unless they lie in [-1, 1]."""
    images = jnp.asarray(images, dtype=jnp.float32)
    if images.ndim != 4:
        raise ValueError(f"{where} must be NHWC (N, H, W, C); got shape {images.shape}.")
    lo, hi = (float(v) for v in jax.device_get((jnp.min(images), jnp.max(images))))
    if lo < -1.0 - RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE or not np.isfinite(lo + hi):
        raise ValueError(
            f"{where} must lie in [-1, 1] (jaxgan's convention); got values in [{lo:.4g}, {hi:.4g}]. "
            "Map uint8 images with x / 127.5 - 1 and [0, 1] images with 2 * x - 1."
        )
    return images


def sample_batches(sample_fn: SampleFn, *, num_samples: int, batch_size: int, seed: int):
    """Yield full batches `sample_fn(fold_in(key(seed), i), batch_size)` covering num_samples.

    Every call asks for a full batch, so the sampler and the extractor compile one shape each;
    `featurise(..., limit=num_samples)` drops the surplus of the last batch.
    """
    if num_samples < 1 or batch_size < 1:
        raise ValueError(f"num_samples and batch_size must be >= 1; got {num_samples}, {batch_size}.")
    key = jax.random.key(seed)
    for i in range(-(-num_samples // batch_size)):
        yield sample_fn(jax.random.fold_in(key, i), batch_size)


def featurise(batches: Iterable[Any], extractor: Extractor, *, keep_features: bool,
              keep_logits: bool, limit: int | None = None
              ) -> tuple[FeatureStats, np.ndarray | None, np.ndarray | None]:
    """Return streaming stats of the pool features and, if asked, all features and logits.

    A batch smaller than the first is padded to its size (and the padding's outputs dropped) so
    the extractor compiles one shape. With `limit`, only the first `limit` images count and
    iteration stops once they are seen.
    """
    stats, features, logits, seen, size = None, [], [], 0, None
    for images in batches:
        images = jnp.asarray(images)
        count = images.shape[0] if limit is None else min(images.shape[0], limit - seen)
        size = size or images.shape[0]
        if images.shape[0] < size:
            images = jnp.concatenate([images, jnp.repeat(images[-1:], size - images.shape[0], 0)])
        pool, batch_logits = extractor.features(images)
        pool, batch_logits = pool[:count], batch_logits[:count]
        seen += pool.shape[0]
        stats = (stats or FeatureStats.empty(pool.shape[-1])).update(pool)
        if keep_features:
            features.append(np.asarray(pool, np.float32))
        if keep_logits:
            logits.append(np.asarray(batch_logits, np.float32))
        if limit is not None and seen >= limit:
            break
    if stats is None:
        raise ValueError("no images to featurise.")
    return (stats, np.concatenate(features) if keep_features else None,
            np.concatenate(logits) if keep_logits else None)


def compute_reference_stats(batches: Iterable[Any], extractor: Extractor, *,
                            max_features: int | None = None,
                            key: dict[str, str] | None = None) -> ReferenceStats:
    """Return reference statistics of image batches (in [-1, 1], quantised to 8 bits), keeping up to `max_features`."""
    checked = (quantise(check_image_range(b, "reference images")) for b in batches)
    keep = max_features is None or max_features > 0
    stats, features, _ = featurise(checked, extractor, keep_features=keep, keep_logits=False)
    if features is not None and max_features is not None:
        features = features[:max_features]
    return ReferenceStats(stats.mean, stats.covariance(), stats.count, features, dict(key or {}))


def cached_reference_stats(
    cache_dir: str | Path,
    make_batches: Callable[[], Iterable[Any]],
    extractor: Extractor,
    *,
    dataset: str,
    split: str,
    resolution: int,
    max_features: int | None = None,
    extractor_id: str | None = None,
) -> ReferenceStats:
    """Load reference statistics from the cache, or compute them from `make_batches()` and save.

    `extractor_id` (default: the extractor's name) keys the cache; `extractor_id(name, weights)` of
    `jaxgan.metrics.extractors` names the weights file too, so two classifiers never share a cache entry.
    """
    key = cache_key(dataset=dataset, split=split, resolution=resolution, extractor=extractor_id or extractor.name)
    path = reference_stats_path(cache_dir, **key)
    if path.is_file():
        return load_reference_stats(path, expected_key=key)
    stats = compute_reference_stats(make_batches(), extractor, max_features=max_features, key=key)
    save_reference_stats(path, stats)
    return stats


def feature_metrics(
    stats: FeatureStats,
    features: np.ndarray | None,
    logits: np.ndarray | None,
    reference: ReferenceStats,
    metrics: Sequence[str],
    *,
    seed: int = 0,
    **metric_options: Any,
) -> dict[str, float]:
    """Return the chosen metrics of generated features against the reference statistics.

    `metric_options` are the registered metrics' options by name (kid_subsets, kid_subset_size, is_splits, pr_k, ...).
    """
    check_options(metric_options)
    inputs = MetricInputs(stats=stats, reference=reference, features=features, logits=logits, seed=seed)
    out: dict[str, float] = {}
    for metric in get_metrics(metrics):
        out.update(metric.run(inputs, metric_options))
    return out


def check_request(metrics: Sequence[str], reference: ReferenceStats, *, num_generated: int | None = None,
                  **metric_options: Any) -> tuple[Metric, ...]:
    """The image metrics called `metrics`; ValueError for unknown ones or a reference that lacks what they need.

    With `num_generated`, each metric's own check (e.g. KID's subset size) runs too, before any sample is drawn.
    """
    chosen = get_metrics(metrics)
    points = [metric.name for metric in chosen if metric.kind == "points"]
    if points:
        raise ValueError(f"metrics {points} score the points of a 2-D mixture (ring8, grid25), not images; the "
                         "trainer computes them (eval.metrics), or call evaluate_mixture_samples.")
    check_options(metric_options)
    needy = [metric.name for metric in chosen if "reference_features" in metric.needs]
    if needy and reference.features is None:
        raise ValueError(
            f"metrics {needy} need reference features, but the reference statistics hold only mu and sigma; "
            "rebuild them with compute_reference_stats(..., max_features=None) or leave those metrics out."
        )
    for metric in chosen:
        if num_generated is not None and metric.check is not None:
            metric.check(num_generated, reference, **metric.chosen_options(metric_options))
    return chosen


def evaluate_batches(
    batches: Iterable[Any],
    *,
    extractor: Extractor,
    reference_stats: ReferenceStats,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    limit: int | None = None,
    **metric_options: Any,
) -> dict[str, float | int | str]:
    """Return the metrics of image batches (NHWC in [-1, 1]) plus num_samples, num_reference and extractor.

    Images are quantised to 8 bits first (as a PNG round trip: pytorch-fid's input). With `limit`, only the first
    `limit` images are evaluated. `metrics` default to the registered defaults (fid, kid, is, pr).
    """
    metrics = default_metrics() if metrics is None else tuple(metrics)
    chosen = check_request(metrics, reference_stats, **metric_options)
    checked = (quantise(check_image_range(b)) for b in batches)
    stats, features, logits = featurise(checked, extractor,
                                        keep_features=any("features" in m.needs for m in chosen),
                                        keep_logits=any("logits" in m.needs for m in chosen), limit=limit)
    out: dict[str, float | int | str] = dict(feature_metrics(
        stats, features, logits, reference_stats, metrics, seed=seed, **metric_options))
    out.update(num_samples=stats.count, num_reference=reference_stats.count, extractor=extractor.name)
    for metric in chosen:
        out.update(metric.describe(extractor) if metric.describe else {})
    return out


def evaluate_samples(
    sample_fn: SampleFn,
    *,
    num_samples: int,
    batch_size: int,
    seed: int,
    extractor: Extractor,
    reference_stats: ReferenceStats,
    metrics: Sequence[str] | None = None,
    **metric_options: Any,
) -> dict[str, float | int | str]:
    """Return one flat dict of metrics of `num_samples` samples plus num_samples and extractor.

    `sample_fn(key, n)` returns n images, NHWC in [-1, 1]; batch i uses fold_in(key(seed), i). Keys: the result
    keys of the metrics asked for (e.g. fid, kid_mean, kid_std, kid_subset_size, is_mean, is_std, precision,
    recall). `metric_options` go to the metrics by name (kid_subsets, kid_subset_size, is_splits, pr_k, ...).
    """
    metrics = default_metrics() if metrics is None else tuple(metrics)
    check_request(metrics, reference_stats, num_generated=num_samples, **metric_options)
    batches = sample_batches(sample_fn, num_samples=num_samples, batch_size=batch_size, seed=seed)
    return evaluate_batches(batches, extractor=extractor, reference_stats=reference_stats,
                            metrics=metrics, seed=seed, limit=num_samples, **metric_options)


def evaluate_mixture_samples(
    sample_fn: SampleFn,
    *,
    num_samples: int,
    batch_size: int,
    seed: int,
    centres: Any,
    std: float,
    min_count: int = DEFAULT_MIN_COUNT,
    metrics: Sequence[str] = ("modes",),
    **metric_options: Any,
) -> dict[str, float | int | str]:
    """Return the 2-D mixture metrics (default: mode coverage) of a sampler (`sample_fn(key, n) -> (n, 2)` points).

    `min_count` is mode coverage's `mode_min_count`; `metric_options` go to the metrics by name.
    """
    chosen = get_metrics(metrics)
    images = [metric.name for metric in chosen if metric.kind != "points"]
    if images:
        raise ValueError(f"metrics {images} score images, not 2-D mixture samples; use evaluate_samples.")
    options = {"mode_min_count": min_count, **metric_options}
    check_options(options)
    key = jax.random.key(seed)
    chunks = [np.asarray(sample_fn(jax.random.fold_in(key, i), batch_size))
              for i in range(-(-num_samples // batch_size))]
    points = np.concatenate(chunks)[:num_samples]
    inputs = MetricInputs(points=points, centres=np.asarray(centres), std=std, seed=seed)
    out: dict[str, float | int | str] = {}
    for metric in chosen:
        out.update(metric.run(inputs, options))
    out.update(num_samples=len(points), extractor="none")
    return out
