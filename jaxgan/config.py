"""The config schema: every key a run reads, with its default, and the checks that catch bad values early.

Experiment configs start from `base_config()` and override fields, so an unknown key (a typo on the command line,
`--config.trian.num_steps=5`) is rejected by ml_collections and a wrong type (`--config.train.batch_size=abc`) too.
"""

from __future__ import annotations

import ml_collections

from jaxgan.data import default_config as data_default_config
from jaxgan.losses import LOSSES
from jaxgan.models import COMPUTE_DTYPES, MODELS
from jaxgan.models.outputs import OUTPUT_ACTIVATIONS
from jaxgan.optim import OPTIMIZERS, SCHEDULES


def optimizer_config(lr: float = 2e-4, name: str = "adam", b1: float = 0.5, b2: float = 0.999
                     ) -> ml_collections.ConfigDict:
    """One optimizer block; G and D each get their own (two time-scale learning rates)."""
    return ml_collections.ConfigDict(dict(
        name=name,          # sgd | momentum | nesterov | adam | adamw | rmsprop
        lr=lr,              # peak learning rate
        b1=b1,              # Adam beta1 (0.5 in DCGAN)
        b2=b2,              # Adam beta2; RMSprop decay
        eps=1e-8,           # Adam/RMSprop epsilon
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
        name="mlp",         # mlp | dcgan
        z_dim=100,          # latent size
        g_hidden=(128, 128),  # MLP G widths
        d_hidden=(128, 128),  # MLP D widths
        ngf=64,             # DCGAN G base width
        ndf=64,             # DCGAN D base width
        output_activation="tanh",  # tanh | sigmoid (rescaled to [-1, 1]) | linear (2-D points)
        compute_dtype="float32",   # float32 | bfloat16 (params and optimizer state stay float32)
    ))
    c.loss = "non_saturating"  # minimax | non_saturating | wasserstein | hinge | least_squares
    c.n_disc = 1               # D updates per G update
    c.optim = ml_collections.ConfigDict(dict(g=optimizer_config(), d=optimizer_config()))
    c.ema = ml_collections.ConfigDict(dict(
        decay=0.0,          # EMA of G's params when > 0; samples then come from the EMA
        warmup=True,        # decay min(decay, (1+t)/(10+t)) early on
    ))
    c.train = ml_collections.ConfigDict(dict(
        batch_size=64,      # global batch, split over devices and hosts
        num_steps=3000,     # train steps (each = n_disc D updates + 1 G update)
        log_every=100,      # write metrics (and check they are finite) every N steps
        sample_every=1000,  # write a sample grid every N steps
        checkpoint_every=1000,  # save every N steps (and at the end)
        keep_checkpoints=3,  # checkpoints kept
        num_samples=64,     # images in a sample grid
        progress=True,      # show a progress bar
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
        _check_choice(config.optim[net].name, OPTIMIZERS, f"optim.{net}.name")
        _check_choice(config.optim[net].schedule, SCHEDULES, f"optim.{net}.schedule")
        if config.optim[net].lr <= 0:
            raise ValueError(f"optim.{net}.lr must be > 0, got {config.optim[net].lr}.")
    positive = {"n_disc": config.n_disc, "model.z_dim": config.model.z_dim,
                "train.batch_size": config.train.batch_size, "train.num_steps": config.train.num_steps,
                "train.log_every": config.train.log_every, "train.sample_every": config.train.sample_every,
                "train.checkpoint_every": config.train.checkpoint_every,
                "train.keep_checkpoints": config.train.keep_checkpoints}
    for key, value in positive.items():
        if value < 1:
            raise ValueError(f"{key} must be >= 1, got {value}.")
    if not 0.0 <= config.ema.decay < 1.0:
        raise ValueError(f"ema.decay must be in [0, 1), got {config.ema.decay}.")
