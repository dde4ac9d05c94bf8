"""The config schema: every key a run reads, with its default, assembled from the blocks each module owns.

Each room defines its block and checks it once, beside the code that reads it: `model` (`jaxgan.models`, one sub-block
per architecture), `loss` (`jaxgan.terms.losses`), `reg` (`jaxgan.terms.regularizers`), `optim.g` / `optim.d`
(`jaxgan.engine.optim`), `augment` (`jaxgan.terms.augment`), `data` (`jaxgan.data`) and `eval`
(`jaxgan.metrics.training_eval`). This module places them and owns the run's own keys (`objective`, `seed`, `n_disc`,
`ema`, `train`, `parallel`) and the checks that span two blocks. This is the `gan` objective's config; other objectives
start from it and drop the keys they do not read (`jaxgan.objectives.stylegan2`) or have their own
(`jaxgan.objectives.pix2pix`).

Experiment configs start from `base_config()` and override fields, so an unknown key (a typo on the command line,
`--config.trian.num_steps=5`) is rejected by ml_collections and a wrong type (`--config.train.batch_size=abc`) too.
"""

from __future__ import annotations

from pathlib import Path

import ml_collections

from jaxgan import data, models
from jaxgan.engine import optim
from jaxgan.metrics import training_eval
from jaxgan.run import distributed
from jaxgan.run.writers import check_writers
from jaxgan.terms import augment, losses, regularizers
from jaxgan.terms.topk import TopKSchedule

optimizer_config = optim.default_config  # one optimizer block (jaxgan.engine.optim)


def base_config() -> ml_collections.ConfigDict:
    """Every key with its default: the seeds' MLP GAN on scikit-learn's digits, upscaled to 28x28."""
    c = ml_collections.ConfigDict()
    c.objective = "gan"  # what the run trains: gan | stylegan2 | pix2pix | cyclegan (jaxgan.objectives)
    c.seed = 0  # seeds params, data order and the RNG stream of the run
    c.data = data.default_config()  # see jaxgan/data/build.py for every field
    c.data.image_size = 28  # the seeds' MLP is MNIST-sized: upscale the 8x8 digits to 28x28
    c.data.channels = 0  # the data's own: 1 for the digits and MNIST, 3 for CIFAR-10, a folder's majority
    c.model = models.default_config()  # shared keys, then model.mlp / .dcgan / .resnet / .stylegan2
    c.loss = losses.default_config()  # non_saturating | minimax | wasserstein | hinge | least_squares
    #                                   | relativistic_average (RaSGAN) | relativistic_pairing (RpGAN, R3GAN)
    c.n_disc = 1               # D updates per G update
    c.g_fresh_z = True         # n_disc > 1: G draws fresh z (SNGAN, WGAN-GP); False: G reuses the last D update's
    #                            z and fakes (one G forward pass fewer). n_disc = 1 always shares that one pass.
    c.optim = ml_collections.ConfigDict(dict(g=optim.default_config(), d=optim.default_config()))
    c.ema = ml_collections.ConfigDict(dict(
        decay=0.0,          # EMA of G's params when > 0; samples then come from the EMA
        warmup=True,        # decay min(decay, (1+t)/(10+t)) early on
        half_life_images=0,  # when > 0: decay = 0.5 ** (batch_size / half_life_images), StyleGAN's ema_kimg * 1000
    ))
    c.reg = regularizers.default_config()  # D's penalties, instance noise, label smoothing
    c.augment = augment.default_config()  # DiffAugment of D's inputs
    c.train = train_config()
    c.train.num_samples = 64  # images in a sample grid
    c.train.init_from = ""  # transfer learning: start G, D and the EMA from this run (workdir or checkpoints/<step>)
    c.train.topk_fraction_min = 1.0  # top-k training (Sinha et al. 2020): G learns from the k best-scored fakes
    c.train.topk_decay = 0.99  # k/batch starts at 1, times topk_decay every topk_decay_steps, down to topk_fraction_min
    c.train.topk_decay_steps = 0  # 0 = once per dataset epoch (paper: nu 0.5-0.75, gamma 0.99 per epoch); > 0: steps
    c.eval = training_eval.default_config()  # in-training metrics, every train.eval_every steps
    c.parallel = distributed.default_config()  # multi-process jobs: how the processes find each other
    c.parallel.sync_batch_norm = True  # BatchNorm statistics over the global batch; False: per device (ghost BN)
    return c


