"""StyleGAN2's low-level ops on NHWC arrays: FIR up/down-sampling (upfirdn2d), bias + activation, resampling convs.

Written from the semantics of NVlabs stylegan2-ada-pytorch `torch_utils/ops/` (upfirdn2d.py, bias_act.py,
conv2d_resample.py) and `training/networks.py` (modulated_conv2d), as plain jnp / lax ops that XLA fuses, so no custom
kernels are needed. One deliberate difference: every conv here is a correlation (lax's convention); the reference
flips the kernel of its upsampling convs for speed, which only relabels randomly initialised weights.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgan.models.valid_conv import lax_conv, patch_conv, valid_conv

FIR_TAPS = (1, 3, 3, 1)
LRELU_ALPHA = 0.2
ACTIVATION_GAINS = {"linear": 1.0, "lrelu": float(np.sqrt(2.0))}
Padding = tuple[int, int, int, int]  # (x_before, x_after, y_before, y_after), as the reference orders it


def setup_filter(taps: Sequence[float] = FIR_TAPS) -> np.ndarray:
    """The 2-D separable FIR filter outer(taps, taps), normalised to unit DC gain."""
    f = np.asarray(taps, np.float32)
    f = np.outer(f, f)
    return f / f.sum()


def _parse_padding(padding: int | Sequence[int]) -> Padding:
    """One int, (x, y) or (x0, x1, y0, y1) padding as (x0, x1, y0, y1)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    return tuple(padding)  # type: ignore[return-value]


def upfirdn2d(x: jax.Array, f: np.ndarray, up: int = 1, down: int = 1, padding: int | Sequence[int] = 0,
              flip_filter: bool = False, gain: float = 1.0) -> jax.Array:
    """Zero-stuff by `up`, pad (negative = crop), convolve each channel with `f`, keep every `down`-th pixel."""
    px0, px1, py0, py1 = _parse_padding(padding)
    # Upsampling inserts up-1 zeros after every pixel (lax.pad's interior padding plus up-1 at the end).
    config = [(0, 0, 0), (py0, py1 + up - 1, up - 1), (px0, px1 + up - 1, up - 1), (0, 0, 0)]
    x = lax.pad(x, jnp.zeros((), x.dtype), config)
    f = np.asarray(f, np.float32) * gain ** (np.ndim(f) / 2)
    if not flip_filter:  # a true convolution: lax correlates, so flip the taps
        f = f[::-1, ::-1]
    return fir_filter(x, f, down)


