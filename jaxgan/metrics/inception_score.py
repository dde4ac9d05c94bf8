"""Inception Score (Salimans et al., 2016): exp E_x KL(p(y|x) || p(y)), mean and std over splits.

As in the original code (openai/improved-gan), the N samples are cut in order into `splits`
contiguous parts (part i = rows [i*N//splits, (i+1)*N//splits)), p(y) is the mean of p(y|x) within
a part, and the score is the mean and population std of the per-part exp(mean KL). For the FID
Inception network the original code feeds logits *without* the fc bias (torch-fidelity's
'logits_unbiased'); `InceptionExtractor` returns those.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.metrics.registry import MetricInputs, register_metric


@jax.jit
def _split_score(logits: jax.Array) -> jax.Array:
    """Return exp(mean_x KL(p(y|x) || mean_x p(y|x))) for one split of (n, K) logits."""
    log_p = jax.nn.log_softmax(logits, axis=-1)
    log_py = jnp.log(jnp.mean(jnp.exp(log_p), axis=0))
    kl = jnp.sum(jnp.exp(log_p) * (log_p - log_py), axis=-1)
    return jnp.exp(jnp.mean(kl))


def inception_score(logits: Any, splits: int = 10) -> tuple[float, float]:
    """Return (mean, std) of the Inception Score of (N, K) class logits over `splits` parts."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, num_classes); got shape {logits.shape}.")
    if not 1 <= splits <= len(logits):
        raise ValueError(f"splits={splits} must be in [1, N={len(logits)}]; lower it or add samples.")
    n = len(logits)
    bounds = [(i * n // splits, (i + 1) * n // splits) for i in range(splits)]
    scores = np.array([float(_split_score(jnp.asarray(logits[a:b]))) for a, b in bounds])
    return float(scores.mean()), float(scores.std())


@register_metric("is", keys={"is_mean": "max", "is_std": None}, needs=("logits",), default=True)
def inception_score_metric(inputs: MetricInputs, *, is_splits: int = 10) -> dict[str, float]:
    """IS of the generated logits (at most one split per sample)."""
    mean, std = inception_score(inputs.logits, splits=min(is_splits, len(inputs.logits)))
    return {"is_mean": mean, "is_std": std}
