"""The history pool of generated images (Shrivastava et al. 2017) that CycleGAN's discriminators train on.

The pool is two arrays in the train state, so querying it is part of the one jitted step. For each generated image
of a batch, in order (the rule of Zhu et al. 2017, sec. 4, and their `ImagePool.query`):
- while the pool holds fewer than `capacity` images, store the new image and return it;
- once full, with probability 0.5 return a uniformly chosen stored image and put the new one in its place,
  otherwise return the new image and leave the pool as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class ImagePool:
    """Up to `capacity` past generated images and how many slots are filled (slots fill in order)."""

    images: jax.Array  # (capacity, H, W, C)
    count: jax.Array  # int32 scalar in [0, capacity]

    @property
    def capacity(self) -> int:
        return self.images.shape[0]


def empty_pool(capacity: int, image_shape: Sequence[int], dtype=jnp.float32) -> ImagePool:
    """A pool with room for `capacity` images of `image_shape` (capacity 0: queries return their input)."""
    if capacity < 0:
        raise ValueError(f"pool capacity must be >= 0, got {capacity} (config key `pool_size`).")
    return ImagePool(images=jnp.zeros((capacity, *image_shape), dtype), count=jnp.zeros((), jnp.int32))


def pool_draws(key: jax.Array, i: jax.Array | int, capacity: int) -> tuple[jax.Array, jax.Array]:
    """(swap, slot) for the i-th image of a query: swap with probability 0.5, slot uniform in [0, capacity)."""
    coin_key, slot_key = jax.random.split(jax.random.fold_in(key, i))
    return jax.random.uniform(coin_key) > 0.5, jax.random.randint(slot_key, (), 0, capacity)


def query_pool(pool: ImagePool, images: jax.Array, key: jax.Array) -> tuple[ImagePool, jax.Array]:
    """Return (updated pool, images for D): the paper's rule applied to each of `images` in order."""
    capacity = pool.capacity
    if capacity == 0:
        return pool, images

    def one(carry, inputs):
        stored, count = carry
        image, i = inputs
        swap, slot = pool_draws(key, i, capacity)
        full = count >= capacity
        slot = jnp.where(full, slot, count)  # while filling, the next free slot
        old = stored[slot]
        returned = jnp.where(full & swap, old, image)
        stored = stored.at[slot].set(jnp.where(full & ~swap, old, image))
        return (stored, jnp.minimum(count + 1, capacity)), returned

    index = jnp.arange(images.shape[0])
    (stored, count), out = jax.lax.scan(one, (pool.images, pool.count), (images.astype(pool.images.dtype), index))
    return ImagePool(images=stored, count=count), out.astype(images.dtype)
