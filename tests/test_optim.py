"""Optimizers from the config: RMSprop's eps placement against the PyTorch and optax formulas written out."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import load_experiment_config

from jaxgan.config import base_config, optimizer_config, validate
from jaxgan.engine.optim import build_optimizer

GRADS = [np.array([0.3, -0.02, 1.5], np.float32), np.array([-0.1, 0.05, 0.7], np.float32)]


def rmsprop_by_hand(params, lr, alpha, eps, outside):
    """torch.optim.RMSprop's loop (v = alpha v + (1 - alpha) g^2), with eps outside sqrt(v) or inside it."""
    v = np.zeros_like(params, np.float64)
    p = params.astype(np.float64)
    for g in GRADS:
        v = alpha * v + (1 - alpha) * g.astype(np.float64) ** 2
        p = p - lr * g / (np.sqrt(v) + eps if outside else np.sqrt(v + eps))
    return p


@pytest.mark.parametrize("placement", ["inside", "outside"])
def test_rmsprop_update_matches_the_formula_of_its_eps_placement(placement):
    # eps = 0.01 is comparable to the squared gradients, so the two placements differ by up to ~40% here.
    cfg = optimizer_config(lr=0.1, name="rmsprop", b2=0.9)
    cfg.eps, cfg.eps_placement = 0.01, placement
    tx = build_optimizer(cfg, total_updates=10)
    params = jnp.asarray([1.0, 2.0, -1.0])
    state = tx.init(params)
    for g in GRADS:
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
    np.testing.assert_allclose(params, rmsprop_by_hand(np.array([1.0, 2.0, -1.0]), 0.1, 0.9, 0.01,
                                                       placement == "outside"), rtol=1e-5)
    other = rmsprop_by_hand(np.array([1.0, 2.0, -1.0]), 0.1, 0.9, 0.01, placement != "outside")
    assert not np.allclose(params, other, rtol=1e-3)  # the test tells the placements apart


def test_unknown_eps_placement_is_named():
    config = base_config()
    config.optim.d.eps_placement = "outer"
    with pytest.raises(ValueError, match="optim.d.eps_placement"):
        validate(config)
    cfg = optimizer_config(name="rmsprop")
    cfg.eps_placement = "outer"
    with pytest.raises(ValueError, match="eps_placement 'outer'.*'outside'"):
        build_optimizer(cfg, total_updates=10)


def test_mescheder_recipe_uses_pytorchs_eps_placement():
    config = load_experiment_config("r1_ema_mescheder2018").get_config()
    assert [(o.name, o.eps_placement) for o in (config.optim.g, config.optim.d)] == [("rmsprop", "outside")] * 2


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_decay_fraction_holds_lr_then_decays_over_the_last_part_of_the_run(schedule):
    """pix2pix's schedule: lr for the first half of 10 updates, then down to lr * end_factor over the last 5."""
    from jaxgan.engine.optim import build_schedule

    cfg = optimizer_config(lr=1.0)
    cfg.schedule, cfg.decay_fraction, cfg.end_factor = schedule, 0.5, 0.0
    values = [float(build_schedule(cfg, 10)(t)) for t in range(11)]
    decayed = [1 - k / 5 for k in range(6)] if schedule == "linear" else [0.5 * (1 + np.cos(np.pi * k / 5))
                                                                         for k in range(6)]
    np.testing.assert_allclose(values, [1.0] * 5 + decayed, atol=1e-6)


def test_translation_trains_with_the_shared_optimizer_block():
    """pix2pix's config is the shared block with a linear decay over the last half (the papers' 100 + 100 epochs)."""
    from jaxgan.translation.config import base_config as translation_config
    from jaxgan.translation.factory import build_optimizer as translation_optimizer

    config = translation_config("pix2pix")
    config.train.num_steps = 8
    params = jnp.ones(())
    tx = translation_optimizer(config)
    state, lrs = tx.init(params), []
    for _ in range(8):  # Adam's first update has size lr (the bias-corrected moment ratio is 1 for a constant gradient)
        updates, state = tx.update(jnp.ones(()), state, params)
        lrs.append(-float(updates))
    np.testing.assert_allclose(lrs, [2e-4] * 4 + [2e-4 * (1 - k / 4) for k in range(4)], rtol=1e-4)
