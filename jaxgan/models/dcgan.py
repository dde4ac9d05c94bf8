"""DCGAN (Radford et al. 2015): transposed-conv G and strided-conv D with BatchNorm, any resolution 4*2^n or 7*2^n.

G projects z to a `base` x `base` map (a Dense layer, the same function as PyTorch's 4x4 transposed conv on a 1x1
input), then doubles the resolution with 4x4 stride-2 transposed convs, halving the width each time; D mirrors it
and ends in a `base` x `base` valid conv written as an einsum. Widths follow PyTorch's DCGAN example (ngf = ndf = 64).

`fast_image_layers` writes the layers in forms that compute the same function with the same params, chosen per
backend (`layer_forms`): on GPU/TPU D's first and G's last layer (the 3-channel image layers) as space-to-depth + a
2x2 conv; on XLA:CPU the image layers as im2col + one matmul and the other 4x4 layers with a sub-pixel form for the
lax form that XLA:CPU runs slowly (fast_layers.py; 9-10% faster steps at batch 32 and 128), and the convs that XLA:CPU
slows down on large batches (forward, lhs-dilated, weight gradient) in chunks of examples.

`bn_groups` > 1 computes BatchNorm statistics per group of examples, one group per device
when replicas do not synchronise them (`parallel.sync_batch_norm=False`).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.models.conditional import conditional_output
from jaxgan.models.fast_layers import (
    CPUConvTranspose,
    CPUStridedConv,
    DepthToSpaceConvTranspose,
    GhostBatchNorm,
    PatchConvTranspose,
    PatchSpaceToDepthConv,
    SpaceToDepthConv,
)
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


def layer_forms(fast_image_layers: bool, forms: str | None = None) -> str:
    """The layer forms to build: `forms` if given, else 'cpu' on XLA:CPU, 'gpu' elsewhere; 'plain' without fast."""
    if forms is None:
        forms = ("cpu" if jax.default_backend() == "cpu" else "gpu") if fast_image_layers else "plain"
    if forms not in ("cpu", "gpu", "plain"):
        raise ValueError(f"DCGAN layer forms are 'cpu', 'gpu' or 'plain', got {forms!r}.")
    return forms


def _up_layer(forms: str, last: bool, **kwargs) -> nn.Module:
    """G's 4x4 stride-2 transposed conv (`last`: to the image) in `forms`; all share `ConvTranspose`'s params."""
    if forms == "cpu":
        return (PatchConvTranspose if last else CPUConvTranspose)(**kwargs)
    if forms == "gpu" and last:
        return DepthToSpaceConvTranspose(**kwargs)
    return ConvTranspose(**kwargs)


def _down_layer(forms: str, first: bool, **kwargs) -> nn.Module:
    """D's 4x4 stride-2 conv (`first`: from the image) in `forms`; all share `nn.Conv`'s params."""
    if forms == "cpu":
        return (PatchSpaceToDepthConv if first else CPUStridedConv)(**kwargs)
    if forms == "gpu" and first:
        return SpaceToDepthConv(**kwargs)
    return nn.Conv(kernel_size=(4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), **kwargs)


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
    forms: str | None = None  # `layer_forms`: None picks by backend

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        n, base = num_upsamplings(self.resolution)
        width = self.ngf * 2 ** (n - 1)
        h = nn.Dense(base * base * width, use_bias=False, kernel_init=conv_init, dtype=self.dtype)(
            z.astype(self.dtype))
        h = h.reshape((z.shape[0], base, base, width))
        h = nn.relu(_batch_norm(train, self.dtype, self.bn_groups, 0)(h))
        forms = layer_forms(self.fast_image_layers, self.forms)
        layer = dict(use_bias=False, kernel_init=conv_init, dtype=self.dtype)
        for i in range(n - 1):
            width //= 2
            h = _up_layer(forms, False, features=width, name=f"up{i}", **layer)(h)
            h = nn.relu(_batch_norm(train, self.dtype, self.bn_groups, i + 1)(h))
        h = _up_layer(forms, True, features=self.channels, name="to_image", **layer)(h)
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
    forms: str | None = None  # `layer_forms`: None picks by backend

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        n, base = num_upsamplings(self.resolution)
        h = x.astype(self.dtype)
        width = self.ndf
        forms = layer_forms(self.fast_image_layers, self.forms)
        for i in range(n):
            h = _down_layer(forms, i == 0, features=width, use_bias=False, kernel_init=conv_init, dtype=self.dtype,
                            name=f"down{i}")(h)
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
        fast_image_layers=True,  # the layers in faster forms per backend (the same function; `layer_forms`)
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