def train_config(**defaults) -> ml_collections.ConfigDict:
    """The `train` block every objective shares: the keys of the loop (`jaxgan.run.loop`), with `defaults` changed."""
    c = ml_collections.ConfigDict(dict(
        batch_size=64,      # global batch, split over devices and hosts
        num_steps=10_000,   # train steps (each runs the objective's phase table once)
        log_every=100,      # write metrics (and check they are finite) every N steps
        grad_norms=True,    # Grad/* (each update's gradient norm) on the logged steps; the dead-run watch reads them
        sample_every=1000,  # write a sample grid every N steps
        checkpoint_every=1000,  # save every N steps (and at the end)
        keep_checkpoints=3,  # checkpoints kept
        progress=True,      # show a progress bar (else a status line every log_every steps)
        writers=("jsonl", "tensorboard"),  # trackers, any of jsonl | tensorboard | wandb (the [wandb] extra)
        steps_per_dispatch=1,  # K train steps per compiled call (lax.scan); K > 1 keeps small models off dispatch
        num_devices=0,      # devices of the data-parallel mesh: the first N of jax.devices() (0 = all)
        eval_every=0,       # compute eval.metrics every N steps, log them and save a checkpoint there (0 = never)
        best_metric="",     # also keep the best checkpoint by this eval metric, e.g. "eval/fid" ("" = off)
        best_mode="min",    # min | max: which value of best_metric is best
        async_checkpoint=True,  # write checkpoints in the background while training goes on
        restart=False,      # when no checkpoint in the workdir can be read: start over (moving them to
                            # checkpoints/unreadable/) instead of stopping with an error; readable ones still resume
        profile_steps=(0, 0),  # (start step, count): jax.profiler trace of those steps in workdir/profile; (0, 0) off
    ))
    c.update(defaults)
    return c


def validate_train(train: ml_collections.ConfigDict) -> None:
    """The shared `train` block's checks: counts >= 1, the best-checkpoint keys and the writers."""
    positive = ("batch_size", "num_steps", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                "steps_per_dispatch")
    for key in positive:
        if train[key] < 1:
            raise ValueError(f"train.{key} must be >= 1, got {train[key]}.")
    _validate_checkpointing(train)
    check_writers(train.writers)


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key when a value of a GAN config is out of range or not one of its choices."""
    validate_shared(config)
    losses.validate(config)
    regularizers.validate(config.reg)
    augment.validate(config.augment)
    _validate_gan_run(config)


def validate_shared(config: ml_collections.ConfigDict) -> None:
    """The checks of the blocks every objective built on G and D shares: model, optim, eval, parallel and train."""
    models.validate(config.model)
    for net in ("g", "d"):
        optim.validate(config.optim[net], f"optim.{net}")
    training_eval.validate(config)
    distributed.validate(config.parallel)
    validate_train(config.train)
    if config.train.num_samples < 1:
        raise ValueError(f"train.num_samples must be >= 1, got {config.train.num_samples}.")
    if config.train.init_from and not Path(config.train.init_from).is_dir():
        raise ValueError(f"train.init_from={config.train.init_from!r} is not a folder; pass a run's workdir or one "
                         "of its checkpoints/<step> folders.")


def _validate_gan_run(config: ml_collections.ConfigDict) -> None:
    """The GAN's own run keys, and the one check across blocks (PacGAN packs split the batch)."""
    if config.n_disc < 1:
        raise ValueError(f"n_disc must be >= 1, got {config.n_disc}.")
    if not 0.0 <= config.ema.decay < 1.0:
        raise ValueError(f"ema.decay must be in [0, 1), got {config.ema.decay}.")
    if config.ema.half_life_images < 0:
        raise ValueError(f"ema.half_life_images must be >= 0, got {config.ema.half_life_images}.")
    if config.train.batch_size % config.model.pack:
        raise ValueError(f"train.batch_size={config.train.batch_size} is not a multiple of model.pack="
                         f"{config.model.pack} (PacGAN packs that many examples per D input); change either.")
    if config.train.topk_fraction_min < 1.0:
        _validate_top_k(config)


def _validate_top_k(config: ml_collections.ConfigDict) -> None:
    """Check the top-k keys."""
    train = config.train
    if train.topk_decay_steps < 0:
        raise ValueError(f"train.topk_decay_steps must be >= 0 (0 = one dataset epoch), got {train.topk_decay_steps}.")
    TopKSchedule(train.topk_fraction_min, train.topk_decay, train.topk_decay_steps or 1)


def _validate_checkpointing(train: ml_collections.ConfigDict) -> None:
    """Check the evaluation, best-checkpoint and device-count keys of the `train` block (issue 4)."""
    if train.best_mode not in ("min", "max"):
        raise ValueError(f"Unknown train.best_mode {train.best_mode!r}; choose one of ['max', 'min'].")
    for key in ("eval_every", "num_devices"):
        if train[key] < 0:
            raise ValueError(f"train.{key} must be >= 0 (0 = {'never' if key == 'eval_every' else 'all'}), "
                             f"got {train[key]}.")
    if train.best_metric and train.eval_every == 0:
        raise ValueError(f"train.best_metric={train.best_metric!r} ranks checkpoints by an evaluation metric, but "
                         "train.eval_every=0 never evaluates; set train.eval_every > 0 or train.best_metric=''.")
