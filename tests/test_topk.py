"""Top-k training (Sinha et al. 2020): k's schedule by hand, and G's update through only the k best-scored fakes."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.config import base_config, validate
from jaxgan.engine.state import GAN, create_state
from jaxgan.engine.train_step import KeyStreams, make_train_step, sample_latents
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.objectives.factory import build_g_top_k
from jaxgan.terms.losses import get_loss
from jaxgan.terms.topk import TopKSchedule, top_k_mask, top_k_mean


def test_k_decays_by_gamma_per_epoch_of_steps_to_the_floor_by_hand():
    schedule = TopKSchedule(fraction_min=0.6, decay=0.99, decay_steps=100)
    k = lambda step: int(schedule.k_at(jnp.asarray(step), 256))
    # 256 * 0.99^0 = 256, 0.99^1 -> 253.44, 0.99^2 -> 250.91, 0.99^50 = 0.605 -> 154.9, then the floor 0.6 -> 153.6
    assert [k(0), k(99), k(100), k(250), k(5000), k(20000)] == [256, 256, 253, 250, 154, 153]


def test_the_mask_keeps_the_k_highest_scores_ties_by_index():
    scores = jnp.asarray([0.3, -1.0, 2.0, 0.3, 5.0])
    assert np.asarray(top_k_mask(scores, jnp.asarray(3))).tolist() == [True, False, True, False, True]


def test_only_the_k_best_scored_fakes_carry_g_loss_gradient_by_hand():
    w = np.array([1.0, -2.0], np.float32)  # D(x) = w . x, so dL/dx_i = -sigmoid(-w . x_i) w / k for kept fakes
    fake = np.array([[0.5, 0.1], [-1.0, 0.3], [2.0, -0.5], [0.0, 0.0], [-0.2, -1.0]], np.float32)
    scores = fake @ w  # 0.3, -1.6, 3.0, 0.0, 1.8: the top 3 are fakes 2, 4, 0
    loss = get_loss("non_saturating").g_loss
    top_k = lambda x: top_k_mean(loss(jnp.zeros(5), x @ w), x @ w, jnp.asarray(3))
    value, grad = jax.value_and_grad(top_k)(fake)
    expected = np.zeros_like(fake)
    for i in (2, 4, 0):
        expected[i] = -w / (1.0 + np.exp(scores[i])) / 3
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(float(value), np.mean(np.log1p(np.exp(-scores[[2, 4, 0]]))), rtol=1e-5)


def test_a_train_step_updates_g_on_the_top_k_fakes_of_the_just_updated_d():
    lr, loss, n = 0.1, get_loss("non_saturating"), 8
    gan = GAN(MLPGenerator((3,), hidden=(16,), activation="linear"), MLPDiscriminator(hidden=(16,)),
              optax.sgd(lr), optax.sgd(lr), z_dim=4)
    schedule = TopKSchedule(fraction_min=0.25, decay=0.9, decay_steps=1)  # at step 5: floor(8 * 0.9^5) = 4
    state = create_state(gan, (3,), seed=0).replace(step=jnp.asarray(5, jnp.int32))
    x = jax.random.normal(jax.random.PRNGKey(3), (1, n, 3))
    new_state, metrics = make_train_step(gan, loss, g_top_k=schedule)(state, {"x": x})
    G = lambda p, z: gan.generator.apply({"params": p}, z)
    D = lambda p, v: gan.discriminator.apply({"params": p}, v)
    z = sample_latents(KeyStreams.of_step(state.rng, state.step).phase("Dmain/0+Gmain").z(), n, 4)
    g_params, d_params = state.nets["G"].params, state.nets["D"].params
    d_grad = jax.grad(lambda p: jnp.mean(loss.d_loss(D(p, x[0]), D(p, G(g_params, z)))))(d_params)
    d = jax.tree.map(lambda p, g: p - lr * g, state.nets["D"].params, d_grad)
    best = np.argsort(-np.asarray(D(d, G(state.nets["G"].params, z))), kind="stable")[:4]  # the 4 fakes the new D likes
    g_grad = jax.grad(lambda p: jnp.mean(loss.g_loss(D(d, x[0])[best], D(d, G(p, z[best])))))(state.nets["G"].params)
    expected = jax.tree.map(lambda p, g: p - lr * g, state.nets["G"].params, g_grad)
    for got, want in zip(jax.tree.leaves(new_state.nets["G"].params), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert float(metrics["G/top_k"]) == 4


def test_by_default_k_decays_once_per_dataset_epoch_by_hand():
    """N = 1000 examples, B = 64: the loader serves floor(1000 / 64) = 15 full batches per epoch, so k first
    decays at step 15 (with n_disc = 2 each step reads two batches: at step 7)."""
    config = base_config()
    config.train.topk_fraction_min, config.train.batch_size = 0.5, 64
    assert config.train.topk_decay_steps == 0  # the default: one epoch, computed
    schedule = build_g_top_k(config, num_examples=1000)
    assert schedule.decay_steps == 15
    assert [int(schedule.k_at(jnp.asarray(s), 64)) for s in (0, 14, 15, 29, 30)] == [64, 64, 63, 63, 62]
    config.n_disc = 2
    assert build_g_top_k(config, num_examples=1000).decay_steps == 7
    config.train.topk_decay_steps = 40  # an explicit period wins
    assert build_g_top_k(config, num_examples=1000).decay_steps == 40
    config.train.topk_decay_steps = 0
    with pytest.raises(ValueError, match="train.topk_decay_steps > 0"):
        build_g_top_k(config, num_examples=None)  # infinite data has no epoch
    config.train.topk_decay_steps = -1
    with pytest.raises(ValueError, match="train.topk_decay_steps must be >= 0"):
        validate(config)


def test_config_keys_build_the_schedule_off_by_default_and_reject_bad_values():
    config = base_config()
    assert build_g_top_k(config) is None
    config.train.topk_fraction_min, config.train.topk_decay, config.train.topk_decay_steps = 0.5, 0.98, 50
    assert build_g_top_k(config) == TopKSchedule(0.5, 0.98, 50)
    config.train.topk_decay = 1.5
    with pytest.raises(ValueError, match="train.topk_decay"):
        validate(config)
