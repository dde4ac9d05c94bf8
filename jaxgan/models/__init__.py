"""Networks: the `model` config block, its checks, and G and D built from it.

The block holds the keys every architecture reads (`name`, `z_dim`, `output_activation`, `compute_dtype`, the
conditioning and PacGAN options) and one sub-block per architecture (`model.mlp`, `model.dcgan`, `model.resnet`,
`model.stylegan2`), which that architecture's module defines with its `default_config()` and builds with its
`build(cfg, example_shape, num_classes, dtype, bn_groups)`. A new architecture is one module plus one line in
`ARCHITECTURES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgan.engine.compile_options import Options
from jaxgan.errors import check_choice
from jaxgan.models import dcgan, mlp, resnet
from jaxgan.models.conditional import D_HEADS, G_CONDITIONING, LabelEmbedGenerator
from jaxgan.models.outputs import OUTPUT_ACTIVATIONS
from jaxgan.models.packing import PackedDiscriminator
from jaxgan.models.stylegan2 import build as stylegan2_build


class Architecture(NamedTuple):
    """One `model.name`: its sub-block's defaults and `build(cfg, example_shape, num_classes, dtype, bn_groups)`."""

    default_config: Callable[[], ml_collections.ConfigDict]
    build: Callable[..., tuple[nn.Module, nn.Module]]
    # XLA options per backend its train steps compile with, from the `model` block (`jaxgan.engine.compile_options`)
    compiler_options: Callable[[ml_collections.ConfigDict], Options] = lambda cfg: ()


def _build_stylegan2(cfg, example_shape, num_classes, dtype, bn_groups=1):
    """StyleGAN2 has no BatchNorm, so no BatchNorm groups."""
    return stylegan2_build.build_stylegan2(cfg, example_shape, num_classes, dtype)


ARCHITECTURES = {
    "mlp": Architecture(mlp.default_config, mlp.build),
    "dcgan": Architecture(dcgan.default_config, dcgan.build),
    "resnet": Architecture(resnet.default_config, resnet.build),
    "stylegan2": Architecture(stylegan2_build.default_config, _build_stylegan2, stylegan2_build.compiler_options),
}
MODELS = tuple(ARCHITECTURES)
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}

# The flat keys of the `model` block before each architecture had its own sub-block (issue 15): old -> new.
RENAMED_KEYS = {
    "model.g_hidden": "model.mlp.g_hidden", "model.d_hidden": "model.mlp.d_hidden",
    "model.ngf": "model.dcgan.ngf", "model.ndf": "model.dcgan.ndf",
    "model.fast_image_layers": "model.dcgan.fast_image_layers",
    "model.g_widths": "model.resnet.g_widths", "model.d_widths": "model.resnet.d_widths",
    "model.d_down": "model.resnet.d_down",
}


def default_config() -> ml_collections.ConfigDict:
    """The `model` block: the shared keys, then one sub-block per architecture (only `name`'s is read)."""
    c = ml_collections.ConfigDict(dict(
        name="mlp",         # mlp | dcgan | resnet | stylegan2
        z_dim=100,          # latent size
        output_activation="tanh",  # tanh | sigmoid (rescaled to [-1, 1]) | linear (2-D points)
        compute_dtype="float32",   # float32 | bfloat16 (params and optimizer state stay float32)
        spectral_norm=False,  # spectral norm on every D layer (Miyato et al. 2018); mlp and resnet
        g_cond="none",      # G's class conditioning: none | cbn (conditional BatchNorm, resnet) | embed (label vector)
        d_cond="none",      # D's class conditioning: none | projection (Miyato & Koyama 2018) | acgan (Odena et al.)
        label_embed_dim=64,  # size of the label embedding concatenated to z (g_cond=embed)
        acgan_weight=1.0,   # weight of the AC-GAN class cross-entropy in D's and G's losses (d_cond=acgan)
        pack=1,             # PacGAN (Lin et al. 2018): D judges packs of m samples concatenated on the feature axis
    ))
    for name, arch in ARCHITECTURES.items():
        c[name] = arch.default_config()  # e.g. model.dcgan.ngf; model.stylegan2: jaxgan/models/stylegan2/build.py
    return c


