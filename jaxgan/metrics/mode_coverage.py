"""Mode-collapse metrics for 2-D Gaussian mixtures (as in VEEGAN and PacGAN).

A sample is *high quality* (HQ) when it lies within 3 standard deviations of its nearest mode
centre. A mode is *captured* when at least `min_count` HQ samples are assigned to it (default 20,
i.e. a fifth of the 100 samples a 25-mode grid expects from 2,500 samples; lower it for fewer
samples). The KL divergence is that of the histogram of HQ samples over modes from the uniform
histogram, KL(p || u) = sum_i p_i log(p_i * M), 0 for a perfect spread and log M when all HQ
samples sit in one mode; it is NaN when there is no HQ sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxgan.metrics.registry import MetricInputs, register_metric

HQ_STDS = 3.0  # a sample within this many stds of its nearest mode centre is high quality
DEFAULT_MIN_COUNT = 20  # HQ samples a mode needs to count as captured


def mode_histogram(samples: Any, centres: Any, std: float | Any) -> np.ndarray:
    """Return the (M,) count of high-quality samples assigned to each mode (nearest centre)."""
    samples = np.asarray(samples, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    if samples.ndim != 2 or centres.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(
            f"need samples (N, D) and mode centres (M, D) with one D; got {samples.shape} and "
            f"{centres.shape}."
        )
    std = np.broadcast_to(np.asarray(std, dtype=np.float64), (len(centres),))
    if np.any(std <= 0):
        raise ValueError(f"mode std must be positive; got {std}.")
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)
    nearest = np.argmin(distances, axis=1)
    high_quality = distances[np.arange(len(samples)), nearest] <= HQ_STDS * std[nearest]
    return np.bincount(nearest[high_quality], minlength=len(centres))


def kl_from_uniform(counts: Any) -> float:
    """Return KL(p || uniform) of the histogram `counts` (0 log 0 = 0; NaN for an empty one)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(np.sum(p * np.log(p * len(counts))))


def mode_coverage(
    samples: Any, centres: Any, std: float | Any, *, min_count: int = DEFAULT_MIN_COUNT
) -> dict[str, float]:
    """Return modes_captured, hq_fraction and mode_kl for 2-D `samples` against mode `centres`."""
    counts = mode_histogram(samples, centres, std)
    return {
        "modes_captured": float(np.sum(counts >= min_count)),
        "hq_fraction": float(counts.sum() / len(np.asarray(samples))),
        "mode_kl": kl_from_uniform(counts),
    }


@register_metric("modes", keys={"modes_captured": "max", "hq_fraction": "max", "mode_kl": "min"}, needs=("points",))
def modes(inputs: MetricInputs, *, mode_min_count: int = DEFAULT_MIN_COUNT) -> dict[str, float]:
    """Mode coverage of the generated 2-D points against the mixture's modes."""
    return mode_coverage(inputs.points, inputs.centres, inputs.std, min_count=mode_min_count)
