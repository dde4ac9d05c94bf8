"""G_ema's BatchNorm statistics: BigGAN's standing statistics, recomputed for the EMA weights, checked by hand."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.engine.state import GAN, create_state
from jaxgan.models.mlp import MLPDiscriminator
from jaxgan.sampling.generate import generator_variables, random_inputs, standing_statistics


class DenseBNG(nn.Module):
    """G(z) = BatchNorm(z W + b): the BatchNorm's input is known in closed form."""

    momentum: float = 0.9

    @nn.compact
    def __call__(self, z, labels=None, train=True):
        h = nn.Dense(3, name="dense")(z)
        return nn.BatchNorm(use_running_average=not train, momentum=self.momentum, name="bn")(h)


@pytest.mark.parametrize("momentum", [0.9, 0.99])
def test_standing_statistics_are_the_mean_batch_statistics_of_the_ema_weights(momentum):
    gan = GAN(DenseBNG(momentum), MLPDiscriminator(hidden=(4,)), optax.sgd(0.1), optax.sgd(0.1), z_dim=2)
    state = create_state(gan, (3,), seed=0, ema=True)
    ema = jax.tree.map(lambda p: 2.0 * p + 0.5, state.nets["G"].params)  # EMA weights far from G's
    state = state.with_ema(G=ema)
    key = jax.random.PRNGKey(7)
    got = standing_statistics(gan, {"params": ema, **state.nets["G"].collections}, key, num_batches=4, batch_size=16)
    # By hand: the mean over the 4 batches of each batch's mean and (biased) variance of h = z W + b.
    w, b = np.asarray(ema["dense"]["kernel"]), np.asarray(ema["dense"]["bias"])
    hs = [np.asarray(random_inputs(gan, k, 16)[0]) @ w + b for k in jax.random.split(key, 4)]
    np.testing.assert_allclose(got["bn"]["mean"], np.mean([h.mean(0) for h in hs], 0), rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(got["bn"]["var"], np.mean([h.var(0) for h in hs], 0), rtol=2e-3, atol=1e-5)

    variables = generator_variables(state, gan)  # what the trainer and the evaluator sample with
    assert variables["params"] is state.ema["G"]
    live_mean = state.nets["G"].collections["batch_stats"]["bn"]["mean"]
    assert not np.allclose(variables["batch_stats"]["bn"]["mean"], live_mean)
    z = jnp.ones((5, 2))
    out = gan.generate(variables, z)  # inference mode with the standing stats: normalised h of the EMA weights
    h = np.asarray(z) @ w + b
    stats = variables["batch_stats"]["bn"]
    scale, shift = np.asarray(ema["bn"]["scale"]), np.asarray(ema["bn"]["bias"])
    expected = (h - stats["mean"]) / np.sqrt(stats["var"] + 1e-5) * scale + shift
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_without_an_ema_sampling_uses_g_and_its_own_running_statistics():
    gan = GAN(DenseBNG(), MLPDiscriminator(hidden=(4,)), optax.sgd(0.1), optax.sgd(0.1), z_dim=2)
    state = create_state(gan, (3,), seed=0, ema=False)
    variables = generator_variables(state, gan)
    assert variables["params"] is state.nets["G"].params
    assert variables["batch_stats"] is state.nets["G"].collections["batch_stats"]


def test_load_generator_pairs_the_ema_with_the_standing_statistics_the_trainer_samples_with(tmp_path):
    """A sampler reading only G from a checkpoint gets the same G_ema variables as the trainer, not the live stats."""
    from jaxgan.config import base_config
    from jaxgan.run import train
    from jaxgan.run.runs import load_generator

    config = base_config()
    config.model.name, config.model.dcgan.ngf, config.model.dcgan.ndf = "dcgan", 4, 4
    config.data.image_size, config.ema.decay = 16, 0.5
    config.train.update(num_steps=2, batch_size=8, checkpoint_every=2, sample_every=2, log_every=1, progress=False)
    state = train.train_and_evaluate(config, tmp_path)
    gan, variables, _ = load_generator(tmp_path)
    expected = generator_variables(state, gan)
    for got, want in zip(jax.tree.leaves(variables), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    live = jax.tree.leaves(state.nets["G"].collections["batch_stats"])
    assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(variables["batch_stats"]), live, strict=True))
