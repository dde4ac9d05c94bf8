"""ResNet G and D of SNGAN (Miyato et al. 2018, Table 4) and WGAN-GP (Gulrajani et al. 2017), at any 4 * 2^n size.

G: z -> Dense -> 4x4 x widths[0] -> one up-block per further width -> BN, ReLU, 3x3 conv to the image, tanh.
An up-block is BN, ReLU, 2x nearest upsample, 3x3 conv, BN, ReLU, 3x3 conv, plus an upsample + 1x1 conv shortcut.
With `num_classes` set, the blocks' BNs are conditional (per-class scale and shift), as in SNGAN's conditional G.

D: an "optimized" first block (3x3 conv, ReLU, 3x3 conv, 2x2 average pool; shortcut: pool then 1x1 conv), then
pre-activation blocks (ReLU, 3x3 conv, ReLU, 3x3 conv, pool when downsampling; a 1x1 conv shortcut when the width or
size changes), ReLU, global sum pooling and a `DiscriminatorHead` (logit, projection or AC-GAN). The first `down`
blocks halve the resolution. D has no normalisation layers, so gradient penalties see per-example gradients.

Presets (the CIFAR-10 models; convs and linears have biases, BN has a scale and a shift per channel):
- SNGAN 32x32: g_widths=(256,) * 4, d_widths=(128,) * 4, d_down=2 -> 4,276,739 G and 1,053,825 D params.
- WGAN-GP 32x32 (gan_cifar_resnet.py, DIM_G = DIM_D = 128): g_widths=(128,) * 4, the same D -> 1,204,483 G params.
  (WGAN-GP averages D's features where SNGAN sums them: a fixed scale of the last layer's input.)
- 64x64 (Miyato & Koyama 2018's 64x64 ResNet, ch = 64): g_widths=(1024, 512, 256, 128, 64),
  d_widths=(64, 128, 256, 512, 1024), d_down=5.
Weights use Glorot-uniform init with gain sqrt(2) in the residual branches and gain 1 elsewhere, as in SNGAN's code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.models.conditional import ConditionalBatchNorm, DiscriminatorHead, require_labels
from jaxgan.models.layers import square_image
from jaxgan.models.outputs import output_activation
from jaxgan.models.spectral import apply_layer

residual_init = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")  # Glorot uniform, gain sqrt(2)
plain_init = nn.initializers.xavier_uniform()


def check_generator_widths(resolution: int, widths: Sequence[int]) -> None:
    """Raise unless `widths` (4x4 width, then one per 2x up-block) reach exactly `resolution`."""
    if len(widths) < 2 or 4 * 2 ** (len(widths) - 1) != resolution:
        n = math.log2(resolution / 4) if resolution >= 4 else float("nan")
        hint = f"{int(n) + 1} widths" if n == int(n) else "a resolution of 4 * 2^n (32, 64, 128, ...)"
        raise ValueError(
            f"The ResNet G starts at 4x4 and doubles once per width after the first, so model.resnet.g_widths="
            f"{tuple(widths)} makes {4 * 2 ** (len(widths) - 1)}x{4 * 2 ** (len(widths) - 1)} images but the data "
            f"is {resolution}x{resolution}: use {hint} (set data.image_size to 32 or 64)."
        )


def check_discriminator_widths(resolution: int, widths: Sequence[int], down: int) -> None:
    """Raise unless D has a block per width and downsamples 1..len(widths) times to a whole feature map."""
    if not widths or not 1 <= down <= len(widths):
        raise ValueError(f"model.resnet.d_down={down} must be between 1 and len(model.resnet.d_widths)={len(widths)} "
                         "(the first block of the ResNet D always downsamples).")
    if resolution % 2**down:
        raise ValueError(f"model.resnet.d_down={down} halvings do not divide the {resolution}x{resolution} images; "
                         "use fewer or set data.image_size to a power of two.")


def _upsample(x: jax.Array) -> jax.Array:
    """2x nearest-neighbour upsampling (NHWC)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _downsample(x: jax.Array) -> jax.Array:
    """2x2 average pooling (NHWC)."""
    return nn.avg_pool(x, (2, 2), (2, 2))


class GBlock(nn.Module):
    """SNGAN's up-block: (C)BN, ReLU, upsample, conv3x3, (C)BN, ReLU, conv3x3, plus an upsample + conv1x1 shortcut."""

    features: int
    num_classes: int | None = None
    dtype: jnp.dtype = jnp.float32

    def _norm(self, x, labels, train, name):
        if self.num_classes is None:
            return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                                name=name)(x)
        return ConditionalBatchNorm(self.num_classes, dtype=self.dtype, name=name)(x, labels, train)

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None, train: bool) -> jax.Array:
        conv = lambda k, init, name: nn.Conv(self.features, (k, k), padding="SAME", kernel_init=init,
                                             dtype=self.dtype, name=name)
        h = nn.relu(self._norm(x, labels, train, "bn1"))
        h = conv(3, residual_init, "conv1")(_upsample(h))
        h = nn.relu(self._norm(h, labels, train, "bn2"))
        h = conv(3, residual_init, "conv2")(h)
        return h + _upsample(conv(1, plain_init, "shortcut")(x))  # = conv1x1(upsample(x)), 4x cheaper


