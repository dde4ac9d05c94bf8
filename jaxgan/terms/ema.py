"""The exponential moving average of a net's params (G_ema): one update rule and its two decay schedules.

- `step_decay`: a fixed decay per train step, optionally warmed up as min(decay, (1 + t) / (10 + t)) so that the
  first averages track the params instead of the initialisation (the GAN objective's `ema.decay`, `ema.warmup`).
- `half_life_decay`: StyleGAN's schedule, a half-life counted in images: decay = 0.5 ** (batch / half-life);
  `ramped_half_life_decay` ramps the half-life up as min(half-life, images seen * rampup) (NVlabs
  stylegan2-ada-pytorch `training/training_loop.py`: `ema_kimg`, `ema_rampup`).
- `update`: ema <- params + decay * (ema - params) (the reference's `p.lerp(p_ema, beta)`), leaf by leaf.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

PyTree = Any


def step_decay(step: jax.Array, decay: float, warmup: bool) -> jax.Array:
    """The decay at train step `step`: `decay`, or with warm-up min(decay, (1 + t) / (10 + t))."""
    if not warmup:
        return jnp.asarray(decay, jnp.float32)
    t = jnp.asarray(step).astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + t) / (10.0 + t))


def half_life_decay(batch_size: int, half_life_images: float | jax.Array) -> float | jax.Array:
    """0.5 ** (batch_size / half-life): the decay per step that halves an image's weight every half-life images
    (python numbers give a python float, for a static config value; arrays give an array)."""
    return 0.5 ** (batch_size / half_life_images)


def ramped_half_life_decay(batch_size: int, half_life_images: float, images_seen: jax.Array,
                           rampup: float | None = None) -> jax.Array:
    """`half_life_decay` with the half-life ramped up to min(half_life_images, images_seen * rampup) when `rampup`
    is set: 0 images seen give decay 0, a copy of the params."""
    half_life = jnp.asarray(half_life_images, jnp.float32)
    if rampup is not None:
        half_life = jnp.minimum(half_life, jnp.asarray(images_seen, jnp.float32) * rampup)
    return half_life_decay(batch_size, jnp.maximum(half_life, 1e-8))


def update(ema_params: PyTree, params: PyTree, decay: jax.Array) -> PyTree:
    """ema <- params + decay * (ema - params), i.e. decay * ema + (1 - decay) * params, leaf by leaf."""
    return jax.tree.map(lambda e, p: p + decay * (e - p), ema_params, params)
