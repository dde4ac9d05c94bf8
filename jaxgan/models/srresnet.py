"""SRResNet and the SRGAN discriminator (Ledig et al. 2017, Fig. 4), sized by the `srgan.model` config block.

G maps a low-resolution image to one `scale` times larger: a 9x9 conv with PReLU, `blocks` residual blocks
(conv-BN-PReLU-conv-BN plus the input), a conv-BN with a skip from before the blocks, then log2(scale) sub-pixel
stages (a conv to 4x the width, a 2x pixel shuffle, PReLU; Shi et al. 2016) and a 9x9 conv to the image's channels,
with tanh for jaxgan's [-1, 1] images. D is the paper's VGG-style classifier: 3x3 convs alternating stride 1 and 2,
doubling the width every two convs, BatchNorm and LeakyReLU(0.2), then Dense(dense) and one logit per image.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

LEAKY_SLOPE = 0.2  # the paper's LeakyReLU alpha
BN_MOMENTUM = 0.9  # BatchNorm running averages: PyTorch's momentum 0.1


def default_config() -> ml_collections.ConfigDict:
    """The networks' sizes: the paper's defaults (64 channels, 16 blocks, D of 8 convs and Dense(1024))."""
    return ml_collections.ConfigDict(dict(
        features=64,        # G's width (the paper: 64)
        blocks=16,          # G's residual blocks (the paper: 16)
        batch_norm=True,    # BatchNorm in G's residual blocks (EDSR drops it: False)
        d_features=64,      # D's first width; doubled every two convs
        d_convs=8,          # D's 3x3 convs, strides 1, 2, 1, 2, ... (the paper: 8, widths 64 to 512)
        d_dense=1024,       # width of D's hidden dense layer (the paper: 1024)
    ))


def validate(cfg: ml_collections.ConfigDict, key: str = "model") -> None:
    """Raise ValueError naming the key of a size that is not a positive count."""
    for name in ("features", "d_features", "d_convs", "d_dense"):
        if cfg[name] < 1:
            raise ValueError(f"{key}.{name} must be >= 1, got {cfg[name]}.")
    if cfg.blocks < 0:
        raise ValueError(f"{key}.blocks must be >= 0, got {cfg.blocks}.")


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
    """Depth to space: (B, H, W, C r^2) -> (B, H r, W r, C), output pixel (h r + i, w r + j, c) taken from input
    channel c r^2 + i r + j (PyTorch's `nn.PixelShuffle` order, so converted weights keep their meaning)."""
    b, h, w, depth = x.shape
    if depth % (factor * factor):
        raise ValueError(f"pixel_shuffle by {factor} needs channels divisible by {factor * factor}, got {depth}.")
    c = depth // (factor * factor)
    x = x.reshape(b, h, w, c, factor, factor).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(b, h * factor, w * factor, c)


def upsampling_stages(scale: int) -> int:
    """The number of 2x sub-pixel stages that make `scale` (a power of two >= 2)."""
    stages = int(round(math.log2(scale))) if scale >= 2 else 0
    if stages < 1 or 2 ** stages != scale:
        raise ValueError(f"srgan.scale must be a power of two >= 2 (one 2x pixel-shuffle stage per factor 2), "
                         f"got {scale}.")
    return stages


class ResidualBlock(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN, plus the input."""

    features: int
    batch_norm: bool = True
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        y = x
        for i in range(2):
            y = nn.Conv(self.features, (3, 3), dtype=self.dtype)(y)
            if self.batch_norm:
                y = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, dtype=self.dtype)(y)
            if i == 0:
                y = nn.PReLU(negative_slope_init=0.25)(y)
        return x + y


class SRResNetGenerator(nn.Module):
    """G: a low-resolution image (B, h, w, C) in [-1, 1] -> (B, h scale, w scale, channels) in [-1, 1]."""

    scale: int
    channels: int
    features: int = 64
    blocks: int = 16
    batch_norm: bool = True
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        head = nn.PReLU(negative_slope_init=0.25)(nn.Conv(self.features, (9, 9), dtype=self.dtype)(x))
        y = head
        for _ in range(self.blocks):
            y = ResidualBlock(self.features, self.batch_norm, self.dtype)(y, train)
        y = nn.Conv(self.features, (3, 3), dtype=self.dtype)(y)
        if self.batch_norm:
            y = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, dtype=self.dtype)(y)
        y = y + head
        for _ in range(upsampling_stages(self.scale)):
            y = pixel_shuffle(nn.Conv(4 * self.features, (3, 3), dtype=self.dtype)(y), 2)
            y = nn.PReLU(negative_slope_init=0.25)(y)
        y = nn.Conv(self.channels, (9, 9), dtype=self.dtype)(y)
        return jnp.tanh(y.astype(jnp.float32))


class SRDiscriminator(nn.Module):
    """D: a high-resolution image (B, H, W, C) -> one real/fake logit per image (B,)."""

    features: int = 64
    convs: int = 8
    dense: int = 1024
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        for i in range(self.convs):
            width, stride = self.features * 2 ** (i // 2), 1 + i % 2
            x = nn.Conv(width, (3, 3), strides=(stride, stride), dtype=self.dtype)(x)
            if i > 0:  # the paper's first conv has no BatchNorm
                x = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, dtype=self.dtype)(x)
            x = nn.leaky_relu(x, LEAKY_SLOPE)
        x = nn.leaky_relu(nn.Dense(self.dense, dtype=self.dtype)(x.reshape(x.shape[0], -1)), LEAKY_SLOPE)
        return nn.Dense(1, dtype=self.dtype)(x)[:, 0].astype(jnp.float32)


def build(cfg: ml_collections.ConfigDict, scale: int, channels: int, dtype: jnp.dtype = jnp.float32
          ) -> tuple[SRResNetGenerator, SRDiscriminator]:
    """(G, D) of the block `cfg` for images of `channels` channels upsampled `scale` times."""
    g = SRResNetGenerator(scale, channels, cfg.features, cfg.blocks, cfg.batch_norm, dtype)
    d = SRDiscriminator(cfg.d_features, cfg.d_convs, cfg.d_dense, dtype)
    return g, d
