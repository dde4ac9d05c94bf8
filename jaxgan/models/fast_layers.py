"""Image layers that compute the same function as the plain ones, written for XLA:GPU, and a per-group BatchNorm.

A 4x4 stride-2 conv on a 3-channel image (D's first layer) and a 4x4 stride-2 transposed conv to a 3-channel image
(G's last layer) are poor shapes for cuDNN: 3 channels fill few lanes. Space-to-depth turns both into a 2x2 stride-1
conv over 4x the channels, which computes the same values with the same parameters (the 4x4 kernel is regrouped,
never stored twice), so a checkpoint works with either form.

`GhostBatchNorm` computes statistics per group of examples: with one group per device it is the BatchNorm of a
data-parallel run whose replicas do not synchronise their statistics (`parallel.sync_batch_norm=False`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxgan.models.layers import _as_forward_kernel, _conv_transpose_impl, _strided_conv
from jaxgan.models.valid_conv import im2col, patch_conv

_DIMS = ("NHWC", "HWIO", "NHWC")
_PAD1 = ((0, 0), (1, 1), (1, 1), (0, 0))


def space_to_depth(x: jax.Array) -> jax.Array:
    """(B, H, W, C) -> (B, H/2, W/2, 4C); the new channel index is (row in block, column in block, c)."""
    b, h, w, c = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"space_to_depth needs an even height and width, got {(h, w)}.")
    x = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h // 2, w // 2, 4 * c)


def depth_to_space(x: jax.Array) -> jax.Array:
    """(B, H, W, 4C) -> (B, 2H, 2W, C); the inverse of `space_to_depth`."""
    b, h, w, c4 = x.shape
    c = c4 // 4
    x = x.reshape(b, h, w, 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, 2 * h, 2 * w, c)


def _check_kernel(kernel: jax.Array) -> None:
    if kernel.shape[:2] != (4, 4):
        raise ValueError(f"space-to-depth layers take a 4x4 kernel, got {kernel.shape[:2]}.")


def s2d_conv_kernel(kernel: jax.Array) -> jax.Array:
    """(4, 4, C, O) kernel of a stride-2 conv -> (2, 2, 4C, O) kernel of the equal stride-1 conv after s2d."""
    _check_kernel(kernel)
    c, o = kernel.shape[2:]
    k = kernel.reshape(2, 2, 2, 2, c, o)  # (block row, row in block, block col, col in block, c, o)
    return k.transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * c, o)


def d2s_conv_transpose_kernel(kernel: jax.Array) -> jax.Array:
    """(4, 4, I, C) kernel of `nn.ConvTranspose` (stride 2, PyTorch padding 1) -> (2, 2, I, 4C) before d2s.

    Output row 2q + b - 1 of the transposed conv reads input rows q - 1 and q (taps 3 - b and 1 - b of the
    flax-ordered kernel), so a 2x2 conv over the 1-padded input makes the 4 output phases as channels.
    """
    _check_kernel(kernel)
    i, c = kernel.shape[2:]
    k = kernel.reshape(2, 2, 2, 2, i, c)[:, ::-1, :, ::-1]  # tap 2r + s -> (r, phase b = 1 - s)
    return k.transpose(0, 2, 4, 1, 3, 5).reshape(2, 2, i, 4 * c)


def s2d_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The 4x4 stride-2 padding-1 conv of `x` with `kernel` (4, 4, C, O), as space-to-depth + a 2x2 conv."""
    u = space_to_depth(jnp.pad(x, _PAD1))
    return lax.conv_general_dilated(u, s2d_conv_kernel(kernel), (1, 1), "VALID", dimension_numbers=_DIMS)