def fir_filter(x: jax.Array, f: np.ndarray, stride: int = 1) -> jax.Array:
    """Valid correlation of every channel with the constant 2-D filter `f` at `stride`; every derivative is again one.

    Autodiff's transpose of the shifted-slice sum is one padded copy per tap (16 arrays the size of the input for
    the 4x4 FIR), added up inside each consumer: a full-width Gmain spent 0.4 s there. The transpose written out
    is a single fused loop over the dilated, padded gradient.
    """
    taps = tuple(tuple(float(t) for t in row) for row in np.asarray(f, np.float32))
    return _fir_filter(x, taps, stride, tuple(x.shape[1:3]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _fir_filter(x: jax.Array, taps: tuple, stride: int, in_hw: tuple[int, int]) -> jax.Array:
    return _correlate_shifted(x, np.asarray(taps, np.float32), stride)


def _fir_filter_fwd(x, taps, stride, in_hw):
    return _fir_filter(x, taps, stride, in_hw), None


def _fir_filter_bwd(taps, stride, in_hw, _, g):
    """The transpose: the stride-dilated gradient, padded to full, correlated with the flipped filter."""
    f = np.asarray(taps, np.float32)
    pads = [(0, 0, 0)]
    for axis, k, size in ((1, f.shape[0], in_hw[0]), (2, f.shape[1], in_hw[1])):
        covered = (g.shape[axis] - 1) * stride + k  # input rows the forward read
        pads.append((k - 1, k - 1 + size - covered, stride - 1))
    g = lax.pad(g, jnp.zeros((), g.dtype), pads + [(0, 0, 0)])
    return (fir_filter(g, f[::-1, ::-1], 1),)


_fir_filter.defvjp(_fir_filter_fwd, _fir_filter_bwd)


def _correlate_shifted(x: jax.Array, f: np.ndarray, stride: int) -> jax.Array:
    """Valid correlation of every channel with the constant 2-D filter `f`, as a sum of strided shifted slices.

    The same as a depthwise `conv_general_dilated` (feature_group_count = channels), which XLA's CPU backend runs
    about 20x slower (docs/stylegan2.md has the measurement). This form is one fused loop.
    """
    kh, kw = f.shape
    out_h, out_w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = None
    for i, j in np.ndindex(kh, kw):
        if f[i, j] == 0:
            continue
        window = x[:, i:i + (out_h - 1) * stride + 1:stride, j:j + (out_w - 1) * stride + 1:stride, :]
        term = window * jnp.asarray(f[i, j], x.dtype)
        out = term if out is None else out + term
    return out


def upsample2d(x: jax.Array, f: np.ndarray, up: int = 2) -> jax.Array:
    """Upsample by `up` with the FIR filter, keeping the DC level (gain up**2 for the inserted zeros)."""
    fw = f.shape[0]
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def downsample2d(x: jax.Array, f: np.ndarray, down: int = 2) -> jax.Array:
    """Low-pass with the FIR filter, then keep every `down`-th pixel."""
    fw = f.shape[0]
    p0, p1 = (fw - down + 1) // 2, (fw - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def bias_act(x: jax.Array, b: jax.Array | None = None, act: str = "linear", gain: float | None = None,
             clamp: float | None = None) -> jax.Array:
    """x + b, then the activation (leaky ReLU slope 0.2 or linear), times its gain, then clip to +-clamp."""
    if act not in ACTIVATION_GAINS:
        raise ValueError(f"Unknown activation {act!r}; choose one of {sorted(ACTIVATION_GAINS)}.")
    if b is not None:
        x = x + b.astype(x.dtype)
    if act == "lrelu":
        x = jnp.where(x >= 0, x, x * LRELU_ALPHA)
    gain = ACTIVATION_GAINS[act] if gain is None else gain
    if gain != 1:
        x = x * jnp.asarray(gain, x.dtype)
    if clamp is not None:
        x = jnp.clip(x, -clamp, clamp)
    return x


# The conv form per backend. XLA:CPU runs lax's second-order weight gradients (R1, path length) as naive loops, so
# there every ungrouped conv is `valid_conv`, whose derivatives are plain convs (an up-conv's R1 25x faster,
# docs/stylegan2.md), or `patch_conv` (im2col and one matmul, conv-free) where both channel counts reach
# PATCH_CONV_MIN_CHANNELS: at 512 maps XLA:CPU's conv is 3x slower than the matmul, at 128 about as fast. Elsewhere
# lax's conv, which cuDNN runs without zero-stuffing strided input gradients (not measured on a GPU yet).
CONV_FORMS = {"cpu": "valid_conv"}
PATCH_CONV_MIN_CHANNELS = 256


def _conv(x: jax.Array, w: jax.Array, stride: int = 1, groups: int = 1) -> jax.Array:
    """Valid NHWC correlation with an HWIO kernel (cast to x's dtype), in the backend's form (`CONV_FORMS`)."""
    w = w.astype(x.dtype)
    if groups == 1 and CONV_FORMS.get(jax.default_backend()) == "valid_conv":
        if min(w.shape[2], w.shape[3]) >= PATCH_CONV_MIN_CHANNELS:
            return patch_conv(x, w, stride)
        return valid_conv(x, w, stride)
    return lax_conv(x, w, stride, groups)


def conv2d_resample(x: jax.Array, w: jax.Array, f: np.ndarray | None = None, up: int = 1, down: int = 1,
                    padding: int = 0, groups: int = 1) -> jax.Array:
    """Conv with an HWIO kernel, optionally upsampled before (FIR, up=2) or downsampled after (FIR, down=2)."""
    if up > 1 and down > 1:
        raise ValueError("conv2d_resample does either up- or downsampling, not both.")
    kh, kw = w.shape[:2]
    p0 = p1 = padding
    if up > 1:
        p0, p1 = p0 + (f.shape[0] + up - 1) // 2, p1 + (f.shape[0] - up) // 2
    if down > 1:
        p0, p1 = p0 + (f.shape[0] - down + 1) // 2, p1 + (f.shape[0] - down) // 2
    pads = (p0, p1, p0, p1)
    if up == 2 and (kh, kw, padding, groups) == (3, 3, 1, 1) and f.shape == (4, 4) and _polyphase_up():
        return _transposed_up_conv(x, w, f)
    if up > 1:  # upsample + filter the padded input, then a valid conv
        x = upfirdn2d(x, f, up=up, padding=pads, gain=up * up)
        return _conv(x, w, groups=groups)
    if down > 1:
        if kh == 1 and kw == 1:  # filter + decimate first, then a 1x1 conv on 4x fewer pixels
            return _conv(upfirdn2d(x, f, down=down, padding=pads), w, groups=groups)
        x = upfirdn2d(x, f, padding=pads)
        return _conv(x, w, stride=down, groups=groups)
    x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (p0, p1, 0), (p0, p1, 0), (0, 0, 0)])
    return _conv(x, w, groups=groups)


def _polyphase_up() -> bool:
    """Whether the backend's conv form (`CONV_FORMS`) takes 2x up-convs as `_transposed_up_conv`."""
    return CONV_FORMS.get(jax.default_backend()) == "valid_conv"


