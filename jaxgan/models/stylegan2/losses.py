"""StyleGAN2's own objective pieces as pure functions: style mixing and the path-length phase's batch.

Follows NVlabs stylegan2-ada-pytorch `training/loss.py` (StyleGAN2Loss). The shared terms live elsewhere: the
non-saturating losses in `jaxgan.terms.losses`, R1 (`ZeroCenteredPenalty`) and the path-length penalty in
`jaxgan.terms.regularizers`, the G_ema schedule in `jaxgan.terms.ema`; `jaxgan.objectives.stylegan2_phases` puts them in
its phase table.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


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
