"""The StyleGAN2-ADA objective (Karras et al. 2020): its config, its checks and its phase table.

Follows NVlabs stylegan2-ada-pytorch's `training/loss.py` and `training/training_loop.py`: Gmain, Greg (path length,
every `stylegan2.pl_interval` steps), Dmain, Dreg (R1, every `reg.lazy_interval` steps), G_ema (half-life
`ema.half_life_images` with ramp-up) and ADA (`ada.*`); the phases are in `jaxgan.objectives.stylegan2_phases`. Its
config has only the keys it reads: no `loss`, `n_disc`, `augment`, top-k, `model.pack` or the other `reg` terms, so
setting one is an unknown-key error. Its networks are `model.name` = stylegan2 (the mapping and synthesis networks).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import ml_collections

from jaxgan import config as gan_config
from jaxgan.engine.state import GAN
from jaxgan.engine.train_step import Phase
from jaxgan.objectives.gan import GANObjective
from jaxgan.objectives.stylegan2_phases import StyleGAN2Spec, initial_aux, stylegan2_phases
from jaxgan.terms import ada
from jaxgan.terms.losses import GANLoss, get_loss

# The GAN config's keys that StyleGAN2's objective does not read (it has its own loss, augmentation and EMA).
UNUSED_GAN_KEYS = ("loss", "n_disc", "g_fresh_z", "augment", "reg.gp_weight", "reg.r2_gamma",
                   "reg.instance_noise_std", "reg.instance_noise_anneal_steps", "reg.label_smoothing", "ema.decay",
                   "ema.warmup", "model.pack", "train.topk_fraction_min", "train.topk_decay", "train.topk_decay_steps")


def objective_config() -> ml_collections.ConfigDict:
    """The `stylegan2` block: StyleGAN2Loss's G terms and G_ema's ramp-up (stylegan2-ada-pytorch, paper256)."""
    return ml_collections.ConfigDict(dict(
        style_mixing_prob=0.9,  # probability of mixing two latents' ws at a random layer (cifar: 0)
        pl_weight=2.0,          # path-length penalty weight (0 = off; cifar: 0)
        pl_decay=0.01,          # decay of the running mean of path lengths
        pl_batch_shrink=2,      # the path-length phase runs on batch_size // this
        pl_interval=4,          # Greg every N steps, scaled by N; G's Adam lr * c, betas ** c, c = N / (N + 1)
        ema_rampup=0.05,        # G_ema half-life <= images seen * this (0 = no ramp-up; cifar: 0.05, paper256: None)
    ))


def ada_config() -> ml_collections.ConfigDict:
    """The `ada` block: adaptive discriminator augmentation (Karras et al. 2020b), applied inside the train step."""
    return ml_collections.ConfigDict(dict(
        preset="bgc",    # augmentations: bgc | blit | geom | color | "" (no augmentation at all)
        target=0.6,      # r_t = E[sign(D(real))] that p is steered toward; 0 = fixed p (ablations)
        p=0.0,           # the initial p (with target=0: the fixed p)
        interval=4,      # adjust p every N steps
        kimg=500.0,      # p can go from 0 to 1 in this many thousand images
    ))


def default_config() -> ml_collections.ConfigDict:
    """Every key of a StyleGAN2 run: the GAN's run keys without the unused ones, plus `stylegan2` and `ada`."""
    c = gan_config.base_config()
    c.objective = "stylegan2"
    for key in UNUSED_GAN_KEYS:
        block, _, leaf = key.rpartition(".")
        del (c[block] if block else c)[leaf]
    c.model.name = "stylegan2"
    c.reg.lazy_interval = 16  # Dreg every 16 steps (the reference's r1_interval)
    c.ema.half_life_images = 10_000  # the reference's ema_kimg = 10
    c.stylegan2 = objective_config()
    c.ada = ada_config()
    return c


