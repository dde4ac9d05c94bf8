"""Layers shared by the networks: a transposed convolution that compiles to fast kernels on XLA:GPU."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

_DIMS = ("NHWC", "HWIO", "NHWC")


def square_image(example_shape: Sequence[int], who: str) -> tuple[int, int]:
    """(resolution, channels) of square (H, W, C) examples; a one-line error for any other shape."""
    if len(example_shape) != 3 or example_shape[0] != example_shape[1]:
        raise ValueError(
            f"{who} needs square images (H, W, C), got examples of shape {tuple(example_shape)}; "
            "use model.name='mlp' for non-image data or set data.image_size."
        )
    return example_shape[0], example_shape[2]


def _strided_conv(u: jax.Array, w: jax.Array, stride: int, padding: int) -> jax.Array:
    """Correlate `u` with `w` at `stride`: the forward conv whose linear transpose is our layer."""
    pad = ((padding, padding), (padding, padding))
    return lax.conv_general_dilated(u, w, (stride, stride), pad, dimension_numbers=_DIMS)


def _as_forward_kernel(kernel: jax.Array) -> jax.Array:
    """swap_io(flip(K)): the kernel of the forward conv that our transposed conv is the transpose of."""
    return jnp.swapaxes(kernel[::-1, ::-1], 2, 3)


def _transpose_out_shape(x: jax.Array, kernel: jax.Array, stride: int, padding: int):
    k = kernel.shape[0]
    h, w = ((s - 1) * stride - 2 * padding + k for s in x.shape[1:3])
    return jax.ShapeDtypeStruct((x.shape[0], h, w, kernel.shape[3]), x.dtype)


def _conv_transpose_impl(x, kernel, stride, padding):
    w = _as_forward_kernel(kernel)
    forward = lambda u: _strided_conv(u, w, stride, padding)
    (y,) = jax.linear_transpose(forward, _transpose_out_shape(x, kernel, stride, padding))(x)
    return y


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_transpose(x, kernel, stride, padding):
    return _conv_transpose_impl(x, kernel, stride, padding)


def _conv_transpose_fwd(x, kernel, stride, padding):
    return _conv_transpose_impl(x, kernel, stride, padding), (x, kernel)


def _conv_transpose_bwd(stride, padding, res, dy):
    x, kernel = res
    w = _as_forward_kernel(kernel)
    dx = _strided_conv(dy, w, stride, padding)  # an ordinary forward conv (cuDNN fprop)
    # <dy, T(w)^T x> = <conv(dy, w), x>, so dL/dw is the kernel VJP of conv(dy, .) at x (cuDNN wgrad).
    _, kernel_vjp = jax.vjp(lambda w_: _strided_conv(dy, w_, stride, padding), w)
    (dw,) = kernel_vjp(x)
    dkernel = jnp.swapaxes(dw, 2, 3)[::-1, ::-1]
    return dx, dkernel


_conv_transpose.defvjp(_conv_transpose_fwd, _conv_transpose_bwd)


def conv_transpose(x: jax.Array, kernel: jax.Array, stride: int = 2, padding: int = 1) -> jax.Array:
    """Transposed conv with PyTorch-style `padding`, as the transpose of a strided forward conv.

    Equals `nn.ConvTranspose(..., strides=stride, padding=k - 1 - padding)` on the same kernel, but its forward,
    input gradient and kernel gradient are each one ordinary convolution (cuDNN dgrad, fprop and wgrad on GPU),
    where flax's form becomes a conv over a zero-stuffed input and a huge-window kernel gradient.
    """
    return _conv_transpose(x, kernel, stride, padding)


class ConvTranspose(nn.Module):
    """Drop-in for `nn.ConvTranspose` (same `kernel` (k, k, in, out) and `bias` params) that compiles fast."""

    features: int
    kernel_size: int = 4
    stride: int = 2
    padding: int = 1  # PyTorch's meaning: output = (H - 1) * stride - 2 * padding + kernel_size
    use_bias: bool = True
    dtype: jnp.dtype | None = None
    param_dtype: jnp.dtype = jnp.float32
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features),
                            self.param_dtype)
        dtype = self.dtype or x.dtype
        y = conv_transpose(x.astype(dtype), kernel.astype(dtype), self.stride, self.padding)
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,), self.param_dtype)
            y = y + bias.astype(dtype)
        return y


def flax_padding(kernel_size: int, padding: int) -> Sequence[tuple[int, int]]:
    """The `nn.ConvTranspose` padding that matches our PyTorch-style `padding` (for tests and conversion)."""
    p = kernel_size - 1 - padding
    return ((p, p), (p, p))
