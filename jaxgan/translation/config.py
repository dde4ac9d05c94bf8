"""The translation config schema: every key a pix2pix or CycleGAN run reads, with the papers' defaults.

`base_config("pix2pix")` follows Isola et al. (2017) and `base_config("cyclegan")` Zhu et al. (2017), both as in
the authors' public code (batch 1, Adam 2e-4 with beta1 0.5, lr constant for the first half of the run and then
linearly decayed to 0). The `train` block holds the keys of the shared loop (`jaxgan.loop`), as the GAN's does.
"""

from __future__ import annotations

import ml_collections

from jaxgan import distributed
from jaxgan.errors import check_choice
from jaxgan.models import COMPUTE_DTYPES
from jaxgan.translation.data import check_data_config
from jaxgan.translation.losses import TRANSLATION_LOSSES
from jaxgan.translation.networks import NORMS
from jaxgan.translation.state import TASKS
from jaxgan.writers import check_writers

GENERATORS = ("unet", "resnet")


def train_config() -> ml_collections.ConfigDict:
    """The `train` block: the shared loop's keys (`jaxgan.loop`), with the papers' batch of 1."""
    return ml_collections.ConfigDict(dict(
        batch_size=1,       # images per domain per step (both papers: 1)
        num_steps=200_000,  # train steps; each updates every D once, then every G once
        log_every=100,      # write metrics (and check they are finite) every N steps
        eval_every=5000,    # eval/* metrics on the held-out images every N steps, saved with a checkpoint (0 = never)
        sample_every=5000,  # a sample grid of the held-out translations every N steps (and at the end)
        checkpoint_every=5000,  # save every N steps (and at the end)
        keep_checkpoints=3,  # checkpoints kept
        progress=True,      # show a progress bar (else a status line every log_every steps)
        writers=("jsonl", "tensorboard"),  # trackers, any of jsonl | tensorboard | wandb (the [wandb] extra)
        steps_per_dispatch=1,  # K train steps per compiled call (lax.scan); K > 1 keeps small models off dispatch
        num_devices=1,      # devices of the data-parallel mesh, the first N of jax.devices() (0 = all); the papers'
                            # batch of 1 fits one device: raise train.batch_size to a multiple of the devices first
        best_metric="",     # also keep the best checkpoint by this eval metric, e.g. "eval/L1" ("" = off)
        best_mode="min",    # min | max: which value of best_metric is best
        async_checkpoint=True,  # write checkpoints in the background while training goes on
        restart=False,      # when no checkpoint in the workdir can be read: start over (moving them aside)
        profile_steps=(0, 0),  # (start step, count): jax.profiler trace of those steps in workdir/profile; (0, 0) off
    ))


