"""From a config to the objects of a run: the static `GAN` spec and its train step, with the toolbox options wired in.

The rooms build their own parts from their blocks: the models (`jaxgan.models.build_models`, `model.*`), the loss
with its variants (`jaxgan.terms.losses.build_loss`: `reg.label_smoothing`, `model.d_cond=acgan`) and D's penalties
(`jaxgan.terms.regularizers`: `reg.gp_weight` in every D update; `reg.r1_gamma`, `reg.r2_gamma` in the lazy `Dreg` phase
when `reg.lazy_interval` > 1). This module wires them together with what spans blocks: the optimizers with the
lazy-regularisation correction (`reg.lazy_interval`), D's input transform (`augment.*`, `reg.instance_noise_*`),
G's latents with n_disc > 1 (`g_fresh_z`) and the EMA decay (`ema.decay` or `ema.half_life_images`).
`build_gan`, `build_train_step` and `initial_state_aux` ask the config's objective (`jaxgan.objectives`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import ml_collections

from jaxgan.engine.optim import build_optimizer
from jaxgan.engine.sharding import bn_groups
from jaxgan.engine.state import GAN
from jaxgan.engine.train_step import InputTransform, Phase, StepSpec, check_intervals, gan_phases
from jaxgan.models import build_models, is_conditional
from jaxgan.objectives import objective_of
from jaxgan.terms import ema
from jaxgan.terms.augment import make_diff_augment
from jaxgan.terms.losses import SIGMOID_LOSSES, build_loss
from jaxgan.terms.regularizers import InstanceNoise, build_d_penalties, build_d_reg
from jaxgan.terms.topk import TopKSchedule, decay_period


def lazy_regularization_ratio(config: ml_collections.ConfigDict) -> float:
    """c = m / (m + 1), m = lazy_interval * n_disc, when R1/R2 run lazily every lazy_interval > 1 train steps, else 1.

    Dreg is one extra D step per m Dmain updates (Karras et al. 2020, Appendix B; `phases.d_reg_scale`), so D's Adam
    takes m + 1 steps per m minibatches.
    """
    k = config.reg.lazy_interval  # >= 1, checked by jaxgan.terms.regularizers.validate
    regularised = config.reg.r1_gamma > 0 or config.reg.r2_gamma > 0
    m = k * config.n_disc
    return m / (m + 1) if k > 1 and regularised else 1.0


def lazy_regularization_optimizer(opt_cfg: ml_collections.ConfigDict, ratio: float) -> ml_collections.ConfigDict:
    """A copy of an optimizer block with lr * c, b1 ** c and b2 ** c: StyleGAN2's lazy-regularisation correction.

    The lazy regulariser is its own optimizer step every k train steps (the `Dreg` phase, `jaxgan.engine.train_step`),
    so Adam takes k + 1 steps per k minibatches; scaling lr and the betas by c = k / (k + 1) keeps its time constants
    per minibatch, as StyleGAN2 does (Karras et al. 2020, Appendix B).
    """
    out = ml_collections.ConfigDict(opt_cfg.to_dict())
    if ratio != 1.0:
        out.lr, out.b1, out.b2 = opt_cfg.lr * ratio, opt_cfg.b1**ratio, opt_cfg.b2**ratio
    return out


def ema_decay(config: ml_collections.ConfigDict) -> float:
    """G's EMA decay per step: `ema.decay`, or 0.5 ** (batch / half-life) when `ema.half_life_images` > 0 (StyleGAN)."""
    if config.ema.half_life_images > 0:
        return ema.half_life_decay(config.train.batch_size, config.ema.half_life_images)
    return config.ema.get("decay", 0.0)  # StyleGAN2's config has only the half-life


def build_gan(config: ml_collections.ConfigDict, example_shape: Sequence[int],
              num_classes: int | None = None) -> GAN:
    """G, D and their optimizers for examples of `example_shape` with `num_classes` labels, as the config's
    objective builds them."""
    return objective_of(config).networks(config, example_shape, num_classes)