def d2s_conv_transpose(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The 4x4 stride-2 transposed conv (PyTorch padding 1, output 2H x 2W), as a 2x2 conv + depth-to-space."""
    y = lax.conv_general_dilated(jnp.pad(x, _PAD1), d2s_conv_transpose_kernel(kernel), (1, 1), "VALID",
                                 dimension_numbers=_DIMS)
    return depth_to_space(y)[:, 1:-1, 1:-1]


class _Rewritten4x4Layer(nn.Module):
    """A 4x4 stride-2 layer with `nn.Conv`'s `kernel`/`bias` params, computed by the subclass's `_op`."""

    features: int
    use_bias: bool = False
    dtype: jnp.dtype | None = None
    param_dtype: jnp.dtype = jnp.float32
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (4, 4, x.shape[-1], self.features), self.param_dtype)
        dtype = self.dtype or x.dtype
        y = type(self)._op(x.astype(dtype), kernel.astype(dtype))
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,), self.param_dtype).astype(dtype)
        return y


class SpaceToDepthConv(_Rewritten4x4Layer):
    """Drop-in for `nn.Conv(features, (4, 4), (2, 2), padding=1)`: the same `kernel` param, the same values."""

    _op = staticmethod(s2d_conv)


class DepthToSpaceConvTranspose(_Rewritten4x4Layer):
    """Drop-in for `layers.ConvTranspose(features)` (4x4, stride 2, padding 1): the same params and values."""

    _op = staticmethod(d2s_conv_transpose)


def _group_stats(x: jax.Array, groups: int) -> tuple[jax.Array, jax.Array]:
    """Per-group (mean, var) over all axes but the last, in float32: each (groups, C)."""
    xg = x.astype(jnp.float32).reshape(groups, x.shape[0] // groups, -1, x.shape[-1])
    mean = jnp.mean(xg, axis=(1, 2))
    mean2 = jnp.mean(jnp.square(xg), axis=(1, 2))
    return mean, jnp.maximum(0.0, mean2 - jnp.square(mean))  # flax's fast variance, clipped at 0


class GhostBatchNorm(nn.Module):
    """BatchNorm with statistics per group of B/groups consecutive examples (groups=1: `nn.BatchNorm`).

    Params (`scale`, `bias`) and running statistics (`batch_stats`: `mean`, `var`) are named and shaped as in
    `nn.BatchNorm`; the running averages move towards the mean over groups of the group statistics.
    """

    groups: int = 1
    use_running_average: bool = False
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: jnp.dtype | None = None
    param_dtype: jnp.dtype = jnp.float32
    scale_init: nn.initializers.Initializer = nn.initializers.ones
    bias_init: nn.initializers.Initializer = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
        scale = self.param("scale", self.scale_init, (c,), self.param_dtype)
        bias = self.param("bias", self.bias_init, (c,), self.param_dtype)
        if self.use_running_average:
            mean, var = ra_mean.value[None], ra_var.value[None]
        else:
            if x.shape[0] % self.groups:
                raise ValueError(f"GhostBatchNorm: batch {x.shape[0]} is not divisible by groups={self.groups}; "
                                 "use a batch size that is a multiple of the device count.")
            mean, var = _group_stats(x, self.groups)
            if not self.is_initializing():
                ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * jnp.mean(mean, axis=0)
                ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * jnp.mean(var, axis=0)
        groups = mean.shape[0]
        xg = x.reshape(groups, x.shape[0] // groups, *x.shape[1:])
        bshape = (groups,) + (1,) * (x.ndim - 1) + (c,)
        y = (xg - mean.reshape(bshape)) * (lax.rsqrt(var.reshape(bshape) + self.epsilon) * scale) + bias
        return y.reshape(x.shape).astype(self.dtype or jnp.result_type(x, scale))


# XLA:CPU forms (measured on one core, batch 32, fwd / dx / dk ms; the scripts are in the commit message).
# Its lhs-dilated conv (a strided conv's input gradient, a transposed conv's forward) is 2x slower than the sub-pixel
# form at 16x16 and more, and slower below; its weight gradients beat every matmul form we tried. The 3-channel
# image layers are fastest as im2col + one matmul (`patch_conv`).
D2S_MIN_SIZE = 16  # input maps at least this large take the sub-pixel forward (16x16 128->64: 15.4 vs 29.9 ms)
D2S_MIN_FEATURES = 16  # ... and this many output channels (32x32 64->3: 4.4 vs 3.2 ms with lax)


# XLA:CPU's lhs-dilated conv slows down more than linearly with the batch too: batch 128, 8x8 256->128 took 99-103 ms
# at once and 77 ms as 8 chunks of 16 (4x4 512->256: 78-87 vs 75 ms; batch 32 unchanged, 17 ms); the DCGAN step at
# batch 128 went 3760 -> 3659 ms (median of 3 interleaved, one core).
TFWD_CHUNK = 16


def _transposed_forward(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The 4x4 stride-2 transposed conv of `x`, in XLA:CPU's faster form for its shape."""
    if x.shape[1] >= D2S_MIN_SIZE and x.shape[2] >= D2S_MIN_SIZE and kernel.shape[3] >= D2S_MIN_FEATURES:
        return d2s_conv_transpose(x, kernel)
    return in_batch_chunks(lambda u: _conv_transpose_impl(u, kernel, 2, 1), x, TFWD_CHUNK)


def batch_chunks(n: int, chunk: int | None) -> list[slice]:
    """The slices of `chunk` examples that split a batch of n, or one slice of all when chunk is None or no divisor."""
    if chunk is None or n <= chunk or n % chunk:
        return [slice(0, n)]
    return [slice(i, i + chunk) for i in range(0, n, chunk)]


def in_batch_chunks(fn: Callable[[jax.Array], jax.Array], x: jax.Array, chunk: int) -> jax.Array:
    """fn(x) for a per-example fn, computed on chunks of `chunk` examples and concatenated (when they divide x)."""
    parts = [fn(x[part]) for part in batch_chunks(x.shape[0], chunk)]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)


