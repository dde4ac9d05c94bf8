"""The `stylegan2` (objective) and `ada` config blocks of `model.name="stylegan2"` runs, and their checks.

The networks' options are `model.stylegan2` (`jaxgan.models.stylegan2.build`). R1 is `reg.r1_gamma` with
`reg.lazy_interval` (16), G_ema's half-life is `ema.half_life_images`, Adam is `optim.g` / `optim.d`.
"""

from __future__ import annotations

import ml_collections

from jaxgan.ada import PRESETS, check_target


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


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key for a StyleGAN2 run the objective cannot train."""
    ada, obj = config.ada, config.stylegan2
    if ada.preset and ada.preset not in PRESETS:
        raise ValueError(f"Unknown ada.preset {ada.preset!r}; choose one of {sorted(PRESETS)} or '' (off).")
    if ada.target != 0:
        try:
            check_target(ada.target)
        except ValueError as err:
            raise ValueError(f"ada.target: {err} Use ada.target=0 for a fixed p (ada.p).") from None
    if not 0.0 <= ada.p <= 1.0:
        raise ValueError(f"ada.p must be in [0, 1] (a probability), got {ada.p}.")
    for key, value in (("ada.interval", ada.interval), ("stylegan2.pl_batch_shrink", obj.pl_batch_shrink),
                       ("stylegan2.pl_interval", obj.pl_interval)):
        if value < 1:
            raise ValueError(f"{key} must be >= 1, got {value}.")
    if not ada.kimg > 0:
        raise ValueError(f"ada.kimg must be > 0, got {ada.kimg}.")
    if not 0.0 <= obj.style_mixing_prob <= 1.0:
        raise ValueError(f"stylegan2.style_mixing_prob must be in [0, 1], got {obj.style_mixing_prob}.")
    for key in ("pl_weight", "pl_decay", "ema_rampup"):
        if obj[key] < 0:
            raise ValueError(f"stylegan2.{key} must be >= 0, got {obj[key]}.")
    if config.model.name == "stylegan2":
        _validate_run(config)


def _validate_run(config: ml_collections.ConfigDict) -> None:
    """The options the StyleGAN2 phase table does not combine with."""
    if config.n_disc != 1:
        raise ValueError(f"StyleGAN2 alternates one D and one G update per step: set n_disc=1, got {config.n_disc}.")
    if config.loss != "non_saturating":
        raise ValueError(f"StyleGAN2's phases use the non-saturating logistic loss: set loss='non_saturating', got "
                         f"{config.loss!r}.")
    if config.augment.policy or config.reg.gp_weight or config.reg.r2_gamma or config.reg.instance_noise_std:
        raise ValueError("StyleGAN2 runs augment with ADA (`ada.*`) and regularise with R1 (`reg.r1_gamma`) only: "
                         "set augment.policy='', reg.gp_weight=0, reg.r2_gamma=0, reg.instance_noise_std=0.")
    if config.ema.decay > 0:
        raise ValueError("StyleGAN2's G_ema counts its half-life in images: set ema.half_life_images (e.g. 10000) "
                         "and ema.decay=0.")
    group, batch = config.model.stylegan2.mbstd_group_size, config.train.batch_size
    if group and batch % min(group, batch):
        raise ValueError(f"train.batch_size ({batch}) must be a multiple of model.stylegan2.mbstd_group_size "
                         f"({group}), D's minibatch-std groups.")
