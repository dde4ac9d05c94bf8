"""A researcher's own objective, defined here and passed to train_and_evaluate: a second discriminator is one more
key of the state and two more rows of the phase table, and it trains through the real loop with bit-exact resume."""

import functools
import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config
from jaxgan.engine.phases import StepSpec, d_main, g_main
from jaxgan.engine.state import init_net
from jaxgan.engine.train_step import Phase
from jaxgan.objectives.gan import GANObjective
from jaxgan.run.train import train_and_evaluate
from jaxgan.terms.losses import get_loss

STEPS = 4


class TwoDiscriminators(GANObjective):
    """Dual discriminators: "D2" (D's architecture, its own init and Adam state) learns on the same reals, and G
    takes one more update, through D2, after its update through D."""

    name = "two_discriminators"

    def init_state(self, config, gan, example_shape):
        state = super().init_state(config, gan, example_shape)
        x = jnp.zeros((1, *example_shape), jnp.float32)
        return state.with_net("D2", init_net(gan.discriminator, gan.d_tx, jax.random.PRNGKey(config.seed + 1), x))

    def phases(self, config, gan, example_shape=None, num_examples=None, label_probs=None):
        table = super().phases(config, gan, example_shape, num_examples)
        second = StepSpec(gan, get_loss("non_saturating"), d_name="D2")
        rows = (Phase("D2main", functools.partial(d_main, second, 0)),
                Phase("Gmain/D2", functools.partial(g_main, second)))
        return table[:-1] + rows + table[-1:]  # before G_ema


def tiny_config(**train):
    c = base_config()
    c.model.z_dim = 4
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.data.image_size = 8
    c.ema.decay = 0.9
    c.train.update(dict(batch_size=8, num_steps=STEPS, checkpoint_every=STEPS, log_every=1, sample_every=1000,
                        num_samples=4, progress=False, num_devices=1, eval_every=STEPS // 2, writers=("jsonl",)))
    c.train.update(train)
    return c


def no_eval(state, step):
    return {}


def stop_at_half(state, step):
    """Preempt the run at the half-way evaluation, as a cluster's SIGTERM would."""
    if step == STEPS // 2:
        os.kill(os.getpid(), signal.SIGTERM)
    return {}


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("two_d_straight")
    return jax.device_get(train_and_evaluate(tiny_config(), workdir, eval_fn=no_eval, objective=TwoDiscriminators()))


def test_the_second_discriminator_trains_and_g_learns_from_it(straight, tmp_path):
    plain = jax.device_get(train_and_evaluate(tiny_config(), tmp_path, eval_fn=no_eval, objective=GANObjective()))
    fresh = jax.device_get(TwoDiscriminators().init_state(tiny_config(), *_gan_and_shape()))
    assert set(straight.nets) == {"G", "D", "D2"} and int(straight.step) == STEPS
    moved = lambda a, b: not all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b),
                                                                       strict=True))
    assert moved(straight.nets["D2"].params, fresh.nets["D2"].params)
    assert int(jax.tree.leaves(straight.nets["D2"].opt_state)[0]) == STEPS  # Adam's count: one D2 update a step
    assert moved(straight.nets["G"].params, plain.nets["G"].params)  # G's extra updates through D2
    assert moved(straight.nets["D"].params, plain.nets["D"].params)  # so D saw other fakes than the plain run's


def _gan_and_shape():
    from jaxgan.objectives.factory import build_gan

    shape = (8, 8, 1)
    return build_gan(tiny_config(), shape), shape


def test_a_resumed_run_of_the_custom_objective_equals_the_uninterrupted_one(straight, tmp_path):
    objective = TwoDiscriminators()
    stopped = train_and_evaluate(tiny_config(), tmp_path, eval_fn=stop_at_half, objective=objective)
    assert int(stopped.step) == STEPS // 2
    resumed = jax.device_get(train_and_evaluate(tiny_config(), tmp_path, eval_fn=no_eval, objective=objective))
    assert jax.tree.structure(resumed) == jax.tree.structure(straight)
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight), strict=True):
        np.testing.assert_array_equal(a, b)
