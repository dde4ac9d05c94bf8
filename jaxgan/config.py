"""The config schema: every key a run reads, with its default, and the checks that catch bad values early.

Experiment configs start from `base_config()` and override fields, so an unknown key (a typo on the command line,
`--config.trian.num_steps=5`) is rejected by ml_collections and a wrong type (`--config.train.batch_size=abc`) too.
"""

from __future__ import annotations

import logging

import ml_collections

from jaxgan import stylegan2_config
from jaxgan.augment import parse_policy
from jaxgan.data import default_config as data_default_config
from jaxgan.losses import LOSSES, SIGMOID_LOSSES
from jaxgan.models import COMPUTE_DTYPES, MODELS
from jaxgan.models.conditional import D_HEADS, G_CONDITIONING
from jaxgan.models.outputs import OUTPUT_ACTIVATIONS
from jaxgan.models.stylegan2.build import default_config as stylegan2_model_config
from jaxgan.optim import EPS_PLACEMENTS, OPTIMIZERS, SCHEDULES
from jaxgan.topk import TopKSchedule
from jaxgan.training_eval import default_config as eval_default_config
from jaxgan.training_eval import validate as validate_eval


def optimizer_config(lr: float = 2e-4, name: str = "adam", b1: float = 0.5, b2: float = 0.999
                     ) -> ml_collections.ConfigDict:
    """One optimizer block; G and D each get their own (two time-scale learning rates)."""
    return ml_collections.ConfigDict(dict(
        name=name,          # sgd | momentum | nesterov | adam | adamw | rmsprop
        lr=lr,              # peak learning rate
        b1=b1,              # Adam beta1 (0.5 in DCGAN)
        b2=b2,              # Adam beta2; RMSprop decay
        eps=1e-8,           # Adam/RMSprop epsilon
        eps_placement="inside",  # RMSprop: "inside" sqrt g/sqrt(nu+eps) (optax) | "outside" g/(sqrt(nu)+eps) (PyTorch)
        momentum=0.9,       # for momentum and nesterov
        weight_decay=0.0,   # for adamw
        schedule="constant",  # constant | linear | cosine (decays to lr * end_factor by the end of the run)
        warmup_steps=0,     # linear warm-up from 0, in this optimizer's updates
        end_factor=0.0,     # final lr as a fraction of lr, for linear and cosine
        grad_clip=0.0,      # clip by global norm when > 0
    ))