def base_config(task: str = "pix2pix") -> ml_collections.ConfigDict:
    """Every key with its default for `task` (pix2pix | cyclegan): the papers' 256x256 settings."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose one of {TASKS}.")
    cyclegan = task == "cyclegan"
    c = ml_collections.ConfigDict()
    c.task = task  # pix2pix (paired) | cyclegan (unpaired)
    c.seed = 0  # seeds params, data order, jitter and the RNG stream (dropout, history pool)
    c.data = ml_collections.ConfigDict(dict(
        source="tfds" if cyclegan else "folder",  # tfds (cycle_gan/*, unpaired) | folder
        tfds_name="cycle_gan/horse2zebra",  # with source=tfds: splits {split}A and {split}B
        data_dir="",        # tfds data dir ("" = tfds default)
        path="",            # with source=folder: the dataset root (see jaxgan/translation/data.py for layouts)
        split="train",      # training split
        eval_split="test",  # held-out split for eval/* metrics and sample grids ("" = the training images)
        direction="AtoB",   # AtoB | BtoA: which side is the input (pix2pix facades: BtoA, labels -> photo)
        crop_size=256,      # training and output image size
        load_size=0,        # resize to this before the random crop (0 = crop_size * 286 / 256, 286 at 256)
        flip=True,          # random left-right mirroring
        channels=3,         # 1 or 3
        num_eval=8,         # held-out images per domain for eval/* metrics and sample grids
        num_workers=0,      # grain worker processes that read and jitter training pairs (0 = in the training process)
    ))
    c.parallel = distributed.default_config()  # multi-process jobs: how the processes find each other
    c.model = ml_collections.ConfigDict(dict(
        generator="resnet" if cyclegan else "unet",  # unet (pix2pix) | resnet (CycleGAN)
        ngf=64,             # generator base width
        num_downs=0,        # U-Net depth (0 = log2(crop_size): 8 at 256, a 1x1 bottleneck)
        n_blocks=9,         # ResNet blocks: 9 at 256x256, 6 at 128x128 in CycleGAN
        dropout=0.0 if cyclegan else 0.5,  # U-Net decoder dropout (pix2pix: 0.5)
        ndf=64,             # discriminator base width
        d_layers=3,         # PatchGAN stride-2 layers: 3 gives 70x70 patches
        norm="instance" if cyclegan else "batch",  # batch | instance | none
        compute_dtype="float32",  # float32 | bfloat16 (params stay float32)
    ))
    c.loss = ml_collections.ConfigDict(dict(
        gan="least_squares" if cyclegan else "non_saturating",  # non_saturating (BCE) | least_squares (LSGAN)
        l1=100.0,           # pix2pix: lambda of the L1 term
        cycle=10.0,         # CycleGAN: lambda of each cycle-consistency term
        identity=0.5,       # CycleGAN: identity weight as a fraction of `cycle` (0 = off)
    ))
    c.pool_size = 50 if cyclegan else 0  # history pool per D (CycleGAN: 50 images)
    c.optim = ml_collections.ConfigDict(dict(
        lr=2e-4,            # Adam learning rate of every network
        b1=0.5,             # Adam beta1
        b2=0.999,           # Adam beta2
        decay_fraction=0.5,  # lr decays linearly to 0 over this last fraction of train.num_steps
    ))
    c.train = train_config()
    return c


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key when a value is out of range or not one of its choices."""
    check_choice(config.task, TASKS, "task")
    check_choice(config.model.generator, GENERATORS, "model.generator")
    check_choice(config.model.norm, NORMS, "model.norm")
    check_choice(config.model.compute_dtype, COMPUTE_DTYPES, "model.compute_dtype")
    check_choice(config.loss.gan, TRANSLATION_LOSSES, "loss.gan")
    check_data_config(config.data)
    positive = {"model.ngf": config.model.ngf, "model.ndf": config.model.ndf, "model.d_layers": config.model.d_layers,
                "optim.lr": config.optim.lr, "train.batch_size": config.train.batch_size,
                "train.num_steps": config.train.num_steps, "train.log_every": config.train.log_every,
                "train.checkpoint_every": config.train.checkpoint_every,
                "train.sample_every": config.train.sample_every,
                "train.steps_per_dispatch": config.train.steps_per_dispatch,
                "train.keep_checkpoints": config.train.keep_checkpoints, "data.num_eval": config.data.num_eval}
    for key, value in positive.items():
        if value <= 0:
            raise ValueError(f"{key} must be > 0, got {value}.")
    nonnegative = {"pool_size": config.pool_size, "model.n_blocks": config.model.n_blocks,
                   "model.num_downs": config.model.num_downs, "loss.l1": config.loss.l1,
                   "loss.cycle": config.loss.cycle, "loss.identity": config.loss.identity,
                   "train.num_devices": config.train.num_devices, "train.eval_every": config.train.eval_every}
    for key, value in nonnegative.items():
        if value < 0:
            raise ValueError(f"{key} must be >= 0, got {value}.")
    if config.task == "pix2pix" and config.pool_size:
        raise ValueError(f"pool_size={config.pool_size}, but pix2pix's D judges (input, output) pairs and keeps no "
                         "history pool; set pool_size=0 (the pool is CycleGAN's).")
    if not 0.0 <= config.model.dropout < 1.0:
        raise ValueError(f"model.dropout must be in [0, 1), got {config.model.dropout}.")
    check_choice(config.train.best_mode, ("min", "max"), "train.best_mode")
    check_writers(config.train.writers)
    if config.train.best_metric and not config.train.best_metric.startswith("eval/"):
        raise ValueError(f"train.best_metric={config.train.best_metric!r} is not an evaluation metric; use one of "
                         "eval/L1 (pix2pix), eval/cycle_a, eval/cycle_b (CycleGAN), or \"\" for none.")
    if not 0.0 <= config.optim.decay_fraction <= 1.0:
        raise ValueError(f"optim.decay_fraction must be in [0, 1], got {config.optim.decay_fraction}.")
