"""A valid NHWC convolution whose derivatives of every order are again plain convolutions, for XLA:CPU.

R1 and the path-length penalty differentiate through a network's gradient, so their programs hold second-order
convolutions. Differentiating lax's conv rules twice yields weight gradients with a reversed window
(`rhs_reversal=1x1` in the HLO), which XLA:CPU does not hand to its Eigen convolution and runs as a naive loop: a
StyleGAN2 Dreg phase spent 80% of its time in five such convs (docs/stylegan2.md). Here the three linear maps of a
conv close under differentiation, each written with the others:

- `valid_conv(x, w)`, y = x * w (correlation, stride s);
- `input_grad(g, w)`, the transpose in x: the stride-dilated, fully padded g correlated with the flipped,
  in/out-swapped kernel (a stride-1 `valid_conv`, so its own derivatives are these three again);
- `weight_grad(x, g)`, the transpose in w: x correlated with g as the kernel, dilated by s.

The values equal lax's; only the form of the derivative programs changes (tests/test_valid_conv.py checks values and
derivatives to second order against lax, and that no compiled R1 program holds a reversed window).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

NHWC = ("NHWC", "HWIO", "NHWC")


def lax_conv(x: jax.Array, w: jax.Array, stride: int = 1, groups: int = 1) -> jax.Array:
    """lax's valid NHWC correlation with an HWIO kernel."""
    return lax.conv_general_dilated(x, w, (stride, stride), "VALID", dimension_numbers=NHWC,
                                    feature_group_count=groups)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def valid_conv(x: jax.Array, w: jax.Array, stride: int = 1) -> jax.Array:
    """Valid correlation of NHWC `x` with HWIO `w` at `stride`; derivatives of any order stay plain convs."""
    return lax_conv(x, w, stride)


def _valid_conv_fwd(x, w, stride):
    return lax_conv(x, w, stride), (x, w)


def _valid_conv_bwd(stride, residuals, g):
    x, w = residuals
    return input_grad(g, w, stride, x.shape[1:3]), weight_grad(x, g, stride, w.shape[:2])


valid_conv.defvjp(_valid_conv_fwd, _valid_conv_bwd)


def input_grad(g: jax.Array, w: jax.Array, stride: int, in_hw: tuple[int, int]) -> jax.Array:
    """The transpose of `valid_conv(., w, stride)` applied to g: an input of spatial size `in_hw`."""
    kh, kw = w.shape[:2]
    pads = []
    for axis, k, size in ((1, kh, in_hw[0]), (2, kw, in_hw[1])):
        covered = (g.shape[axis] - 1) * stride + k  # input rows the forward conv read
        pads.append((k - 1, k - 1 + size - covered, stride - 1))
    g = lax.pad(g, jnp.zeros((), g.dtype), [(0, 0, 0), pads[0], pads[1], (0, 0, 0)])
    flipped = jnp.swapaxes(w[::-1, ::-1], 2, 3)  # HWIO -> flipped HWOI
    return valid_conv(g, flipped, 1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def weight_grad(x: jax.Array, g: jax.Array, stride: int, kernel_hw: tuple[int, int]) -> jax.Array:
    """The transpose of `valid_conv(x, ., stride)` applied to g: an HWIO kernel of spatial size `kernel_hw`."""
    dw = lax.conv_general_dilated(x, g, (1, 1), "VALID", rhs_dilation=(stride, stride),
                                  dimension_numbers=("CHWN", "IHWO", "HWNC"))  # batch = x's channels, sum over n
    return dw[:kernel_hw[0], :kernel_hw[1]]


def _weight_grad_fwd(x, g, stride, kernel_hw):
    return weight_grad(x, g, stride, kernel_hw), (x, g)


def _weight_grad_bwd(stride, kernel_hw, residuals, h):
    x, g = residuals
    return input_grad(g, h, stride, x.shape[1:3]), valid_conv(x, h, stride)


weight_grad.defvjp(_weight_grad_fwd, _weight_grad_bwd)


def patch_conv(x: jax.Array, w: jax.Array, stride: int = 1) -> jax.Array:
    """The same correlation as one matmul of the kh*kw shifted (strided) windows of x, stacked on channels (im2col).

    Conv-free, so its derivatives of any order are slices, pads and matmuls; on XLA:CPU it beats the convolution
    where both channel counts are large (512 maps: fwd + bwd 3x faster at 32x32, docs/stylegan2.md).
    """
    kh, kw, cin, cout = w.shape
    return jnp.einsum("nhwk,ko->nhwo", im2col(x, kh, kw, stride), w.reshape(kh * kw * cin, cout))


def im2col(x: jax.Array, kh: int, kw: int, stride: int = 1) -> jax.Array:
    """The kh*kw shifted (strided) valid windows of NHWC `x`, stacked on channels: (N, out_h, out_w, kh*kw*C)."""
    out_h, out_w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    windows = [x[:, i:i + (out_h - 1) * stride + 1:stride, j:j + (out_w - 1) * stride + 1:stride, :]
               for i in range(kh) for j in range(kw)]
    return windows[0] if len(windows) == 1 else jnp.concatenate(windows, axis=-1)