def base_config() -> ml_collections.ConfigDict:
    """Every key with its default: the seeds' MLP GAN on scikit-learn's digits, upscaled to 28x28."""
    c = ml_collections.ConfigDict()
    c.seed = 0  # seeds params, data order and the RNG stream of the run
    c.data = data_default_config()  # see jaxgan/data/build.py for every field
    c.data.image_size = 28  # the seeds' MLP is MNIST-sized: upscale the 8x8 digits to 28x28
    c.data.channels = 1
    c.model = ml_collections.ConfigDict(dict(
        name="mlp",         # mlp | dcgan | resnet | stylegan2
        z_dim=100,          # latent size
        g_hidden=(128, 128),  # MLP G widths
        d_hidden=(128, 128),  # MLP D widths
        ngf=64,             # DCGAN G base width
        ndf=64,             # DCGAN D base width
        output_activation="tanh",  # tanh | sigmoid (rescaled to [-1, 1]) | linear (2-D points)
        compute_dtype="float32",   # float32 | bfloat16 (params and optimizer state stay float32)
        fast_image_layers=True,    # DCGAN: D's first / G's last layer as space-to-depth + 2x2 conv (same function)
        g_widths=(256, 256, 256, 256),  # ResNet G: width at 4x4, then after each 2x up-block (SNGAN, CIFAR-10)
        d_widths=(128, 128, 128, 128),  # ResNet D: width of each block (SNGAN, CIFAR-10)
        d_down=2,           # ResNet D: the first d_down blocks halve the resolution
        spectral_norm=False,  # spectral norm on every D layer (Miyato et al. 2018); mlp and resnet
        g_cond="none",      # G's class conditioning: none | cbn (conditional BatchNorm, resnet) | embed (label vector)
        d_cond="none",      # D's class conditioning: none | projection (Miyato & Koyama 2018) | acgan (Odena et al.)
        label_embed_dim=64,  # size of the label embedding concatenated to z (g_cond=embed)
        acgan_weight=1.0,   # weight of the AC-GAN class cross-entropy in D's and G's losses (d_cond=acgan)
        pack=1,             # PacGAN (Lin et al. 2018): D judges packs of m samples concatenated on the feature axis
        stylegan2=stylegan2_model_config(),  # StyleGAN2's networks (name=stylegan2): jaxgan/models/stylegan2/build.py
    ))
    c.loss = "non_saturating"  # minimax | non_saturating | wasserstein | hinge | least_squares
    #                            | relativistic_average (RaSGAN) | relativistic_pairing (RpGAN, R3GAN)
    c.stylegan2 = stylegan2_config.objective_config()  # StyleGAN2's style mixing, path length, G_ema ramp-up
    c.ada = stylegan2_config.ada_config()  # adaptive augmentation of D's inputs (model.name=stylegan2)
    c.n_disc = 1               # D updates per G update
    c.g_fresh_z = True         # n_disc > 1: G draws fresh z (SNGAN, WGAN-GP); False: G reuses the last D update's
    #                            z and fakes (one G forward pass fewer). n_disc = 1 always shares that one pass.
    c.optim = ml_collections.ConfigDict(dict(g=optimizer_config(), d=optimizer_config()))
    c.ema = ml_collections.ConfigDict(dict(
        decay=0.0,          # EMA of G's params when > 0; samples then come from the EMA
        warmup=True,        # decay min(decay, (1+t)/(10+t)) early on
        half_life_images=0,  # when > 0: decay = 0.5 ** (batch_size / half_life_images), StyleGAN's ema_kimg * 1000
    ))
    c.reg = ml_collections.ConfigDict(dict(
        gp_weight=0.0,      # WGAN-GP gradient penalty lambda on interpolates (Gulrajani et al. 2017: 10)
        r1_gamma=0.0,       # R1 penalty gamma on reals (Mescheder et al. 2018: 10)
        r2_gamma=0.0,       # R2 penalty gamma on fakes
        lazy_interval=1,    # k > 1: R1/R2 as their own D update every k steps, scaled by k; D's Adam lr * c and
        #                     betas ** c, c = k/(k+1) (StyleGAN2's Dreg: 16). 1: in every D update
        instance_noise_std=0.0,  # std of Gaussian noise added to D's inputs, real and fake (Sonderby et al. 2017)
        instance_noise_anneal_steps=0,  # anneal that std linearly to 0 over N train steps (0 = keep it constant)
        label_smoothing=0.0,  # one-sided: D's real target is 1 - s, BCE losses only (Salimans et al. 2016: 0.1)
    ))
    c.augment = ml_collections.ConfigDict(dict(
        policy="",          # DiffAugment (Zhao et al. 2020): "" or a subset of "color,translation,cutout"
        translation_ratio=0.125,  # max shift as a fraction of the image size
        cutout_ratio=0.5,   # cutout square side as a fraction of the image size
    ))
    c.train = ml_collections.ConfigDict(dict(
        batch_size=64,      # global batch, split over devices and hosts
        num_steps=10_000,   # train steps (each = n_disc D updates + 1 G update)
        log_every=100,      # write metrics (and check they are finite) every N steps
        sample_every=1000,  # write a sample grid every N steps
        checkpoint_every=1000,  # save every N steps (and at the end)
        keep_checkpoints=3,  # checkpoints kept
        num_samples=64,     # images in a sample grid
        progress=True,      # show a progress bar
        steps_per_dispatch=1,  # K train steps per compiled call (lax.scan); K > 1 keeps small models off dispatch
        num_devices=0,      # devices of the data-parallel mesh: the first N of jax.devices() (0 = all)
        eval_every=0,       # compute eval.metrics every N steps, log them and save a checkpoint there (0 = never)
        best_metric="",     # also keep the best checkpoint by this eval metric, e.g. "eval/fid" ("" = off)
        best_mode="min",    # min | max: which value of best_metric is best
        async_checkpoint=True,  # write checkpoints in the background while training goes on
        restart=False,      # when no checkpoint in the workdir can be read: start over (moving them to
                            # checkpoints/unreadable/) instead of stopping with an error; readable ones still resume
        profile_steps=(0, 0),  # (start step, count): jax.profiler trace of those steps in workdir/profile; (0, 0) off
        topk_fraction_min=1.0,  # top-k training (Sinha et al. 2020): G learns from the k best-scored fakes; k/batch
        topk_decay=0.99,    # starts at 1, times topk_decay every topk_decay_steps steps, down to topk_fraction_min
        topk_decay_steps=100,  # (the paper's nu 0.5-0.75 and gamma 0.99 per epoch); topk_fraction_min=1.0 = off
    ))
    c.eval = eval_default_config()  # in-training metrics, every train.eval_every steps (jaxgan/training_eval.py)
    c.parallel = ml_collections.ConfigDict(dict(
        sync_batch_norm=True,  # BatchNorm statistics over the global batch; False: per device (ghost batch norm)
    ))
    return c