@jax.custom_vjp
def cpu_conv_transpose(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """`layers.conv_transpose(x, kernel)` (4x4, stride 2, padding 1) with the forward in XLA:CPU's faster form."""
    return _transposed_forward(x, kernel)


def _cpu_conv_transpose_fwd(x, kernel):
    return _transposed_forward(x, kernel), (x, kernel)


def _cpu_conv_transpose_bwd(res, dy):
    x, kernel = res
    w = _as_forward_kernel(kernel)
    dx = _strided_conv4x4(dy, w)  # <dy, T(w)^T x> = <conv(dy, w), x>: dw is conv(dy, .)'s kernel VJP at x
    return dx, _as_forward_kernel(chunked_weight_grad(dy, x, w))  # swap_io(flip(.)) is its own inverse


cpu_conv_transpose.defvjp(_cpu_conv_transpose_fwd, _cpu_conv_transpose_bwd)


def _strided_conv4x4(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The 4x4 stride-2 padding-1 conv of D's middle layers (`layers._strided_conv`)."""
    return _strided_conv(x, kernel, 2, 1)


# ... and so does its forward conv at large maps: batch 128, 32x32 64->128 took 109-113 ms at once and 91 ms in chunks
# of 16 (16x16 128->256: 77.5 vs 73.8 ms; 8x8: no gain; batch 32: no change); the DCGAN step at batch 128 went
# 3957 -> 3675 ms (chunks at maps >= 32 only: 3813 ms; median of 3 interleaved, one core).
FWD_CHUNK, FWD_CHUNK_MIN_SIZE = 16, 16


def _strided_forward(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The 4x4 stride-2 conv of `x`, in chunks of FWD_CHUNK examples at maps of FWD_CHUNK_MIN_SIZE and more."""
    if x.shape[1] < FWD_CHUNK_MIN_SIZE:
        return _strided_conv4x4(x, kernel)
    return in_batch_chunks(lambda u: _strided_conv4x4(u, kernel), x, FWD_CHUNK)


@jax.custom_vjp
def cpu_strided_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The 4x4 stride-2 padding-1 conv; its input gradient is a transposed conv in XLA:CPU's faster form."""
    return _strided_forward(x, kernel)


def _cpu_strided_conv_fwd(x, kernel):
    return _strided_forward(x, kernel), (x, kernel)


def _cpu_strided_conv_bwd(res, g):
    x, kernel = res
    # The transpose of conv(., w) is the transposed conv whose kernel K has w = swap_io(flip(K)).
    dx = _transposed_forward(g, _as_forward_kernel(kernel))
    return dx, chunked_weight_grad(x, g, kernel)


# XLA:CPU's weight gradient of a 4x4 stride-2 conv slows down more than linearly with the batch at large maps: as a sum
# over chunks of 8 examples (unrolled) it took, batch 128, 32x32 64->128: 134 vs 314 ms; 16x16 128->256: 100 vs 151 ms;
# batch 32, 32x32: 28 vs 42 ms; at 8x8 256->512 chunks lost (154 vs 79 ms); one core.
# Chunk size per input map (batch 128): 32x32: 4: 125, 8: 140, 16: 186 ms; 16x16:
# 8: 100, 16: 95 ms. DCGAN step with (4 at 32x32, 16 at 16x16) vs 8 at both, median of 4 / 3 interleaved runs
# (one core): batch 128 3624 -> 3538 ms, batch 32 972 -> 912 ms.
WGRAD_CHUNKS = ((32, 4), (16, 16))  # (smallest input map, examples per chunk); smaller maps take the whole batch


def _wgrad_chunk(size: int) -> int | None:
    """Examples per chunk of the weight gradient at input maps of `size`, or None for the whole batch."""
    return next((chunk for least, chunk in WGRAD_CHUNKS if size >= least), None)


def chunked_weight_grad(x: jax.Array, g: jax.Array, kernel: jax.Array) -> jax.Array:
    """d<g, conv4x4_s2(x, w)>/dw, summed over chunks of examples (`WGRAD_CHUNKS`) where the maps are large enough."""
    wgrad = lambda xs, gs: jax.vjp(lambda w: _strided_conv4x4(xs, w), kernel)[1](gs)[0]
    parts = [wgrad(x[part], g[part]) for part in batch_chunks(x.shape[0], _wgrad_chunk(x.shape[1]))]
    return functools.reduce(jnp.add, parts)


cpu_strided_conv.defvjp(_cpu_strided_conv_fwd, _cpu_strided_conv_bwd)


def _patch_s2d_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The primal of `patch_s2d_conv`: space-to-depth, then the 2x2 conv as im2col + one matmul."""
    return patch_conv(space_to_depth(jnp.pad(x, _PAD1)), s2d_conv_kernel(kernel), 1)


@jax.custom_vjp
def patch_s2d_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """`s2d_conv` with the 2x2 conv as im2col + one matmul (D's 3-channel layer on XLA:CPU: 8.8 vs 15 ms lax)."""
    return _patch_s2d_conv(x, kernel)


def _patch_s2d_conv_fwd(x, kernel):
    return _patch_s2d_conv(x, kernel), (x, kernel)


def _patch_s2d_conv_bwd(res, g):
    """dx as autodiff gives it; dw as (g^T patches)^T, which reads g in its NHWC layout (see below)."""
    x, kernel = res
    dx = jax.vjp(lambda u: _patch_s2d_conv(u, kernel), x)[1](g)[0]
    patches = im2col(space_to_depth(jnp.pad(x, _PAD1)), 2, 2)
    dw = jnp.einsum("mo,mk->ok", g.reshape(-1, g.shape[-1]), patches.reshape(-1, patches.shape[-1])).T
    (dk,) = jax.linear_transpose(s2d_conv_kernel, kernel)(dw.reshape(2, 2, -1, g.shape[-1]))
    return dx, dk


# Autodiff's dw, einsum("mk,mo->ko", patches, g), makes XLA:CPU copy g (the leaky ReLU's gradient, fused in) to a
# channel-major (64, B*32*32) array first, a strided copy ~6x slower than the matmul: 2 x 140 ms of a 4.4 s step at
# batch 128, 2 x 32 ms at batch 32. With g as the dot's lhs it is read as it lies (batch 32 step: 987 -> 867 ms of ops).
patch_s2d_conv.defvjp(_patch_s2d_conv_fwd, _patch_s2d_conv_bwd)


def patch_conv_transpose(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """The 4x4 stride-2 transposed conv as the transpose of an im2col strided conv (a matmul + overlap-add)."""
    w = _as_forward_kernel(kernel)
    out = jax.ShapeDtypeStruct((x.shape[0], 2 * x.shape[1], 2 * x.shape[2], kernel.shape[3]), x.dtype)
    (y,) = jax.linear_transpose(lambda u: patch_conv(jnp.pad(u, _PAD1), w, 2), out)(x)
    return y


class CPUStridedConv(_Rewritten4x4Layer):
    """Drop-in for `nn.Conv(features, (4, 4), (2, 2), padding=1)` with XLA:CPU's faster input gradient."""

    _op = staticmethod(cpu_strided_conv)


class CPUConvTranspose(_Rewritten4x4Layer):
    """Drop-in for `layers.ConvTranspose(features)` with XLA:CPU's faster forward."""

    _op = staticmethod(cpu_conv_transpose)


class PatchSpaceToDepthConv(_Rewritten4x4Layer):
    """Drop-in for `nn.Conv(features, (4, 4), (2, 2), padding=1)` as im2col + matmul (3-channel input, XLA:CPU)."""

    _op = staticmethod(patch_s2d_conv)


class PatchConvTranspose(_Rewritten4x4Layer):
    """Drop-in for `layers.ConvTranspose(features)` as matmul + overlap-add (3-channel output, XLA:CPU)."""

    _op = staticmethod(patch_conv_transpose)