class DBlock(nn.Module):
    """A D block: pre-activation (or, when `first`, SNGAN's "optimized" block) with an optional 2x downsampling.

    As in SNGAN's code, the first conv keeps the input width (the optimized block's goes straight to `features`).
    """

    features: int
    downsample: bool = True
    first: bool = False
    spectral_norm: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        def conv(h, width, k, init, name):
            layer = nn.Conv(width, (k, k), padding="SAME", kernel_init=init, dtype=self.dtype, name=name)
            return apply_layer(layer, h, sn=self.spectral_norm, train=train)

        hidden = self.features if self.first else x.shape[-1]
        h = x if self.first else nn.relu(x)
        h = conv(nn.relu(conv(h, hidden, 3, residual_init, "conv1")), self.features, 3, residual_init, "conv2")
        if self.downsample:
            h = _downsample(h)
        shortcut = _downsample(x) if self.downsample else x  # pool then conv1x1 = conv1x1 then pool, 4x cheaper
        if self.first or self.downsample or x.shape[-1] != self.features:
            shortcut = conv(shortcut, self.features, 1, plain_init, "shortcut")
        return h + shortcut


class ResNetGenerator(nn.Module):
    """z -> 4x4 x widths[0] -> up-blocks to widths[-1] at 4 * 2^(len(widths)-1) pixels -> `channels` in [-1, 1]."""

    widths: Sequence[int] = (256, 256, 256, 256)
    channels: int = 3
    activation: str = "tanh"
    num_classes: int | None = None  # conditional BatchNorm in the blocks when set
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        if self.num_classes is not None:
            labels = require_labels(labels, "This generator (conditional BatchNorm)")
        h = nn.Dense(16 * self.widths[0], kernel_init=plain_init, dtype=self.dtype, name="input")(z.astype(self.dtype))
        h = h.reshape((z.shape[0], 4, 4, self.widths[0]))
        for i, width in enumerate(self.widths[1:]):
            h = GBlock(width, self.num_classes, self.dtype, name=f"block{i}")(h, labels, train)
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                         name="bn_out")(h)
        h = nn.Conv(self.channels, (3, 3), padding="SAME", kernel_init=plain_init, dtype=self.dtype,
                    name="to_image")(nn.relu(h))
        return output_activation(h, self.activation).astype(jnp.float32)


class ResNetDiscriminator(nn.Module):
    """Image -> D blocks of `widths` (the first `down` halve the size) -> ReLU, sum pooling -> `head`."""

    widths: Sequence[int] = (128, 128, 128, 128)
    down: int = 2
    head: str = "none"
    num_classes: int | None = None
    spectral_norm: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        h = x.astype(self.dtype)
        for i, width in enumerate(self.widths):
            h = DBlock(width, downsample=i < self.down, first=i == 0, spectral_norm=self.spectral_norm,
                       dtype=self.dtype, name=f"block{i}")(h, train)
        features = jnp.sum(nn.relu(h), axis=(1, 2))  # global sum pooling
        return DiscriminatorHead(self.head, self.num_classes, self.spectral_norm, name="head")(
            features, labels, train)


def default_config() -> ml_collections.ConfigDict:
    """The `model.resnet` block: SNGAN's CIFAR-10 networks."""
    return ml_collections.ConfigDict(dict(
        g_widths=(256, 256, 256, 256),  # G: width at 4x4, then after each 2x up-block
        d_widths=(128, 128, 128, 128),  # D: width of each block
        d_down=2,                       # D: the first d_down blocks halve the resolution
    ))


def build(cfg: ml_collections.ConfigDict, example_shape: Sequence[int], num_classes: int | None,
          dtype: jnp.dtype, bn_groups: int = 1) -> tuple[nn.Module, nn.Module]:
    """(G, D) from the `model` block: conditional BatchNorm in G with g_cond=cbn, D's head from d_cond."""
    res, channels = square_image(example_shape, "The ResNet GAN")
    net = cfg.resnet
    check_generator_widths(res, net.g_widths)
    check_discriminator_widths(res, net.d_widths, net.d_down)
    g = ResNetGenerator(tuple(net.g_widths), channels, cfg.output_activation,
                        num_classes=num_classes if cfg.g_cond == "cbn" else None, dtype=dtype)
    d = ResNetDiscriminator(tuple(net.d_widths), net.d_down, head=cfg.d_cond, num_classes=num_classes,
                            spectral_norm=cfg.spectral_norm, dtype=dtype)
    return g, d
