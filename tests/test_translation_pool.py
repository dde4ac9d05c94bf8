"""The history pool follows Zhu et al.'s rule: fill first, then swap with probability 0.5, never exceed capacity."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.translation.pool import empty_pool, pool_draws, query_pool

SHAPE = (2, 2, 1)
query = jax.jit(query_pool)


def batches(n_batches, batch, start=0):
    """Distinct images: image k is filled with the value k, so every image can be identified."""
    ids = start + np.arange(n_batches * batch, dtype=np.float32)
    return np.broadcast_to(ids[:, None, None, None], (n_batches * batch, *SHAPE)).reshape(n_batches, batch, *SHAPE)


def ids_of(images):
    return np.asarray(images)[:, 0, 0, 0].astype(int).tolist()


def reference_query(stored: list, capacity: int, new_ids: list, key) -> tuple[list, list]:
    """The authors' `ImagePool.query` in plain Python, driven by the same coin and slot draws."""
    returned = []
    for i, image in enumerate(new_ids):
        if len(stored) < capacity:
            stored.append(image)
            returned.append(image)
            continue
        swap, slot = (int(v) for v in pool_draws(key, i, capacity))
        if swap:
            returned.append(stored[slot])
            stored[slot] = image
        else:
            returned.append(image)
    return stored, returned


def test_pool_fills_in_order_and_returns_the_new_images_until_full():
    pool = empty_pool(5, SHAPE)
    seen = []
    for i, batch in enumerate(batches(2, 2)):
        pool, out = query(pool, jnp.asarray(batch), jax.random.PRNGKey(i))
        assert ids_of(out) == ids_of(batch)  # returned unchanged while filling
        seen += ids_of(batch)
        assert int(pool.count) == len(seen)
        assert ids_of(pool.images[: len(seen)]) == seen
    # The fifth image fills the last slot and is returned; the sixth meets a full pool, which stays at 5.
    pool, out = query(pool, jnp.asarray(batches(1, 2, start=4)[0]), jax.random.PRNGKey(7))
    assert int(pool.count) == 5 and ids_of(out)[0] == 4
    returned = ids_of(out)[1]
    assert sorted(ids_of(pool.images)) == sorted(set(range(6)) - {returned})  # 5 kept out, or swapped for one


def test_pool_matches_the_papers_rule_image_by_image():
    capacity, pool, stored = 4, empty_pool(4, SHAPE), []
    for i, batch in enumerate(batches(6, 3)):
        key = jax.random.PRNGKey(100 + i)
        pool, out = query(pool, jnp.asarray(batch), key)
        stored, expected = reference_query(stored, capacity, ids_of(batch), key)
        assert ids_of(out) == expected
        assert ids_of(pool.images[: len(stored)]) == stored
        assert pool.images.shape == (capacity, *SHAPE) and int(pool.count) == len(stored) <= capacity


def test_full_pool_returns_a_stored_image_half_the_time_and_keeps_its_capacity():
    capacity, n = 8, 2000
    pool, _ = query(empty_pool(capacity, SHAPE), jnp.asarray(batches(1, capacity)[0]), jax.random.PRNGKey(0))
    new = batches(1, n, start=capacity)[0]
    pool, out = jax.jit(query_pool)(pool, jnp.asarray(new), jax.random.PRNGKey(1))
    returned_old = np.asarray(ids_of(out)) != np.asarray(ids_of(new))
    # Binomial(2000, 0.5): a 5-sigma band is +-0.056.
    assert abs(returned_old.mean() - 0.5) < 0.056
    assert int(pool.count) == capacity and pool.images.shape == (capacity, *SHAPE)
    # Every swap put the new image in the pool: the stored ids are the last images that went in.
    assert set(ids_of(pool.images)) <= set(range(capacity + n))
    swapped_in = [i for i, old in zip(ids_of(new), returned_old, strict=True) if old]
    assert set(ids_of(pool.images)) - set(range(capacity)) <= set(swapped_in)


def test_pool_of_capacity_zero_passes_images_through():
    pool = empty_pool(0, SHAPE)
    batch = jnp.asarray(batches(1, 3)[0])
    new_pool, out = query_pool(pool, batch, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, batch)
    assert new_pool.images.shape == (0, *SHAPE)
