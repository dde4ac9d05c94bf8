"""DCGAN (Radford et al. 2015): transposed-conv G and strided-conv D with BatchNorm, any resolution 4*2^n or 7*2^n.

G projects z to a `base` x `base` map (a Dense layer, the same function as PyTorch's 4x4 transposed conv on a 1x1
input), then doubles the resolution with 4x4 stride-2 transposed convs, halving the width each time; D mirrors it
and ends in a `base` x `base` valid conv written as an einsum. Widths follow PyTorch's DCGAN example (ngf = ndf = 64).

`fast_image_layers` writes D's first and G's last layer (the 3-channel image layers) as space-to-depth + a 2x2 conv
(same params, same function, faster on XLA:GPU). `bn_groups` > 1 computes BatchNorm statistics per group of examples,
one group per device when replicas do not synchronise them (`parallel.sync_batch_norm=False`).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.models.conditional import conditional_output
from jaxgan.models.fast_layers import DepthToSpaceConvTranspose, GhostBatchNorm, SpaceToDepthConv
from jaxgan.models.layers import ConvTranspose, square_image
from jaxgan.models.outputs import output_activation

# DCGAN's initialisation: N(0, 0.02) for conv weights, N(1, 0.02) for BatchNorm scales.
conv_init = nn.initializers.normal(0.02)


def bn_scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def num_upsamplings(resolution: int) -> tuple[int, int]:
    """(n, base): resolution = base * 2^n with base in 4..7, e.g. 64 -> (4, 4), 28 -> (2, 7)."""
    n = 0
    while resolution % (2 ** (n + 1)) == 0 and resolution // 2 ** (n + 1) >= 4:
        n += 1
    base = resolution // 2**n
    if n == 0 or base > 7:
        raise ValueError(
            f"DCGAN needs a resolution of 4*2^n or 7*2^n (e.g. 28, 32, 64, 128), got {resolution}; "
            "set data.image_size accordingly."
        )
    return n, base


def _batch_norm(train: bool, dtype, groups: int, index: int) -> nn.Module:
    """The i-th BatchNorm, named as flax auto-names it, so both forms share one params tree."""
    kwargs = dict(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype, scale_init=bn_scale_init,
                  name=f"BatchNorm_{index}")
    return nn.BatchNorm(**kwargs) if groups == 1 else GhostBatchNorm(groups, **kwargs)


class DCGANGenerator(nn.Module):
    """z -> base x base x (ngf * 2^(n-1)) -> ... -> resolution x resolution x channels in [-1, 1]."""

    resolution: int = 64
    channels: int = 3
    ngf: int = 64
    activation: str = "tanh"
    dtype: jnp.dtype = jnp.float32
    fast_image_layers: bool = True
    bn_groups: int = 1

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        n, base = num_upsamplings(self.resolution)
        width = self.ngf * 2 ** (n - 1)
        h = nn.Dense(base * base * width, use_bias=False, kernel_init=conv_init, dtype=self.dtype)(
            z.astype(self.dtype))
        h = h.reshape((z.shape[0], base, base, width))
        h = nn.relu(_batch_norm(train, self.dtype, self.bn_groups, 0)(h))
        for i in range(n - 1):
            width //= 2
            h = ConvTranspose(width, use_bias=False, kernel_init=conv_init, dtype=self.dtype,
                              name=f"up{i}")(h)
            h = nn.relu(_batch_norm(train, self.dtype, self.bn_groups, i + 1)(h))
        to_image = DepthToSpaceConvTranspose if self.fast_image_layers else ConvTranspose
        h = to_image(self.channels, use_bias=False, kernel_init=conv_init, dtype=self.dtype, name="to_image")(h)
        return output_activation(h, self.activation)


class DCGANDiscriminator(nn.Module):
    """Image -> stride-2 4x4 convs (leaky ReLU 0.2, BatchNorm after the first) -> one logit.

    A class-conditional D (`head` projection or acgan) applies the head to its last feature map, flattened: the
    projection adds <embed(y), h> beside the final conv's logit (Miyato & Koyama 2018 with phi = that map)."""

    resolution: int = 64
    ndf: int = 64
    dtype: jnp.dtype = jnp.float32
    fast_image_layers: bool = True
    bn_groups: int = 1
    head: str = "none"  # none | projection | acgan (`model.d_cond`)
    num_classes: int | None = None

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        n, base = num_upsamplings(self.resolution)
        h = x.astype(self.dtype)
        width = self.ndf
        for i in range(n):
            if i == 0 and self.fast_image_layers:
                conv = SpaceToDepthConv(width, kernel_init=conv_init, dtype=self.dtype, name=f"down{i}")
            else:
                conv = nn.Conv(width, (4, 4), (2, 2), padding=((1, 1), (1, 1)), use_bias=False,
                               kernel_init=conv_init, dtype=self.dtype, name=f"down{i}")
            h = conv(h)
            if i > 0:
                h = _batch_norm(train, self.dtype, self.bn_groups, i - 1)(h)
            h = nn.leaky_relu(h, 0.2)
            width *= 2
        # The final base x base valid conv to one logit is a contraction over H, W and C.
        kernel = self.param("logit_kernel", conv_init, (base, base, h.shape[-1]))
        logit = jnp.einsum("bhwc,hwc->b", h, kernel.astype(self.dtype)).astype(jnp.float32)
        features = h.reshape((h.shape[0], -1)).astype(jnp.float32)
        return conditional_output(self.head, logit, features, labels, self.num_classes, train=train)


def default_config() -> ml_collections.ConfigDict:
    """The `model.dcgan` block: the PyTorch example's widths."""
    return ml_collections.ConfigDict(dict(
        ngf=64,                  # G's base width
        ndf=64,                  # D's base width
        fast_image_layers=True,  # D's first / G's last layer as space-to-depth + 2x2 conv (the same function)
    ))


def build(cfg: ml_collections.ConfigDict, example_shape: Sequence[int], num_classes: int | None,
          dtype: jnp.dtype, bn_groups: int = 1) -> tuple[nn.Module, nn.Module]:
    """(G, D) from the `model` block; the DCGAN D has no layer for spectral norm."""
    if cfg.spectral_norm:
        raise ValueError(
            "The DCGAN D cannot take spectral norm: it ends in a raw einsum kernel (no layer to normalise) and uses "
            "BatchNorm. Use model.name='resnet' (or 'mlp') for model.spectral_norm."
        )
    res, channels = square_image(example_shape, "DCGAN")
    num_upsamplings(res)  # fail now, with the resolution in the message, not at the first apply
    fast = dict(fast_image_layers=cfg.dcgan.fast_image_layers, bn_groups=bn_groups)
    g = DCGANGenerator(res, channels, cfg.dcgan.ngf, cfg.output_activation, dtype=dtype, **fast)
    d = DCGANDiscriminator(res, cfg.dcgan.ndf, dtype=dtype, head=cfg.d_cond, num_classes=num_classes, **fast)
    return g, d