def validate_blocks(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key for a `stylegan2` or `ada` value out of range."""
    aug, obj = config.ada, config.stylegan2
    if aug.preset and aug.preset not in ada.PRESETS:
        raise ValueError(f"Unknown ada.preset {aug.preset!r}; choose one of {sorted(ada.PRESETS)} or '' (off).")
    if aug.target != 0:
        try:
            ada.check_target(aug.target)
        except ValueError as err:
            raise ValueError(f"ada.target: {err} Use ada.target=0 for a fixed p (ada.p).") from None
    if not 0.0 <= aug.p <= 1.0:
        raise ValueError(f"ada.p must be in [0, 1] (a probability), got {aug.p}.")
    for key, value in (("ada.interval", aug.interval), ("stylegan2.pl_batch_shrink", obj.pl_batch_shrink),
                       ("stylegan2.pl_interval", obj.pl_interval)):
        if value < 1:
            raise ValueError(f"{key} must be >= 1, got {value}.")
    if not aug.kimg > 0:
        raise ValueError(f"ada.kimg must be > 0, got {aug.kimg}.")
    if not 0.0 <= obj.style_mixing_prob <= 1.0:
        raise ValueError(f"stylegan2.style_mixing_prob must be in [0, 1], got {obj.style_mixing_prob}.")
    for key in ("pl_weight", "pl_decay", "ema_rampup"):
        if obj[key] < 0:
            raise ValueError(f"stylegan2.{key} must be >= 0, got {obj[key]}.")


def validate(config: ml_collections.ConfigDict) -> None:
    """The shared run checks, the `stylegan2` and `ada` blocks, and what the phases need of the networks."""
    gan_config.validate_shared(config)
    validate_blocks(config)
    if config.model.name != "stylegan2":
        raise ValueError(f"The stylegan2 objective trains StyleGAN2's mapping and synthesis networks: set "
                         f"model.name='stylegan2', got {config.model.name!r} (or use objective='gan').")
    if config.reg.r1_gamma < 0 or config.reg.lazy_interval < 1:
        raise ValueError("reg.r1_gamma must be >= 0 and reg.lazy_interval >= 1 (the R1 phase's interval).")
    if config.ema.half_life_images < 0:
        raise ValueError(f"ema.half_life_images must be >= 0, got {config.ema.half_life_images}.")
    group, batch = config.model.stylegan2.mbstd_group_size, config.train.batch_size
    if group and batch % min(group, batch):
        raise ValueError(f"train.batch_size ({batch}) must be a multiple of model.stylegan2.mbstd_group_size "
                         f"({group}), D's minibatch-std groups.")


def stylegan2_spec(config: ml_collections.ConfigDict, gan: GAN, label_probs: Sequence[float] | None = None,
                   loss: GANLoss | None = None) -> StyleGAN2Spec:
    """The phases' constants from the `stylegan2`, `ada`, `reg` and `ema` blocks; `label_probs`, the training set's
    class shares, for a conditional G's fake labels; `loss` for another than the reference's logistic loss."""
    obj, aug = config.stylegan2, config.ada
    return StyleGAN2Spec(
        gan=gan, batch_size=config.train.batch_size,
        augment=ada.preset(aug.preset) if aug.preset else None,
        ada_target=aug.target, ada_interval=aug.interval, ada_kimg=aug.kimg,
        style_mixing_prob=obj.style_mixing_prob, pl_weight=obj.pl_weight, pl_decay=obj.pl_decay,
        pl_batch_shrink=obj.pl_batch_shrink, pl_interval=obj.pl_interval,
        r1_gamma=config.reg.r1_gamma, r1_interval=config.reg.lazy_interval,
        ema_kimg=config.ema.half_life_images / 1000, ema_rampup=obj.ema_rampup or None,
        label_probs=None if label_probs is None else tuple(float(p) for p in label_probs),
        loss=loss or get_loss("non_saturating"),
    )


def lazy_ratio(interval: int) -> float:
    """c = k / (k + 1) for a phase every k > 1 steps, else 1: the reference rescales Adam whenever a net has a reg
    interval, even with that regulariser's weight 0 (its `cifar` config trains G at lr 0.0025 * 4/5)."""
    return interval / (interval + 1) if interval > 1 else 1.0


class StyleGAN2Objective(GANObjective):
    """StyleGAN2-ADA: the GAN's networks, data, sampling and evaluation with StyleGAN2's own phase table."""

    name = "stylegan2"

    def default_config(self) -> ml_collections.ConfigDict:
        """Every key of a StyleGAN2 run (`default_config`)."""
        return default_config()

    def validate(self, config: ml_collections.ConfigDict) -> None:
        """StyleGAN2's checks (`validate`)."""
        validate(config)

    def lazy_ratios(self, config: ml_collections.ConfigDict) -> tuple[float, float]:
        """(G's, D's) Adam correction for Greg every pl_interval and Dreg every reg.lazy_interval steps."""
        return lazy_ratio(config.stylegan2.pl_interval), lazy_ratio(config.reg.lazy_interval)

    def initial_aux(self, config: ml_collections.ConfigDict) -> dict[str, jax.Array]:
        """pl_mean, ADA's p (from `ada.p`) and its sign accumulator at step 0."""
        return initial_aux(config.ada.p)

    def batches_per_step(self, config: ml_collections.ConfigDict) -> int:
        """One real batch per step: Dmain's (Dreg reuses it)."""
        return 1

    def loss(self, config: ml_collections.ConfigDict) -> GANLoss:
        """Gmain's and Dmain's adversarial loss: the reference's logistic (non-saturating) one; override for yours."""
        return get_loss("non_saturating")

    def phases(self, config: ml_collections.ConfigDict, gan: GAN, example_shape: Sequence[int] | None = None,
               num_examples: int | None = None, label_probs: Sequence[float] | None = None) -> tuple[Phase, ...]:
        """Gmain, [Greg], Dmain, [Dreg], G_ema, ADA with this objective's loss (`stylegan2_phases`)."""
        return stylegan2_phases(stylegan2_spec(config, gan, label_probs, self.loss(config)))


OBJECTIVE = StyleGAN2Objective()
