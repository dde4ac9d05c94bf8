"""StyleGAN2's objective pieces as pure functions: style mixing, lazy path-length regularisation, G_ema schedule.

Follows NVlabs stylegan2-ada-pytorch `training/loss.py` (StyleGAN2Loss) and `training/training_loop.py` (G_ema).
The adversarial terms are jaxgan's own: `jaxgan.losses.non_saturating_g_loss` / `bce_d_loss` (softplus on logits)
and `jaxgan.regularizers.ZeroCenteredPenalty` for lazy R1. The phase table decides when each piece runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models.stylegan2.ops import normal

PyTree = Any


def mixing_cutoff(key: jax.Array, num_ws: int, prob: float = 0.9) -> jax.Array:
    """Layer from which the second latent's ws take over: U{1, ..., num_ws - 1} with `prob`, else num_ws (none)."""
    k_cut, k_mix = jax.random.split(key)
    cutoff = jax.random.randint(k_cut, (), 1, num_ws)
    return jnp.where(jax.random.uniform(k_mix) < prob, cutoff, num_ws)


def style_mix(ws: jax.Array, ws_other: jax.Array, cutoff: jax.Array) -> jax.Array:
    """ws [N, num_ws, w_dim] with the layers >= cutoff replaced by `ws_other`'s (one cutoff for the batch)."""
    layer = jnp.arange(ws.shape[1])[None, :, None]
    return jnp.where(layer >= cutoff, ws_other, ws)


def pl_batch_size(batch_size: int, shrink: int = 2) -> int:
    """The path-length phase's batch: batch_size // shrink (at least 1), as the reference's pl_batch_shrink."""
    return max(batch_size // shrink, 1)


def path_lengths(synthesize: Callable[[jax.Array], jax.Array], ws: jax.Array, key: jax.Array) -> jax.Array:
    """|J_w^T y| per example, y ~ N(0, I) / sqrt(H * W): sqrt(mean over ws of the squared grad of sum(img * y))."""
    img, vjp = jax.vjp(synthesize, ws)
    noise = normal(key, img.shape, jnp.float32) / np.sqrt(img.shape[1] * img.shape[2])
    (grads,) = vjp(noise.astype(img.dtype))  # d sum(img * noise) / d ws
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads.astype(jnp.float32)), axis=2), axis=1))


def path_length_loss(synthesize: Callable[[jax.Array], jax.Array], ws: jax.Array, key: jax.Array,
                     pl_mean: jax.Array, pl_weight: float = 2.0,
                     pl_decay: float = 0.01) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
    """(pl_weight * E[(|J^T y| - a)^2], new running mean a, metrics); a = lerp(pl_mean, E|J^T y|, pl_decay).

    As in the reference, the penalty uses the freshly updated mean (its gradient flows through the batch mean);
    the returned mean is detached, for the train state. Multiply the loss by the phase interval (4) when lazy.
    """
    lengths = path_lengths(synthesize, ws, key)
    new_mean = pl_mean + pl_decay * (jnp.mean(lengths) - pl_mean)
    penalty = jnp.square(lengths - new_mean)
    loss = pl_weight * jnp.mean(penalty)
    metrics = {"Loss/pl_penalty": jnp.mean(penalty), "Loss/G/reg": loss, "Loss/pl_mean": new_mean}
    return loss, jax.lax.stop_gradient(new_mean), metrics


def ema_beta(cur_nimg: jax.Array, batch_size: int, ema_kimg: float,
             ema_rampup: float | None = None) -> jax.Array:
    """G_ema decay for this step: 0.5 ** (batch / half-life), half-life = min(ema_kimg * 1000, cur_nimg * rampup)."""
    ema_nimg = jnp.asarray(ema_kimg * 1000.0, jnp.float32)
    if ema_rampup is not None:
        ema_nimg = jnp.minimum(ema_nimg, jnp.asarray(cur_nimg, jnp.float32) * ema_rampup)
    return jnp.power(0.5, batch_size / jnp.maximum(ema_nimg, 1e-8))


def ema_update(ema_params: PyTree, params: PyTree, beta: jax.Array) -> PyTree:
    """G_ema <- params + beta * (G_ema - params) (the reference's p.lerp(p_ema, beta)), leaf by leaf."""
    return jax.tree.map(lambda e, p: p + beta * (e - p), ema_params, params)