def build_networks(config: ml_collections.ConfigDict, example_shape: Sequence[int], num_classes: int | None,
                   g_lazy_ratio: float = 1.0, d_lazy_ratio: float = 1.0) -> GAN:
    """G and D from the `model` block, with Adam's lr and betas corrected by the lazy-regularisation ratios."""
    devices = config.train.num_devices or jax.device_count()  # the trainer's mesh size
    g, d = build_models(config.model, example_shape, num_classes, bn_groups(config.parallel.sync_batch_norm, devices))
    steps = config.train.num_steps
    d_updates = steps * config.get("n_disc", 1)
    return GAN(
        generator=g,
        discriminator=d,
        g_tx=build_optimizer(lazy_regularization_optimizer(config.optim.g, g_lazy_ratio), steps),
        d_tx=build_optimizer(lazy_regularization_optimizer(config.optim.d, d_lazy_ratio), d_updates),
        z_dim=config.model.z_dim,
        num_classes=num_classes if is_conditional(config.model) else None,
    )


def build_d_input(config: ml_collections.ConfigDict, example_shape: Sequence[int] | None = None
                  ) -> InputTransform | None:
    """D's input transform: DiffAugment, then instance noise (either or both), or None when both are off."""
    aug = config.augment
    augment = make_diff_augment(aug.policy, aug.translation_ratio, aug.cutout_ratio)
    if augment is not None and example_shape is not None and len(example_shape) != 3:
        raise ValueError(f"augment.policy={aug.policy!r} transforms images, but the examples have shape "
                         f"{tuple(example_shape)}; set augment.policy='' for non-image data.")
    noise = None
    if config.reg.instance_noise_std > 0:
        noise = InstanceNoise(config.reg.instance_noise_std, config.reg.instance_noise_anneal_steps)
    if augment is None or noise is None:
        return augment or noise

    def augment_then_noise(x: jax.Array, key: jax.Array, step: jax.Array) -> jax.Array:
        k_aug, k_noise = jax.random.split(key)
        return noise(augment(x, k_aug, step), k_noise, step)

    return augment_then_noise


def build_train_step(config: ml_collections.ConfigDict, gan: GAN, example_shape: Sequence[int] | None = None,
                     num_examples: int | None = None, label_probs: Sequence[float] | None = None) -> Callable:
    """The un-jitted `(state, batch) -> (state, metrics)` step of the config's objective, for a dataset of
    `num_examples` (None: infinite; it sets top-k's epoch) with class shares `label_probs` (None: uniform)."""
    return objective_of(config).train_step(config, gan, example_shape, num_examples, label_probs)


def gan_phase_table(config: ml_collections.ConfigDict, gan: GAN, example_shape: Sequence[int] | None = None,
                    num_examples: int | None = None) -> tuple[Phase, ...]:
    """The GAN objective's table (`gan_phases`) with the loss, penalties, input transform, top-k and EMA of `config`."""
    spec = StepSpec(gan, build_loss(config), n_disc=config.n_disc, d_penalties=build_d_penalties(config.reg),
                    d_reg=build_d_reg(config.reg), d_reg_interval=config.reg.lazy_interval,
                    d_input=build_d_input(config, example_shape), report_probs=config.loss in SIGMOID_LOSSES,
                    g_top_k=build_g_top_k(config, num_examples))
    check_intervals(spec)
    return gan_phases(spec, g_fresh_z=config.g_fresh_z, ema_decay=ema_decay(config), ema_warmup=config.ema.warmup)


def build_g_top_k(config: ml_collections.ConfigDict, num_examples: int | None = None) -> TopKSchedule | None:
    """Top-k training of G (Sinha et al. 2020, `train.topk_*`), or None when `train.topk_fraction_min` is 1.

    k decays once per epoch of the `num_examples` training examples unless `train.topk_decay_steps` > 0 sets it.
    """
    train = config.train
    if train.topk_fraction_min >= 1.0:
        return None
    period = decay_period(train.topk_decay_steps, num_examples, train.batch_size, config.n_disc)
    return TopKSchedule(train.topk_fraction_min, train.topk_decay, period)


def initial_state_aux(config: ml_collections.ConfigDict) -> dict[str, jax.Array]:
    """`TrainState.aux` at step 0, as the config's objective starts it (StyleGAN2: path-length mean and ADA's p)."""
    return objective_of(config).initial_aux(config)
