"""Image-to-image networks: the pix2pix U-Net, the CycleGAN ResNet generator and the PatchGAN discriminator.

Layer for layer these follow the authors' public PyTorch code (junyanz/pytorch-CycleGAN-and-pix2pix,
`models/networks.py`), so parameter counts match it: U-Net-256 54.41M, ResNet-9 11.38M, 70x70 PatchGAN 2.77M.
Convs use N(0, 0.02) weights and BatchNorm N(1, 0.02) scales as there; instance norm has no affine parameters
(PyTorch's `InstanceNorm2d` default), and convs followed by BatchNorm have no bias.
All modules map NHWC images in [-1, 1]; generators end in tanh, the discriminator returns a map of patch logits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.dcgan import bn_scale_init, conv_init
from jaxgan.models.layers import ConvTranspose

NORMS = ("batch", "instance", "none")


def make_norm(kind: str, train: bool, dtype) -> Callable[[jax.Array], jax.Array]:
    """BatchNorm (running averages unless `train`), affine-free instance norm, or identity."""
    if kind == "batch":
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype,
                            scale_init=bn_scale_init)
    if kind == "instance":
        return nn.InstanceNorm(epsilon=1e-5, use_scale=False, use_bias=False, dtype=dtype)
    if kind == "none":
        return lambda x: x
    raise ValueError(f"Unknown norm {kind!r}; choose one of {NORMS} (config key `model.norm`).")


def _conv(features: int, kernel: int, stride: int, padding: int, use_bias: bool, dtype, name=None) -> nn.Conv:
    """A PyTorch-style conv: square kernel, symmetric zero padding."""
    return nn.Conv(features, (kernel, kernel), (stride, stride), padding=((padding, padding), (padding, padding)),
                   use_bias=use_bias, kernel_init=conv_init, dtype=dtype, name=name)


def reflect_pad(x: jax.Array, pad: int) -> jax.Array:
    """Reflection-pad the two spatial axes of NHWC `x` (PyTorch's `ReflectionPad2d`)."""
    return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def unet_num_downs(resolution: int) -> int:
    """U-Net depth that takes `resolution` down to a 1x1 bottleneck: log2(resolution), 8 at 256."""
    depth = int(round(math.log2(resolution))) if resolution > 0 else 0
    if resolution < 4 or 2**depth != resolution:
        raise ValueError(f"The U-Net needs a power-of-two image size >= 4 (e.g. 32, 256), got {resolution}; "
                         "set data.crop_size accordingly or set model.num_downs explicitly.")
    return depth


def unet_widths(ngf: int, num_downs: int) -> list[int]:
    """Feature width after each down level: ngf, 2 ngf, 4 ngf, then 8 ngf (C64-C128-C256-C512-C512-...)."""
    return [ngf * min(2**i, 8) for i in range(num_downs)]


class UNetGenerator(nn.Module):
    """pix2pix's U-Net: `num_downs` stride-2 4x4 convs down, mirrored transposed convs up, skips between mirrors.

    Dropout (rate `dropout`) follows the norm of the 8 ngf decoder levels between the innermost and the
    widening ones (3 levels at 256x256: the paper's CD512 layers); it draws from the "dropout" RNG when `train`.
    """

    out_channels: int = 3
    num_downs: int = 8
    ngf: int = 64
    norm: str = "batch"
    dropout: float = 0.5
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        n = self.num_downs
        if x.shape[1] % 2**n or x.shape[2] % 2**n:
            raise ValueError(f"U-Net with {n} down levels needs H and W divisible by {2**n}, got {x.shape[1:3]}.")
        widths, use_bias = unet_widths(self.ngf, n), self.norm != "batch"
        h, skips = x.astype(self.dtype), []
        for i, width in enumerate(widths):
            if i > 0:
                h = nn.leaky_relu(h, 0.2)
            h = _conv(width, 4, 2, 1, use_bias, self.dtype, name=f"down{i}")(h)
            if 0 < i < n - 1:  # no norm on the outermost input conv nor at the (1x1) bottleneck
                h = make_norm(self.norm, train, self.dtype)(h)
            skips.append(h)
        for i in reversed(range(n)):
            if i < n - 1:  # every level but the innermost sees its own down features beside the level below
                h = jnp.concatenate([skips[i], h], axis=-1)
            h = nn.relu(h)
            if i == 0:
                h = ConvTranspose(self.out_channels, 4, 2, 1, use_bias=True, kernel_init=conv_init,
                                  dtype=self.dtype, name="up0")(h)
                return jnp.tanh(h).astype(jnp.float32)
            h = ConvTranspose(widths[i - 1], 4, 2, 1, use_bias=use_bias, kernel_init=conv_init,
                              dtype=self.dtype, name=f"up{i}")(h)
            h = make_norm(self.norm, train, self.dtype)(h)
            if 4 <= i < n - 1 and self.dropout > 0:
                h = nn.Dropout(self.dropout, deterministic=not train)(h)
        raise AssertionError("unreachable")


class ResNetBlock(nn.Module):
    """x + (reflect-pad, 3x3 conv, norm, ReLU, reflect-pad, 3x3 conv, norm)(x)."""

    norm: str = "instance"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        width, use_bias = x.shape[-1], self.norm != "batch"
        h = _conv(width, 3, 1, 0, use_bias, self.dtype)(reflect_pad(x, 1))
        h = nn.relu(make_norm(self.norm, train, self.dtype)(h))
        h = _conv(width, 3, 1, 0, use_bias, self.dtype)(reflect_pad(h, 1))
        return x + make_norm(self.norm, train, self.dtype)(h)


class ResNetGenerator(nn.Module):
    """CycleGAN's generator (Johnson et al. 2016): c7s1-64, d128, d256, `n_blocks` x R256, u128, u64, c7s1-3."""

    out_channels: int = 3
    ngf: int = 64
    n_blocks: int = 9
    norm: str = "instance"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        if x.shape[1] % 4 or x.shape[2] % 4:
            raise ValueError(f"The ResNet generator needs H and W divisible by 4, got {x.shape[1:3]}.")
        use_bias = self.norm != "batch"
        norm = lambda h: make_norm(self.norm, train, self.dtype)(h)
        h = _conv(self.ngf, 7, 1, 0, use_bias, self.dtype, name="stem")(reflect_pad(x.astype(self.dtype), 3))
        h = nn.relu(norm(h))
        for i in range(2):
            h = nn.relu(norm(_conv(self.ngf * 2 ** (i + 1), 3, 2, 1, use_bias, self.dtype, name=f"down{i}")(h)))
        for i in range(self.n_blocks):
            h = ResNetBlock(self.norm, self.dtype, name=f"block{i}")(h, train)
        for i in range(2):
            # PyTorch's ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1): exactly doubles H and W.
            up = nn.ConvTranspose(self.ngf * 2 ** (1 - i), (3, 3), (2, 2), padding=((1, 2), (1, 2)),
                                  use_bias=use_bias, kernel_init=conv_init, dtype=self.dtype, name=f"up{i}")
            h = nn.relu(norm(up(h)))
        h = _conv(self.out_channels, 7, 1, 0, True, self.dtype, name="to_image")(reflect_pad(h, 3))
        return jnp.tanh(h).astype(jnp.float32)


def patch_layers(n_layers: int = 3) -> list[tuple[int, int]]:
    """(kernel, stride) of the PatchGAN's convs: `n_layers` stride-2 convs, then two stride-1 convs, all 4x4."""
    return [(4, 2)] * n_layers + [(4, 1), (4, 1)]


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Input pixels (per side) that one output of a stack of (kernel, stride) convs sees: r <- (r - 1) s + k."""
    r = 1
    for kernel, stride in reversed(layers):
        r = (r - 1) * stride + kernel
    return r


class PatchDiscriminator(nn.Module):
    """PatchGAN: C64-C128-C256-C512 (4x4, leaky ReLU 0.2, no norm on the first) then a 1-channel conv.

    With `n_layers=3` each output logit judges one 70x70 patch (256x256 in -> 30x30 logits). pix2pix feeds it
    the input and the output image concatenated on channels; CycleGAN feeds it one image.
    """

    ndf: int = 64
    n_layers: int = 3
    norm: str = "batch"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        use_bias = self.norm != "batch"
        h = nn.leaky_relu(_conv(self.ndf, 4, 2, 1, True, self.dtype, name="conv0")(x.astype(self.dtype)), 0.2)
        for i in range(1, self.n_layers + 1):
            stride = 2 if i < self.n_layers else 1
            h = _conv(self.ndf * min(2**i, 8), 4, stride, 1, use_bias, self.dtype, name=f"conv{i}")(h)
            h = nn.leaky_relu(make_norm(self.norm, train, self.dtype)(h), 0.2)
        h = _conv(1, 4, 1, 1, True, self.dtype, name="logits")(h)
        return h.astype(jnp.float32)
