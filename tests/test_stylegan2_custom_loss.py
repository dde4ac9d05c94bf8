"""A loss defined in this file trains StyleGAN2: the objective's `loss` hook reaches Gmain and Dmain, relativistic
losses see D(x) in Gmain, and the run trains through the real loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_stylegan2_train import B, tiny_config

from jaxgan.data import build_dataset, stack_batches
from jaxgan.objectives.stylegan2 import StyleGAN2Objective
from jaxgan.run.train import train_and_evaluate
from jaxgan.terms.losses import GANLoss, get_loss


def tripled(loss: GANLoss) -> GANLoss:
    """3 x `loss` on both sides: every gradient of the step is three times the plain loss's."""
    return GANLoss(lambda r, f: 3.0 * loss.d_loss(r, f), lambda r, f: 3.0 * loss.g_loss(r, f))


class WithLoss(StyleGAN2Objective):
    """StyleGAN2 with the adversarial loss given to it."""

    def __init__(self, loss: GANLoss):
        self._loss = loss

    def loss(self, config):
        return self._loss


def one_step(objective, config):
    """(metrics, params after) of one step from the same state and batch: only the loss differs between calls."""
    dataset = build_dataset(config.data, seed=0)
    gan = objective.networks(config, dataset.example_shape)
    state = objective.init_state(config, gan, dataset.example_shape)
    batch = next(stack_batches(dataset.batches(B, start_batch=0), 1))
    batch = {"x": (jnp.asarray(batch["x"], jnp.float32) - 127.5) / 127.5}
    step = jax.jit(objective.train_step(config, gan, dataset.example_shape))
    new, metrics = step(state, batch)
    return jax.device_get(metrics), jax.device_get(new)


@pytest.fixture(scope="module")
def config():
    c = tiny_config()
    c.ada.preset = ""  # D sees the images as they are
    c.stylegan2.pl_weight = 0.0
    c.reg.r1_gamma = 0.0
    return c


@pytest.fixture(scope="module")
def base(config):
    """The reference's logistic loss: one step's metrics, the baseline of the tests below (one compile)."""
    return one_step(StyleGAN2Objective(), config)[0]


def test_a_loss_of_this_file_reaches_gmain_and_dmain(config, base):
    mine, _ = one_step(WithLoss(tripled(get_loss("non_saturating"))), config)
    for key in ("Loss/D", "Grad/D_norm", "Loss/G", "Grad/G_norm"):
        np.testing.assert_allclose(mine[key], 3.0 * base[key], rtol=1e-4, err_msg=key)


def test_a_relativistic_loss_compares_gs_fakes_with_d_of_the_reals(config, base):
    """RpGAN's G loss reads D(x): it differs from the non-saturating loss of the same fakes."""
    relativistic, _ = one_step(WithLoss(get_loss("relativistic_pairing")), config)
    assert relativistic["Loss/scores/fake"] == pytest.approx(base["Loss/scores/fake"], rel=1e-5)  # same fakes, same D
    assert abs(relativistic["Loss/G"] - base["Loss/G"]) > 1e-3


def test_stylegan2_trains_on_a_loss_of_this_file_through_the_loop(config, tmp_path):
    hinge = GANLoss(lambda r, f: jax.nn.relu(1.0 - r) + jax.nn.relu(1.0 + f), lambda r, f: -f)
    state = train_and_evaluate(config, tmp_path, eval_fn=lambda s, t: {}, objective=WithLoss(hinge))
    assert int(state.step) == config.train.num_steps
    rows = [line for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"Loss/D"' in line]
    assert rows and all(np.isfinite(float(r.split('"Loss/D": ')[1].split(",")[0])) for r in rows)
