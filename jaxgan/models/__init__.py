"""Networks: build G and D from the `model` block of a config."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgan.models.conditional import LabelEmbedGenerator
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator, num_upsamplings
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.models.mlp_head import MLPHeadDiscriminator
from jaxgan.models.packing import PackedDiscriminator
from jaxgan.models.resnet import (
    ResNetDiscriminator,
    ResNetGenerator,
    check_discriminator_widths,
    check_generator_widths,
)
from jaxgan.models.stylegan2.build import build_stylegan2

MODELS = ("mlp", "dcgan", "resnet", "stylegan2")
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(name: str) -> jnp.dtype:
    """The activation dtype named by `model.compute_dtype`; params always stay float32."""
    if name not in COMPUTE_DTYPES:
        raise ValueError(f"Unknown model.compute_dtype {name!r}; choose one of {sorted(COMPUTE_DTYPES)}.")
    return COMPUTE_DTYPES[name]


def is_conditional(cfg: ml_collections.ConfigDict) -> bool:
    """Whether the `model` block asks for a class-conditional GAN."""
    return cfg.g_cond != "none" or cfg.d_cond != "none"


def check_toolbox_options(cfg: ml_collections.ConfigDict, num_classes: int | None) -> None:
    """Raise a clear error for option combinations the models cannot build."""
    if is_conditional(cfg):
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
    if cfg.pack < 1:
        raise ValueError(f"model.pack must be >= 1 (1 = no packing, m > 1 = PacGAN's m samples per D input), got "
                         f"{cfg.pack}.")
    if cfg.pack > 1 and cfg.d_cond != "none":
        raise ValueError(f"model.pack={cfg.pack} (PacGAN) packs examples of different classes into one D input, so "
                         f"it cannot take a conditional D (model.d_cond={cfg.d_cond!r}); set model.pack=1 or "
                         "model.d_cond='none'.")
    if cfg.g_cond == "cbn" and cfg.name != "resnet":
        raise ValueError(f"model.g_cond='cbn' (conditional BatchNorm) exists in the ResNet G only, not in "
                         f"model.name={cfg.name!r}; use model.g_cond='embed' or model.name='resnet'.")
    if cfg.name == "dcgan" and (cfg.spectral_norm or cfg.d_cond != "none"):
        raise ValueError(
            "The DCGAN D cannot take spectral norm or a conditional head: it ends in a raw einsum kernel "
            "(no layer to normalise or to project from) and uses BatchNorm. Use model.name='resnet' (or 'mlp') "
            "for model.spectral_norm / model.d_cond."
        )


def _square_image(example_shape: Sequence[int], name: str) -> tuple[int, int]:
    if len(example_shape) != 3 or example_shape[0] != example_shape[1]:
        raise ValueError(
            f"{name} needs square images (H, W, C), got examples of shape {tuple(example_shape)}; "
            "use model.name='mlp' for non-image data or set data.image_size."
        )
    return example_shape[0], example_shape[2]


def build_models(cfg: ml_collections.ConfigDict, example_shape: Sequence[int],
                 num_classes: int | None = None, bn_groups: int = 1) -> tuple[nn.Module, nn.Module]:
    """Return (G, D) for `cfg` (the config's `model` block), examples of `example_shape` and `num_classes` labels."""
    dtype = compute_dtype(cfg.compute_dtype)
    check_toolbox_options(cfg, num_classes)
    if cfg.name == "stylegan2":  # its own label embedding and projection: no LabelEmbedGenerator wrapper
        return build_stylegan2(cfg, example_shape, num_classes, dtype)
    head = dict(head=cfg.d_cond, num_classes=num_classes, spectral_norm=cfg.spectral_norm, dtype=dtype)
    if cfg.name == "mlp":
        g = MLPGenerator(tuple(example_shape), tuple(cfg.g_hidden), cfg.output_activation, dtype=dtype)
        if cfg.spectral_norm or cfg.d_cond != "none":
            d = MLPHeadDiscriminator(tuple(cfg.d_hidden), **head)
        else:
            d = MLPDiscriminator(tuple(cfg.d_hidden), dtype=dtype)
    elif cfg.name == "dcgan":
        res, channels = _square_image(example_shape, "DCGAN")
        num_upsamplings(res)  # fail now, with the resolution in the message, not at the first apply
        fast = dict(fast_image_layers=cfg.fast_image_layers, bn_groups=bn_groups)
        g = DCGANGenerator(res, channels, cfg.ngf, cfg.output_activation, dtype=dtype, **fast)
        d = DCGANDiscriminator(res, cfg.ndf, dtype=dtype, **fast)
    elif cfg.name == "resnet":
        res, channels = _square_image(example_shape, "The ResNet GAN")
        check_generator_widths(res, cfg.g_widths)
        check_discriminator_widths(res, cfg.d_widths, cfg.d_down)
        g = ResNetGenerator(tuple(cfg.g_widths), channels, cfg.output_activation,
                            num_classes=num_classes if cfg.g_cond == "cbn" else None, dtype=dtype)
        d = ResNetDiscriminator(tuple(cfg.d_widths), cfg.d_down, **head)
    else:
        raise ValueError(f"Unknown model {cfg.name!r}; choose one of {MODELS} (config key `model.name`).")
    if cfg.g_cond == "embed":
        g = LabelEmbedGenerator(g, num_classes, cfg.label_embed_dim)
    if cfg.pack > 1:
        d = PackedDiscriminator(d, cfg.pack)
    return g, d
