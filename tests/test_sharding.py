"""Data parallelism on 8 forced CPU devices: the same global batch gives the same step on 1 device or 8."""

import jax
import numpy as np
import pytest
from parallel_worker import IMAGE_SHAPE, init_state, tiny_gan

from jaxgan.engine.sharding import batch_sharding, bn_groups, check_divisible, data_mesh, jit_data_parallel, replicated
from jaxgan.engine.train_step import jit_train_step, make_train_step, sample_latents
from jaxgan.models.fast_layers import GhostBatchNorm
from jaxgan.terms.losses import get_loss

N_DISC, BATCH, STEPS = 2, 16, 3


def batches(seed=0):
    rng = np.random.default_rng(seed)
    return [{"x": rng.uniform(-1, 1, (N_DISC, BATCH, *IMAGE_SHAPE)).astype(np.float32)} for _ in range(STEPS)]


def run(gan, devices):
    """STEPS steps on `devices` (one: plain jit; several: jit over a mesh); returns (state, metrics) on host."""
    step = make_train_step(gan, get_loss("non_saturating"), n_disc=N_DISC)
    state = init_state(gan, ema=True)
    if len(devices) == 1:
        fn, put_batch = jit_train_step(step), jax.device_put
    else:
        mesh = data_mesh(devices)
        fn, state = jit_data_parallel(step, mesh), jax.device_put(state, replicated(mesh))
        put_batch = lambda b: jax.device_put(b, batch_sharding(mesh))
    history = []
    for batch in batches():
        state, metrics = fn(state, put_batch(batch))
        history.append(metrics)
    return jax.device_get((state, history))


@pytest.mark.parametrize("model,bn", [("mlp", 1), ("dcgan", 1), ("dcgan", 8)])
def test_data_parallel_step_equals_single_device_step(model, bn):
    gan = tiny_gan(model, bn_groups=bn)
    one, eight = run(gan, jax.devices()[:1]), run(gan, jax.devices())
    assert len(jax.devices()) == 8
    # Same params, optimizer states, BatchNorm statistics, EMA and metrics, up to float reduction order.
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(eight), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_data_parallel_step_shards_the_batch_and_replicates_the_state():
    gan = tiny_gan("mlp")
    mesh = data_mesh()
    step = jit_data_parallel(make_train_step(gan, get_loss("hinge"), n_disc=N_DISC), mesh)
    state = jax.device_put(init_state(gan), replicated(mesh))
    batch = jax.device_put(batches()[0], batch_sharding(mesh))
    assert batch["x"].addressable_shards[0].data.shape == (N_DISC, BATCH // 8, *IMAGE_SHAPE)
    state, _ = step(state, batch)
    leaf = jax.tree.leaves(state.nets["G"].params)[0]
    assert leaf.sharding.is_fully_replicated and len(leaf.addressable_shards) == 8


def test_each_device_draws_its_own_z_and_the_global_noise_does_not_depend_on_the_device_count():
    key, mesh = jax.random.PRNGKey(7), data_mesh()
    sharded = jax.jit(sample_latents, static_argnums=(1, 2), out_shardings=batch_sharding(mesh, 0))(key, BATCH, 4)
    np.testing.assert_array_equal(np.asarray(sharded), np.asarray(sample_latents(key, BATCH, 4)))
    rows = BATCH // 8
    shards = sorted(sharded.addressable_shards, key=lambda s: s.index[0].start)
    for d, shard in enumerate(shards):  # device d's z: its own example indices folded into the key
        own = [jax.random.normal(jax.random.fold_in(key, d * rows + r), (4,)) for r in range(rows)]
        np.testing.assert_array_equal(np.asarray(shard.data), np.stack(own))
    firsts = np.stack([np.asarray(s.data)[0] for s in shards])
    assert len(np.unique(firsts, axis=0)) == 8  # no two devices share noise


def test_unsynchronised_batch_norm_uses_each_devices_rows_only():
    assert bn_groups(True) == 1 and bn_groups(False) == 8 and bn_groups(False, 2) == 2
    x = np.random.default_rng(0).normal(size=(BATCH, 3, 3, 5)).astype(np.float32)
    bn = GhostBatchNorm(groups=bn_groups(False), momentum=0.5)
    variables = bn.init(jax.random.PRNGKey(0), x)
    y, updates = bn.apply(variables, x, mutable=["batch_stats"])
    rows = x.reshape(8, BATCH // 8, 3, 3, 5)
    mean, var = rows.mean(axis=(1, 2, 3), keepdims=True), rows.var(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, ((rows - mean) / np.sqrt(var + 1e-5)).reshape(x.shape), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(updates["batch_stats"]["mean"], 0.5 * mean.mean(axis=0).ravel(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(updates["batch_stats"]["var"], 0.5 + 0.5 * var.mean(axis=0).ravel(), rtol=1e-5)


def test_batch_not_divisible_by_devices_is_a_clear_error():
    with pytest.raises(ValueError, match="divisible by the 8 devices"):
        check_divisible(12, data_mesh())
    with pytest.raises(ValueError, match="multiple of the device count"):
        GhostBatchNorm(groups=8).init_with_output(jax.random.PRNGKey(0), np.zeros((12, 4), np.float32))
