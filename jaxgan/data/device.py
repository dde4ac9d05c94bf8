"""The device half of the input pipeline: uint8 pixels to [-1, 1] and the random horizontal flip, inside the jit.

Batches cross to the device as uint8 (a quarter of float32's bytes); the step program scales them and flips them.
The flip is drawn from the step's key (fold_in(rng, step), then a stream of its own), so it is deterministic,
resume-exact, and the same on any device count.
"""

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

# fold_in data of the flip's key: apart from the train step's own streams (0 .. n_disc and 2**31 - 1).
FLIP_STREAM = 2**31 - 2
# Rank of one image example (H, W, C); leading axes are (n_disc, B) or (K, n_disc, B).
_IMAGE_RANK = 3


def scale_pixels(x: jax.Array) -> jax.Array:
    """uint8 pixels to float32 in [-1, 1] as (x - 127.5) / 127.5; other dtypes unchanged.

    Both operations round once (x - 127.5 is exact), so the result is the correctly rounded value whether or not
    XLA fuses them, and 0 and 255 map to exactly -1 and 1.
    """
    if x.dtype != jnp.uint8:
        return x
    return (x.astype(jnp.float32) - 127.5) / jnp.float32(127.5)


def random_flip(x: jax.Array, key: jax.Array) -> jax.Array:
    """Mirror each image of (..., H, W, C) left-right with probability 1/2, one draw per example."""
    flip = jax.random.bernoulli(key, 0.5, x.shape[:-_IMAGE_RANK])
    return jnp.where(flip[..., None, None, None], jnp.flip(x, axis=-2), x)


def decode_batch(batch: dict, key: jax.Array | None = None, *, flip: bool = False,
                 images: tuple[str, ...] = ("x",)) -> dict:
    """The batch the step trains on: its `images` scaled to [-1, 1] (uint8 only) and, with `flip`, randomly mirrored.

    Several image keys (a translation pair "a", "b") share one flip draw per example, so a pair stays aligned.
    """
    decoded = {name: scale_pixels(batch[name]) for name in images}
    if flip:
        for name, x in decoded.items():
            if x.ndim <= _IMAGE_RANK:
                raise ValueError(f"data.random_flip needs image batches (..., H, W, C), got shape {x.shape}.")
            decoded[name] = random_flip(x, key)
    return {**batch, **decoded}


def flip_key(state: Any) -> jax.Array:
    """The flip key of the step at `state.step`: fold_in(rng, step), then FLIP_STREAM."""
    return jax.random.fold_in(jax.random.fold_in(state.rng, state.step), FLIP_STREAM)


def with_decoded_batch(step_fn: Callable, *, flip: bool = False, images: tuple[str, ...] = ("x",)) -> Callable:
    """Wrap `(state, batch) -> (state, metrics)` so it takes batches as they cross (uint8) and decodes them first
    (every program of a `PhasedStep`)."""
    if hasattr(step_fn, "wrapped"):  # a PhasedStep: wrap each of its per-step-kind programs
        return step_fn.wrapped(functools.partial(with_decoded_batch, flip=flip, images=images))

    @functools.wraps(step_fn)  # keeps the step's name (train_step) in profiles and compile logs
    def step(state: Any, batch: dict) -> tuple[Any, dict]:
        return step_fn(state, decode_batch(batch, flip_key(state) if flip else None, flip=flip, images=images))

    return step
