"""From a translation config to the objects of a run: networks, optimizers and the train step."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ml_collections
import optax

from jaxgan.engine import optim
from jaxgan.models import compute_dtype
from jaxgan.translation.cyclegan import make_cyclegan_step
from jaxgan.translation.losses import get_translation_loss
from jaxgan.translation.networks import PatchDiscriminator, ResNetGenerator, UNetGenerator, unet_num_downs
from jaxgan.translation.pix2pix import make_pix2pix_step
from jaxgan.translation.state import TranslationModels


def build_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """The `optim` block's optimizer (`jaxgan.engine.optim`): every network updates once a step: one schedule."""
    return optim.build_optimizer(config.optim, config.train.num_steps)


def build_generator(config: ml_collections.ConfigDict, example_shape: Sequence[int]):
    """The U-Net (depth from the crop size unless model.num_downs is set) or the ResNet generator."""
    m, dtype = config.model, compute_dtype(config.model.compute_dtype)
    if m.generator == "unet":
        depth = m.num_downs or unet_num_downs(example_shape[0])
        return UNetGenerator(example_shape[-1], depth, m.ngf, m.norm, m.dropout, dtype=dtype)
    if m.generator == "resnet":
        return ResNetGenerator(example_shape[-1], m.ngf, m.n_blocks, m.norm, dtype=dtype)
    raise ValueError(f"Unknown model.generator {m.generator!r}; choose unet or resnet.")


def build_models(config: ml_collections.ConfigDict, example_shape: Sequence[int]) -> TranslationModels:
    """pix2pix: G_ab and D_b; CycleGAN: G_ab, G_ba, D_a, D_b; all with the config's Adam schedule."""
    m = config.model
    disc = lambda: PatchDiscriminator(m.ndf, m.d_layers, m.norm, dtype=compute_dtype(m.compute_dtype))
    tx = build_optimizer(config)
    if config.objective == "pix2pix":
        return TranslationModels("pix2pix", {"g_ab": build_generator(config, example_shape)}, {"d_b": disc()},
                                 tx, tx, pool_size=0)
    generators = {name: build_generator(config, example_shape) for name in ("g_ab", "g_ba")}
    return TranslationModels("cyclegan", generators, {"d_a": disc(), "d_b": disc()}, tx, tx,
                             pool_size=config.pool_size)


def build_step(config: ml_collections.ConfigDict, models: TranslationModels) -> Callable:
    """The un-jitted `(state, batch) -> (state, metrics)` step of the config's task."""
    loss = get_translation_loss(config.loss.gan)
    if config.objective == "pix2pix":
        return make_pix2pix_step(models, loss, lambda_l1=config.loss.l1)
    return make_cyclegan_step(models, loss, lambda_cycle=config.loss.cycle, lambda_identity=config.loss.identity)
