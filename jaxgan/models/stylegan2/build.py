"""Build StyleGAN2's G and D from `config.model` (its `model.stylegan2` block): jaxgan's `model.name="stylegan2"`."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgan.engine.compile_options import EIGEN_CONVS, Options
from jaxgan.models.stylegan2 import ops
from jaxgan.models.stylegan2.discriminator import ARCHITECTURES, Discriminator
from jaxgan.models.stylegan2.generator import Generator, check_resolution


def default_config() -> ml_collections.ConfigDict:
    """The `model.stylegan2` block: the reference's paper256 networks (Karras et al. 2020a, Table 1 of ADA)."""
    return ml_collections.ConfigDict(dict(
        w_dim=512,            # w size (z size is model.z_dim)
        mapping_layers=8,     # FC layers of the mapping network (cifar: 2)
        mapping_lr=0.01,      # the mapping network's learning-rate multiplier
        w_avg_beta=0.995,     # decay of the tracked w_avg (truncation)
        channel_base=16384,   # feature maps at resolution r: min(channel_base // r, channel_max) (cifar: 32768)
        channel_max=512,      # the most feature maps at any resolution
        num_fp16_res=0,       # the top N resolutions compute in model.compute_dtype (bfloat16); 0 = all float32
        conv_clamp=0.0,       # clamp conv outputs to +-this (256 with bfloat16, as the reference); 0 = off
        fused_modconv=False,  # modulated conv as one grouped conv (True) or scaled activations around one conv
        architecture="resnet",  # D: resnet | orig | skip
        mbstd_group_size=4,   # D's minibatch-std group (0 = the whole batch); the batch must be a multiple of it
        cmap_dim=0,           # conditional D's projection size (0 = channels at 4x4)
    ))


def check_config(cfg: ml_collections.ConfigDict, example_shape: Sequence[int], num_classes: int | None) -> None:
    """Raise a one-line error for a StyleGAN2 `model` block the networks cannot build."""
    sg = cfg.stylegan2
    if len(example_shape) != 3 or example_shape[0] != example_shape[1]:
        raise ValueError(f"StyleGAN2 needs square images (H, W, C), got examples of shape {tuple(example_shape)}; "
                         "set data.image_size.")
    check_resolution(int(example_shape[0]))
    if example_shape[0] < 8:
        raise ValueError(f"StyleGAN2's D needs data.image_size >= 8, got {example_shape[0]}.")
    if (cfg.g_cond, cfg.d_cond) not in (("none", "none"), ("embed", "projection")):
        raise ValueError(f"StyleGAN2 conditions through a label embedding in G's mapping network and a projection "
                         f"in D: set model.g_cond='embed' and model.d_cond='projection' (or both 'none'), got "
                         f"{cfg.g_cond!r} / {cfg.d_cond!r}.")
    if sg.architecture not in ARCHITECTURES:
        raise ValueError(f"Unknown model.stylegan2.architecture {sg.architecture!r}; choose one of {ARCHITECTURES}.")
    if cfg.spectral_norm:
        raise ValueError("StyleGAN2 uses equalised learning rate, not spectral norm: set model.spectral_norm=False.")
    for key in ("w_dim", "mapping_layers", "channel_base", "channel_max"):
        if sg[key] < 1:
            raise ValueError(f"model.stylegan2.{key} must be >= 1, got {sg[key]}.")


def build_stylegan2(cfg: ml_collections.ConfigDict, example_shape: Sequence[int], num_classes: int | None,
                    dtype: jnp.dtype) -> tuple[nn.Module, nn.Module]:
    """(G, D) for `cfg`. G's __call__ clips to [-1, 1], as the reference's uint8 samples, and draws random noise when
    called with a noise key (evaluation: the reference's metrics call G with noise_mode='random'), else uses the
    constant noise (sample grids: generate.py's default); the training phases call map / synthesize directly."""
    check_config(cfg, example_shape, num_classes)
    sg, (res, _, channels) = cfg.stylegan2, example_shape
    classes = num_classes if cfg.g_cond == "embed" else None
    shared = dict(channel_base=sg.channel_base, channel_max=sg.channel_max, num_fp16_res=sg.num_fp16_res,
                  conv_clamp=sg.conv_clamp or None, dtype=dtype)
    g = Generator(res, channels, cfg.z_dim, sg.w_dim, classes, sg.mapping_layers, sg.mapping_lr, sg.w_avg_beta,
                  fused_modconv=sg.fused_modconv, call_noise_mode="keyed", call_clip=True,
                  **shared)
    d = Discriminator(res, classes, sg.architecture, cmap_dim=sg.cmap_dim or None,
                      mbstd_group_size=sg.mbstd_group_size or None, **shared)
    return g, d


def compiler_options(cfg: ml_collections.ConfigDict) -> Options:
    """Eigen convolutions on XLA:CPU when the networks' convs are `valid_conv`s (fewer than
    `ops.PATCH_CONV_MIN_CHANNELS` maps): faster there, but slower for the matmuls of wider networks' `patch_conv`
    (one pinned core, `cifar` networks: quarter width Gmain 214 -> 172 ms; full width Dmain 2.05 -> 4.98 s)."""
    return EIGEN_CONVS if cfg.stylegan2.channel_max < ops.PATCH_CONV_MIN_CHANNELS else ()
