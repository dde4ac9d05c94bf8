"""From a config to the objects of a run: the static `GAN` spec and its train step."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ml_collections

from jaxgan.losses import SIGMOID_LOSSES, get_loss
from jaxgan.models import build_models
from jaxgan.optim import build_optimizer
from jaxgan.state import GAN
from jaxgan.train_step import make_train_step


def build_gan(config: ml_collections.ConfigDict, example_shape: Sequence[int],
              num_classes: int | None = None) -> GAN:
    """G, D and their optimizers for examples of `example_shape`."""
    g, d = build_models(config.model, example_shape)
    steps = config.train.num_steps
    return GAN(
        generator=g,
        discriminator=d,
        g_tx=build_optimizer(config.optim.g, steps),
        d_tx=build_optimizer(config.optim.d, steps * config.n_disc),
        z_dim=config.model.z_dim,
        num_classes=None,
    )


def build_train_step(config: ml_collections.ConfigDict, gan: GAN) -> Callable:
    """The un-jitted `(state, batch) -> (state, metrics)` step that `config` describes."""
    return make_train_step(
        gan,
        get_loss(config.loss),
        n_disc=config.n_disc,
        ema_decay=config.ema.decay,
        ema_warmup=config.ema.warmup,
        report_probs=config.loss in SIGMOID_LOSSES,
    )
