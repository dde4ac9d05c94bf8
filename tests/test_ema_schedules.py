"""jaxgan.terms.ema by hand: the per-step decay with warm-up, the half-life in images with ramp-up, the one update."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.config import base_config
from jaxgan.engine.phases import g_ema
from jaxgan.engine.state import GAN, create_state
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.objectives.factory import ema_decay
from jaxgan.objectives.stylegan2_phases import StyleGAN2Spec
from jaxgan.objectives.stylegan2_phases import g_ema as stylegan2_g_ema
from jaxgan.terms import ema


def test_step_decay_warms_up_as_one_plus_t_over_ten_plus_t_until_the_decay():
    got = [float(ema.step_decay(jnp.int32(t), 0.25, warmup=True)) for t in range(4)]
    assert got == pytest.approx([1 / 10, 2 / 11, 0.25, 0.25])  # 3/12 = 0.25 reaches the cap
    assert float(ema.step_decay(jnp.int32(0), 0.999, warmup=False)) == pytest.approx(0.999)


def test_half_life_decay_halves_the_weight_every_half_life_of_images():
    decay = ema.half_life_decay(64, 10_000)
    assert isinstance(decay, float)  # a static config value stays a python number
    assert decay ** (10_000 / 64) == pytest.approx(0.5)
    assert float(ema.ramped_half_life_decay(64, 10_000, jnp.float32(0.0))) == pytest.approx(decay)  # no ramp-up


def test_ramped_half_life_is_images_seen_times_rampup_until_the_half_life():
    ramped = lambda seen: float(ema.ramped_half_life_decay(64, 10_000, jnp.float32(seen), rampup=0.05))
    assert ramped(0) == 0.0  # the first step copies the params
    assert ramped(6400) == pytest.approx(0.5 ** (64 / 320))  # half-life 0.05 * 6400 = 320 images
    assert ramped(10**9) == pytest.approx(0.5 ** (64 / 10_000))  # capped at the half-life


def test_update_is_decay_times_ema_plus_one_minus_decay_times_params_leaf_by_leaf():
    old, params = {"a": jnp.float32(1.0), "b": jnp.asarray([2.0, -4.0])}, {"a": jnp.float32(3.0), "b": jnp.zeros(2)}
    new = ema.update(old, params, jnp.float32(0.25))
    assert float(new["a"]) == pytest.approx(0.25 * 1.0 + 0.75 * 3.0)
    np.testing.assert_allclose(np.asarray(new["b"]), [0.5, -1.0])


def test_the_config_half_life_gives_the_gan_objective_its_decay_per_step():
    config = base_config()
    config.train.batch_size, config.ema.half_life_images = 64, 10_000
    assert ema_decay(config) == pytest.approx(0.5 ** (64 / 10_000))
    config.ema.half_life_images = 0
    assert ema_decay(config) == config.ema.decay


def _state_at(step: int):
    gan = GAN(MLPGenerator((2,), hidden=(4,)), MLPDiscriminator(hidden=(4,)), optax.sgd(0.1), optax.sgd(0.1), z_dim=2)
    state = create_state(gan, (2,), seed=0, ema=True)
    ema_params = jax.tree.map(lambda p: 3.0 * p + 1.0, state.nets["G"].params)  # far from G's params
    return gan, state.replace(step=jnp.int32(step)).with_ema(G=ema_params)


@pytest.mark.parametrize("objective", ["gan", "stylegan2"])
def test_both_objectives_g_ema_phases_step_by_their_schedule(objective):
    gan, state = _state_at(2 if objective == "gan" else 100)
    if objective == "gan":
        new, _ = g_ema(0.5, True, state)  # warm-up: min(0.5, 3 / 12) = 0.25
        beta = 0.25
    else:  # 100 steps of 8 images: half-life min(10000, 800 * 0.05) = 40 images
        spec = StyleGAN2Spec(gan, batch_size=8, ema_kimg=10.0, ema_rampup=0.05)
        new, metrics = stylegan2_g_ema(spec, state, {}, None)
        beta = 0.5 ** (8 / 40)
        assert float(metrics["Progress/ema_beta"]) == pytest.approx(beta)
    want = jax.tree.map(lambda e, p: beta * e + (1 - beta) * p, state.ema["G"], state.nets["G"].params)
    for got, expected in zip(jax.tree.leaves(new.ema["G"]), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
