"""The translation config schema: every key a pix2pix or CycleGAN run reads, with the papers' defaults.

`base_config("pix2pix")` follows Isola et al. (2017) and `base_config("cyclegan")` Zhu et al. (2017), both as in
the authors' public code (batch 1, Adam 2e-4 with beta1 0.5, lr constant for the first half of the run and then
linearly decayed to 0). The `train` block holds the keys of the shared loop (`jaxgan.run.loop`), as the GAN's does.
"""

from __future__ import annotations

import ml_collections

from jaxgan.config import train_config as shared_train_config
from jaxgan.config import validate_train
from jaxgan.engine import optim
from jaxgan.errors import check_choice
from jaxgan.models import COMPUTE_DTYPES
from jaxgan.run import distributed
from jaxgan.translation.data import check_data_config
from jaxgan.translation.losses import TRANSLATION_LOSSES
from jaxgan.translation.networks import NORMS
from jaxgan.translation.state import TASKS

GENERATORS = ("unet", "resnet")


def train_config() -> ml_collections.ConfigDict:
    """The shared `train` block (`jaxgan.config.train_config`) with the papers' batch of 1 on one device."""
    return shared_train_config(batch_size=1, num_steps=200_000, eval_every=5000, sample_every=5000,
                               checkpoint_every=5000, num_devices=1)


def base_config(task: str = "pix2pix") -> ml_collections.ConfigDict:
    """Every key with its default for `task` (pix2pix | cyclegan): the papers' 256x256 settings."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose one of {TASKS}.")
    cyclegan = task == "cyclegan"
    c = ml_collections.ConfigDict()
    c.objective = task  # pix2pix (paired) | cyclegan (unpaired)
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
    c.optim = optim.default_config(lr=2e-4, b1=0.5, b2=0.999)  # every network's optimizer (jaxgan.engine.optim)
    c.optim.schedule, c.optim.decay_fraction = "linear", 0.5  # lr, then linearly to 0 over the last half
    c.train = train_config()
    return c


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key when a value is out of range or not one of its choices."""
    check_choice(config.objective, TASKS, "objective")
    check_choice(config.model.generator, GENERATORS, "model.generator")
    check_choice(config.model.norm, NORMS, "model.norm")
    check_choice(config.model.compute_dtype, COMPUTE_DTYPES, "model.compute_dtype")
    check_choice(config.loss.gan, TRANSLATION_LOSSES, "loss.gan")
    check_data_config(config.data)
    validate_train(config.train)
    positive = {"model.ngf": config.model.ngf, "model.ndf": config.model.ndf, "model.d_layers": config.model.d_layers,
                "data.num_eval": config.data.num_eval}
    for key, value in positive.items():
        if value <= 0:
            raise ValueError(f"{key} must be > 0, got {value}.")
    nonnegative = {"pool_size": config.pool_size, "model.n_blocks": config.model.n_blocks,
                   "model.num_downs": config.model.num_downs, "loss.l1": config.loss.l1,
                   "loss.cycle": config.loss.cycle, "loss.identity": config.loss.identity}
    for key, value in nonnegative.items():
        if value < 0:
            raise ValueError(f"{key} must be >= 0, got {value}.")
    if config.objective == "pix2pix" and config.pool_size:
        raise ValueError(f"pool_size={config.pool_size}, but pix2pix's D judges (input, output) pairs and keeps no "
                         "history pool; set pool_size=0 (the pool is CycleGAN's).")
    if not 0.0 <= config.model.dropout < 1.0:
        raise ValueError(f"model.dropout must be in [0, 1), got {config.model.dropout}.")
    if config.train.best_metric and not config.train.best_metric.startswith("eval/"):
        raise ValueError(f"train.best_metric={config.train.best_metric!r} is not an evaluation metric; use one of "
                         "eval/L1 (pix2pix), eval/cycle_a, eval/cycle_b (CycleGAN), or \"\" for none.")
    optim.validate(config.optim, "optim")
