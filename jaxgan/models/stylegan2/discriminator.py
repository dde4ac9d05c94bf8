"""StyleGAN2 discriminator (residual by default; 'orig' and 'skip' as in the reference), NHWC.

Follows NVlabs stylegan2-ada-pytorch `training/networks.py`: FromRGB at the input resolution, blocks of two 3x3
convs (the second FIR-downsamples x2) with a 1x1 downsampling residual shortcut (both branches scaled by sqrt(0.5)),
then the epilogue at 4x4: minibatch standard deviation, a 3x3 conv, an FC layer and the output FC. A conditional D
maps the one-hot label through an 8-layer mapping network to `cmap` and outputs <out, cmap> / sqrt(cmap_dim).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models.stylegan2.generator import MappingNetwork, channels_at, check_resolution
from jaxgan.models.stylegan2.layers import Conv2dLayer, FullyConnected
from jaxgan.models.stylegan2.ops import downsample2d, setup_filter

ARCHITECTURES = ("orig", "skip", "resnet")


def minibatch_std(x: jax.Array, group_size: int | None = 4, num_channels: int = 1) -> jax.Array:
    """Append the group-wise feature std (averaged over channels and pixels) as `num_channels` new channels."""
    n, h, w, c = x.shape
    g = n if group_size is None else min(group_size, n)
    if n % g:
        raise ValueError(f"Minibatch std: the batch ({n}) must be a multiple of the group size ({g}).")
    y = x.astype(jnp.float32).reshape(g, n // g, h, w, num_channels, c // num_channels)  # sample i*(n/g)+j
    y = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)  # [n/g, H, W, F, c]
    y = jnp.mean(y, axis=(1, 2, 4))  # [n/g, F]
    y = jnp.tile(y, (g, 1))[:, None, None, :]  # back to [N, 1, 1, F], sample i*(n/g)+j gets group j
    return jnp.concatenate([x, jnp.broadcast_to(y, (n, h, w, num_channels)).astype(x.dtype)], axis=-1)


class DiscriminatorBlock(nn.Module):
    """One resolution of D: (FromRGB) + conv 3x3 + conv 3x3 down x2, with a 1x1 down shortcut for 'resnet'."""

    tmp_features: int
    out_features: int
    is_first: bool
    architecture: str = "resnet"
    conv_clamp: float | None = None
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array | None, img: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        conv = dict(activation="lrelu", conv_clamp=self.conv_clamp)
        if self.is_first or self.architecture == "skip":
            y = Conv2dLayer(self.tmp_features, 1, name="fromrgb", **conv)(img.astype(self.dtype))
            x = y if x is None else x.astype(self.dtype) + y
            img = downsample2d(img, setup_filter()) if self.architecture == "skip" else None
        x = x.astype(self.dtype)
        if self.architecture == "resnet":
            y = Conv2dLayer(self.out_features, 1, use_bias=False, down=2, name="skip")(x, gain=np.sqrt(0.5))
            x = Conv2dLayer(self.tmp_features, 3, name="conv0", **conv)(x)
            x = Conv2dLayer(self.out_features, 3, down=2, name="conv1", **conv)(x, gain=np.sqrt(0.5))
            return y + x, img
        x = Conv2dLayer(self.tmp_features, 3, name="conv0", **conv)(x)
        return Conv2dLayer(self.out_features, 3, down=2, name="conv1", **conv)(x), img


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: minibatch std, conv 3x3, FC, output FC (1 logit, or cmap_dim features projected on cmap)."""

    features: int
    cmap_dim: int = 0
    architecture: str = "resnet"
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array, img: jax.Array | None, cmap: jax.Array | None) -> jax.Array:
        x = x.astype(jnp.float32)
        if self.architecture == "skip":
            x = x + Conv2dLayer(self.features, 1, "lrelu", name="fromrgb")(img.astype(jnp.float32))
        if self.mbstd_num_channels > 0:
            x = minibatch_std(x, self.mbstd_group_size, self.mbstd_num_channels)
        x = Conv2dLayer(self.features, 3, "lrelu", conv_clamp=self.conv_clamp, name="conv")(x)
        x = FullyConnected(self.features, "lrelu", name="fc")(x.reshape(x.shape[0], -1))
        x = FullyConnected(self.cmap_dim or 1, name="out")(x)
        if self.cmap_dim:
            x = jnp.sum(x * cmap, axis=1, keepdims=True) * (1.0 / np.sqrt(self.cmap_dim))
        return x[:, 0]


class Discriminator(nn.Module):
    """StyleGAN2 D: images [N, res, res, C] (+ int labels [N]) -> logits [N]."""

    resolution: int
    num_classes: int | None = None
    architecture: str = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0
    conv_clamp: float | None = None
    cmap_dim: int | None = None  # None: channels at 4x4
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1
    mapping_layers: int = 8
    dtype: jnp.dtype = jnp.float32

    def __post_init__(self) -> None:
        """Reject a bad resolution or architecture when the module is built."""
        if check_resolution(self.resolution) < 3:
            raise ValueError(f"The StyleGAN2 D needs a resolution >= 8 (its 4x4 epilogue follows at least one "
                             f"block), got {self.resolution}.")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"Unknown D architecture {self.architecture!r}; choose one of {ARCHITECTURES}.")
        super().__post_init__()

    @nn.compact
    def __call__(self, img: jax.Array, labels: jax.Array | None = None, train: bool = False) -> jax.Array:
        del train  # no batch statistics: D is the same function in train and eval mode
        log2 = check_resolution(self.resolution)
        ch = lambda res: channels_at(res, self.channel_base, self.channel_max)
        fp16_res = max(2 ** (log2 + 1 - self.num_fp16_res), 8)
        x = None
        for res in (2 ** i for i in range(log2, 2, -1)):
            dtype = self.dtype if res >= fp16_res else jnp.float32
            x, img = DiscriminatorBlock(ch(res), ch(res // 2), res == self.resolution, self.architecture,
                                        self.conv_clamp, dtype, name=f"b{res}")(x, img)
        cmap_dim, cmap = 0, None
        if self.num_classes:
            if labels is None:
                raise ValueError(f"This D is conditional ({self.num_classes} classes): pass labels.")
            cmap_dim = ch(4) if self.cmap_dim is None else self.cmap_dim
            cmap = MappingNetwork(0, cmap_dim, None, self.num_classes, self.mapping_layers, w_avg_beta=None,
                                  name="mapping")(None, labels)
        return DiscriminatorEpilogue(ch(4), cmap_dim, self.architecture, self.mbstd_group_size,
                                     self.mbstd_num_channels, self.conv_clamp, name="b4")(x, img, cmap)