def validate(cfg: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key for a `model` block no architecture can build, whatever the data."""
    check_choice(cfg.name, MODELS, "model.name")
    check_choice(cfg.compute_dtype, COMPUTE_DTYPES, "model.compute_dtype")
    check_choice(cfg.output_activation, OUTPUT_ACTIVATIONS, "model.output_activation")
    check_choice(cfg.g_cond, G_CONDITIONING, "model.g_cond")
    check_choice(cfg.d_cond, D_HEADS, "model.d_cond")
    if cfg.z_dim < 1:
        raise ValueError(f"model.z_dim must be >= 1, got {cfg.z_dim}.")
    if cfg.acgan_weight < 0:
        raise ValueError(f"model.acgan_weight must be >= 0, got {cfg.acgan_weight}.")
    pack = cfg.get("pack", 1)  # PacGAN is the GAN objective's option; StyleGAN2's model block has no `pack`
    if pack < 1:
        raise ValueError(f"model.pack must be >= 1 (1 = no packing, m > 1 = PacGAN's m samples per D input), got "
                         f"{pack}.")
    if pack > 1 and cfg.d_cond != "none":
        raise ValueError(f"model.pack={pack} (PacGAN) packs examples of different classes into one D input, so "
                         f"it cannot take a conditional D (model.d_cond={cfg.d_cond!r}); set model.pack=1 or "
                         "model.d_cond='none'.")
    if cfg.g_cond == "cbn" and cfg.name != "resnet":
        raise ValueError(f"model.g_cond='cbn' (conditional BatchNorm) exists in the ResNet G only, not in "
                         f"model.name={cfg.name!r}; use model.g_cond='embed' or model.name='resnet'.")


def compute_dtype(name: str) -> jnp.dtype:
    """The activation dtype named by `model.compute_dtype` (checked by `validate`); params always stay float32."""
    return COMPUTE_DTYPES[name]


def is_conditional(cfg: ml_collections.ConfigDict) -> bool:
    """Whether the `model` block asks for a class-conditional GAN."""
    return cfg.g_cond != "none" or cfg.d_cond != "none"


def check_labels(cfg: ml_collections.ConfigDict, num_classes: int | None) -> None:
    """Raise a clear error when the conditioning asked for does not fit the dataset's labels."""
    if not is_conditional(cfg):
        return
    if num_classes is None:
        raise ValueError(
            f"model.g_cond={cfg.g_cond!r} / model.d_cond={cfg.d_cond!r} make a class-conditional GAN, but the "
            "dataset has no labels. Use a labelled dataset (digits, tfds mnist or cifar10, a folder with one "
            "subfolder per class) or set model.g_cond='none' and model.d_cond='none'."
        )
    if "none" in (cfg.g_cond, cfg.d_cond):
        raise ValueError(
            f"Condition both networks or neither: got model.g_cond={cfg.g_cond!r}, model.d_cond={cfg.d_cond!r}. "
            "A conditional G with an unconditional D (or the reverse) gets no signal to use the labels."
        )


def build_models(cfg: ml_collections.ConfigDict, example_shape: Sequence[int],
                 num_classes: int | None = None, bn_groups: int = 1) -> tuple[nn.Module, nn.Module]:
    """Return (G, D) for `cfg` (the config's `model` block), examples of `example_shape` and `num_classes` labels."""
    validate(cfg)
    check_labels(cfg, num_classes)
    g, d = ARCHITECTURES[cfg.name].build(cfg, example_shape, num_classes, compute_dtype(cfg.compute_dtype),
                                         bn_groups)
    if cfg.name == "stylegan2":  # its own label embedding and projection: no LabelEmbedGenerator wrapper
        return g, d
    if cfg.g_cond == "embed":
        g = LabelEmbedGenerator(g, num_classes, cfg.label_embed_dim)
    if cfg.get("pack", 1) > 1:
        d = PackedDiscriminator(d, cfg.pack)
    return g, d