def _transposed_up_conv(x: jax.Array, w: jax.Array, f: np.ndarray) -> jax.Array:
    """The 3x3 conv of the 2x FIR-upsampled x (padding 1), as a transposed conv at x's resolution then the FIR.

    Both filters are linear and shift-invariant, so they commute: the 3x3 taps meet the zero-stuffed input at the
    low resolution first (the reference's order), a quarter of the multiply-adds. The stride-2 transposed conv is
    four valid convs of the 1-padded x, one per output phase (row, column parity): taps w[1, 1] (even, even),
    w[1, ::2] (even, odd), w[::2, 1] (odd, even) and w[::2, ::2] (odd, odd). They interleave to the (2H + 4)-square
    map the 4x4 FIR (gain 4) filters to 2H. (One 2x2 conv to the four phases as channels, 16 taps instead of 9,
    measured 6% slower in Gmain.)
    """
    n, h, wd, _ = x.shape
    xp = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (1, 1, 0), (1, 1, 0), (0, 0, 0)])
    rows = []
    for taps_r in (slice(1, 2), slice(0, 3, 2)):  # even output rows take tap row 1; odd rows tap rows 0 and 2
        cols = []
        for taps_c in (slice(1, 2), slice(0, 3, 2)):
            phase = _conv(xp, w[taps_r, taps_c])  # (H+2 or H+1) x (W+2 or W+1); the missing edge is zero
            cols.append(jnp.pad(phase, [(0, 0), (0, h + 2 - phase.shape[1]), (0, wd + 2 - phase.shape[2]), (0, 0)]))
        rows.append(jnp.stack(cols, axis=3))  # [N, H+2, W+2, column parity, C]
    q = jnp.stack(rows, axis=2).reshape(n, 2 * h + 4, 2 * wd + 4, -1)  # row 2i + a, column 2j + b
    filtered = fir_filter(q, (np.asarray(f, np.float32) * 4)[::-1, ::-1], 1)
    return filtered[:, :2 * h, :2 * wd]


def modulated_conv2d(x: jax.Array, weight: jax.Array, styles: jax.Array, up: int = 1, padding: int = 0,
                     f: np.ndarray | None = None, demodulate: bool = True, fused: bool = False) -> jax.Array:
    """Per-sample conv with weight[o, i] * styles[n, i], each output map scaled to unit norm when `demodulate`."""
    n, in_ch = styles.shape
    dcoefs = demodulation(weight, styles) if demodulate else None  # [N, O]
    if not fused:  # scale activations before and after one ordinary conv (the reference's training path)
        x = x * styles[:, None, None, :].astype(x.dtype)
        x = conv2d_resample(x, weight.astype(x.dtype), f=f, up=up, padding=padding)
        return x * dcoefs[:, None, None, :].astype(x.dtype) if demodulate else x
    w = weight[None] * styles[:, None, None, :, None]  # [N, kh, kw, I, O]
    if demodulate:
        w = w * dcoefs[:, None, None, None, :]
    kh, kw, _, out_ch = weight.shape
    w = jnp.transpose(w, (1, 2, 3, 0, 4)).reshape(kh, kw, in_ch, n * out_ch)  # group g = sample g
    x = jnp.transpose(x, (1, 2, 0, 3)).reshape(1, x.shape[1], x.shape[2], n * in_ch)
    x = conv2d_resample(x, w, f=f, up=up, padding=padding, groups=n)
    return jnp.transpose(x.reshape(x.shape[1], x.shape[2], n, out_ch), (2, 0, 1, 3))


def demodulation(weight: jax.Array, styles: jax.Array) -> jax.Array:
    """1 / ||weight[:, :, :, o] * styles[n]||, [N, O]: the squared norm as styles**2 @ (weight**2 summed over taps).

    The same sum as the reference's over the per-sample kernels [N, kh, kw, I, O], without building them: at 512
    maps they are 9.4M floats per layer, and their product and its gradient took a fifth of a full-width Gmain.
    """
    tap_energy = jnp.sum(jnp.square(weight.astype(jnp.float32)), axis=(0, 1))  # [I, O]
    energy = jnp.matmul(jnp.square(styles.astype(jnp.float32)), tap_energy, precision=lax.Precision.HIGHEST)
    return lax.rsqrt(energy + 1e-8).astype(jnp.result_type(weight, styles))


def normal(key: jax.Array, shape: Sequence[int], dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """jax.random.normal(key, shape), drawn flat and reshaped: the same values, a fraction of the CPU compile time.

    With threefry's partitionable counters (JAX's default) the draw is a function of the flat index, so this is
    bit-identical; XLA's CPU backend compiles a rank-4 draw about 5x slower than a rank-1 one, and a StyleGAN2 step
    draws one noise image per synthesis layer per phase.
    """
    return jax.random.normal(key, (int(np.prod(shape, dtype=np.int64)),), dtype).reshape(tuple(shape))


def normal_init(scale: float = 1.0):
    """Initializer N(0, scale^2) through `normal` (flax's normal initializer draws in the weight's rank)."""
    return lambda key, shape, dtype=jnp.float32: scale * normal(key, shape, dtype)


def normalize_2nd_moment(x: jax.Array, axis: int = 1, eps: float = 1e-8) -> jax.Array:
    """Scale each row to unit mean square (the reference's input normalisation of z and label embeddings)."""
    return x * lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + eps)