def _check_choice(value: str, choices, key: str) -> None:
    if value not in choices:
        raise ValueError(f"Unknown {key} {value!r}; choose one of {sorted(choices)}.")


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key when a value is out of range or not one of its choices."""
    _check_choice(config.loss, LOSSES, "loss")
    _check_choice(config.model.name, MODELS, "model.name")
    _check_choice(config.model.compute_dtype, COMPUTE_DTYPES, "model.compute_dtype")
    _check_choice(config.model.output_activation, OUTPUT_ACTIVATIONS, "model.output_activation")
    for net in ("g", "d"):
        _validate_optimizer(config.optim[net], f"optim.{net}")
    positive = {"n_disc": config.n_disc, "model.z_dim": config.model.z_dim,
                "train.batch_size": config.train.batch_size, "train.num_steps": config.train.num_steps,
                "train.log_every": config.train.log_every, "train.sample_every": config.train.sample_every,
                "train.checkpoint_every": config.train.checkpoint_every,
                "train.keep_checkpoints": config.train.keep_checkpoints,
                "train.steps_per_dispatch": config.train.steps_per_dispatch}
    for key, value in positive.items():
        if value < 1:
            raise ValueError(f"{key} must be >= 1, got {value}.")
    if not 0.0 <= config.ema.decay < 1.0:
        raise ValueError(f"ema.decay must be in [0, 1), got {config.ema.decay}.")
    _validate_toolbox(config)
    stylegan2_config.validate(config)
    _validate_checkpointing(config.train)
    validate_eval(config)


LR_WARNING = 1.0  # a peak learning rate above this is almost surely a typo for GANs (they train at 1e-5..1e-3)


def _validate_optimizer(optim: ml_collections.ConfigDict, key: str) -> None:
    """Check one optimizer block: its name and schedule, lr > 0 (warn above LR_WARNING), betas in [0, 1), warm-up."""
    _check_choice(optim.name, OPTIMIZERS, f"{key}.name")
    _check_choice(optim.schedule, SCHEDULES, f"{key}.schedule")
    _check_choice(optim.eps_placement, EPS_PLACEMENTS, f"{key}.eps_placement")
    if not optim.lr > 0:
        raise ValueError(f"{key}.lr must be > 0, got {optim.lr}.")
    if optim.lr > LR_WARNING:
        logging.getLogger(__name__).warning(
            "%s.lr=%g is far above the usual GAN rates (1e-5..1e-3); such a run usually diverges or dies (D "
            "saturates). Lower it unless you mean it.", key, optim.lr)
    for beta in ("b1", "b2"):
        if not 0.0 <= optim[beta] < 1.0:
            raise ValueError(f"{key}.{beta} must be in [0, 1) (an exponential decay rate), got {optim[beta]}; "
                             "Adam's usual values are b1=0.5 or 0.9 and b2=0.999.")
    if optim.warmup_steps < 0:
        raise ValueError(f"{key}.warmup_steps must be >= 0 (0 = no warm-up), got {optim.warmup_steps}.")
    if not 0.0 <= optim.end_factor <= 1.0:
        raise ValueError(f"{key}.end_factor must be in [0, 1] (the final lr as a fraction of lr), got "
                         f"{optim.end_factor}.")


def _validate_toolbox(config: ml_collections.ConfigDict) -> None:
    """Check the regulariser, augmentation, EMA half-life and conditioning keys (issue 7's toolbox)."""
    _check_choice(config.model.g_cond, G_CONDITIONING, "model.g_cond")
    _check_choice(config.model.d_cond, D_HEADS, "model.d_cond")
    parse_policy(config.augment.policy)
    non_negative = {"reg.gp_weight": config.reg.gp_weight, "reg.r1_gamma": config.reg.r1_gamma,
                    "reg.r2_gamma": config.reg.r2_gamma, "reg.instance_noise_std": config.reg.instance_noise_std,
                    "reg.instance_noise_anneal_steps": config.reg.instance_noise_anneal_steps,
                    "ema.half_life_images": config.ema.half_life_images,
                    "model.acgan_weight": config.model.acgan_weight}
    for key, value in non_negative.items():
        if value < 0:
            raise ValueError(f"{key} must be >= 0, got {value}.")
    if config.model.pack < 1:
        raise ValueError(f"model.pack must be >= 1 (1 = no packing), got {config.model.pack}.")
    if config.train.batch_size % config.model.pack:
        raise ValueError(f"train.batch_size={config.train.batch_size} is not a multiple of model.pack="
                         f"{config.model.pack} (PacGAN packs that many examples per D input); change either.")
    if config.train.topk_fraction_min < 1.0:
        _validate_top_k(config)
    if config.reg.lazy_interval < 1:
        raise ValueError(f"reg.lazy_interval must be >= 1 (1 = regularise every step), got {config.reg.lazy_interval}.")
    if not 0.0 <= config.reg.label_smoothing < 1.0:
        raise ValueError(f"reg.label_smoothing must be in [0, 1), got {config.reg.label_smoothing}.")
    if config.reg.label_smoothing > 0 and config.loss not in SIGMOID_LOSSES:
        raise ValueError(f"reg.label_smoothing needs a BCE loss (loss={sorted(SIGMOID_LOSSES)}), got loss="
                         f"{config.loss!r}; set reg.label_smoothing=0.")
    for key in ("translation_ratio", "cutout_ratio"):
        if not 0.0 <= config.augment[key] <= 1.0:
            raise ValueError(f"augment.{key} must be in [0, 1], got {config.augment[key]}.")


def _validate_top_k(config: ml_collections.ConfigDict) -> None:
    """Check the top-k keys (and that the model's train step has a G phase that reads them)."""
    train = config.train
    TopKSchedule(train.topk_fraction_min, train.topk_decay, train.topk_decay_steps)
    if config.model.name == "stylegan2":
        raise ValueError("train.topk_fraction_min < 1 (top-k training) is not wired into StyleGAN2's phases; set "
                         "train.topk_fraction_min=1.0 or use another model.")


def _validate_checkpointing(train: ml_collections.ConfigDict) -> None:
    """Check the evaluation, best-checkpoint and device-count keys of the `train` block (issue 4)."""
    _check_choice(train.best_mode, ("min", "max"), "train.best_mode")
    for key in ("eval_every", "num_devices"):
        if train[key] < 0:
            raise ValueError(f"train.{key} must be >= 0 (0 = {'never' if key == 'eval_every' else 'all'}), "
                             f"got {train[key]}.")
    if train.best_metric and train.eval_every == 0:
        raise ValueError(f"train.best_metric={train.best_metric!r} ranks checkpoints by an evaluation metric, but "
                         "train.eval_every=0 never evaluates; set train.eval_every > 0 or train.best_metric=''.")
