"""The FID InceptionV3 in flax.linen, layer for layer pytorch-fid's `fid_inception_v3()`.

This is the network FID is defined with (TTUR's 2015-12-05 TF graph as ported by pytorch-fid),
including its quirks: the A, C and first E blocks average-pool with count_include_pad=False (TF's
average pool ignores padding), the last E block max-pools, BatchNorm eps is 1e-3, and the fc layer
has 1008 classes. Module and parameter names mirror the torch state dict (`Mixed_5b/branch1x1/
conv/kernel` for `Mixed_5b.branch1x1.conv.weight`), so weights convert mechanically
(`inception_convert.py`). Input: NHWC in [-1, 1], any size, 3 channels; see `fid_preprocess`.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

FID_RESOLUTION = 299
FID_NUM_CLASSES = 1008
FEATURE_DIM = 2048
# Convolutions and the fc layer run at full float32 precision: on GPUs/TPUs the default would use
# TF32/bf16 passes, which moves features by ~1e-3 and so moves FID.
PRECISION = jax.lax.Precision.HIGHEST

IntPair = int | tuple[int, int]


def _pair(value: IntPair) -> tuple[int, int]:
    """Return an int or pair as a pair."""
    return (value, value) if isinstance(value, int) else tuple(value)


class BasicConv(nn.Module):
    """Conv (no bias) -> BatchNorm(eps=1e-3, running statistics) -> ReLU, torchvision's BasicConv2d."""

    features: int
    kernel: IntPair
    stride: int = 1
    padding: IntPair = 0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the conv block to NHWC `x`."""
        ph, pw = _pair(self.padding)
        x = nn.Conv(self.features, _pair(self.kernel), strides=self.stride,
                    padding=((ph, ph), (pw, pw)), use_bias=False, precision=PRECISION,
                    name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def _avg_pool_3x3(x: jax.Array) -> jax.Array:
    """3x3 stride-1 average pool, padding 1, padded zeros not counted (the FID/TF quirk)."""
    return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_s1(x: jax.Array) -> jax.Array:
    """3x3 stride-1 max pool, padding 1 (padded cells never win, as torch's -inf padding)."""
    return nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)))


def _max_pool_3x3_s2(x: jax.Array) -> jax.Array:
    """3x3 stride-2 max pool without padding."""
    return nn.max_pool(x, (3, 3), (2, 2), "VALID")


class InceptionA(nn.Module):
    """FIDInceptionA: 1x1, 5x5, double 3x3 and avg-pool (count_include_pad=False) branches."""

    pool_features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the block to NHWC `x`."""
        b1 = BasicConv(64, 1, name="branch1x1")(x)
        b5 = BasicConv(48, 1, name="branch5x5_1")(x)
        b5 = BasicConv(64, 5, padding=2, name="branch5x5_2")(b5)
        b3 = BasicConv(64, 1, name="branch3x3dbl_1")(x)
        b3 = BasicConv(96, 3, padding=1, name="branch3x3dbl_2")(b3)
        b3 = BasicConv(96, 3, padding=1, name="branch3x3dbl_3")(b3)
        bp = BasicConv(self.pool_features, 1, name="branch_pool")(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    """torchvision InceptionB (Mixed_6a): grid reduction 35 -> 17."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the block to NHWC `x`."""
        b3 = BasicConv(384, 3, stride=2, name="branch3x3")(x)
        bd = BasicConv(64, 1, name="branch3x3dbl_1")(x)
        bd = BasicConv(96, 3, padding=1, name="branch3x3dbl_2")(bd)
        bd = BasicConv(96, 3, stride=2, name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
    """FIDInceptionC: factorised 7x7 branches and avg-pool (count_include_pad=False)."""

    channels_7x7: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the block to NHWC `x`."""
        c7 = self.channels_7x7
        b1 = BasicConv(192, 1, name="branch1x1")(x)
        b7 = BasicConv(c7, 1, name="branch7x7_1")(x)
        b7 = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv(c7, 1, name="branch7x7dbl_1")(x)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv(192, 1, name="branch_pool")(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    """torchvision InceptionD (Mixed_7a): grid reduction 17 -> 8."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the block to NHWC `x`."""
        b3 = BasicConv(192, 1, name="branch3x3_1")(x)
        b3 = BasicConv(320, 3, stride=2, name="branch3x3_2")(b3)
        b7 = BasicConv(192, 1, name="branch7x7x3_1")(x)
        b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv(192, 3, stride=2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
    """FIDInceptionE_1 (avg pool, count_include_pad=False) or FIDInceptionE_2 (max pool)."""

    max_pool: bool

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the block to NHWC `x`."""
        b1 = BasicConv(320, 1, name="branch1x1")(x)
        b3 = BasicConv(384, 1, name="branch3x3_1")(x)
        b3 = jnp.concatenate([
            BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
            BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3),
        ], axis=-1)
        bd = BasicConv(448, 1, name="branch3x3dbl_1")(x)
        bd = BasicConv(384, 3, padding=1, name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate([
            BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
            BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd),
        ], axis=-1)
        # The FID graph's last E block max-pools here (a quirk of that graph); the others average.
        pooled = _max_pool_3x3_s1(x) if self.max_pool else _avg_pool_3x3(x)
        bp = BasicConv(192, 1, name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
    """FID InceptionV3 on 299x299 NHWC inputs in [-1, 1]: returns (pool3 (N, 2048), logits (N, 1008)).

    `logits_bias=False` leaves out the fc bias, as the original Inception Score code does.
    """

    num_classes: int = FID_NUM_CLASSES
    logits_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Return pool3 features and class logits of the network input `x`."""
        x = BasicConv(32, 3, stride=2, name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, 3, name="Conv2d_2a_3x3")(x)
        x = BasicConv(64, 3, padding=1, name="Conv2d_2b_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = BasicConv(80, 1, name="Conv2d_3b_1x1")(x)
        x = BasicConv(192, 3, name="Conv2d_4a_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = InceptionA(32, name="Mixed_5b")(x)
        x = InceptionA(64, name="Mixed_5c")(x)
        x = InceptionA(64, name="Mixed_5d")(x)
        x = InceptionB(name="Mixed_6a")(x)
        for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            x = InceptionC(c7, name=name)(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = InceptionE(max_pool=False, name="Mixed_7b")(x)
        x = InceptionE(max_pool=True, name="Mixed_7c")(x)
        pool = jnp.mean(x, axis=(1, 2))
        fc = nn.Dense(self.num_classes, precision=PRECISION, name="fc")
        logits = fc(pool)
        if not self.logits_bias:
            logits = logits - fc.variables["params"]["bias"]
        return pool, logits


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Return the (out, in) matrix of torch's bilinear interpolation with align_corners=False.

    Source coordinate of output i: (i + 0.5) * in/out - 0.5, clamped below at 0; it mixes pixels
    floor(src) and floor(src)+1 (clamped to the edge). No antialiasing, as F.interpolate. The
    coordinates are computed in float32 like torch's CPU kernel, which matters (~3e-5) when
    shrinking large images.
    """
    f32 = np.float32
    scale = f32(in_size) / f32(out_size)
    src = np.maximum((np.arange(out_size, dtype=f32) + f32(0.5)) * scale - f32(0.5), f32(0.0))
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = src - lo.astype(f32)
    matrix = np.zeros((out_size, in_size), f32)
    np.add.at(matrix, (np.arange(out_size), lo), f32(1.0) - frac)
    np.add.at(matrix, (np.arange(out_size), hi), frac)
    return matrix


def resize_bilinear(images: jax.Array, size: int = FID_RESOLUTION) -> jax.Array:
    """Resize NHWC images to size x size as F.interpolate(mode='bilinear', align_corners=False)."""
    _, height, width, _ = images.shape
    if (height, width) == (size, size):
        return images
    rows = jnp.asarray(bilinear_matrix(height, size))
    cols = jnp.asarray(bilinear_matrix(width, size))
    out = jnp.einsum("oh,nhwc->nowc", rows, images, precision=PRECISION)
    return jnp.einsum("pw,nowc->nopc", cols, out, precision=PRECISION)


def fid_preprocess(images: jax.Array) -> jax.Array:
    """Map jaxgan images (NHWC in [-1, 1], 1 or 3 channels) to the network input, as pytorch-fid.

    Gray images are repeated to RGB. pytorch-fid takes x01 in [0, 1], resizes it bilinearly to
    299x299 and feeds 2 * x01 - 1; the same steps are done here in that order.
    """
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected NHWC images with 1 or 3 channels; got shape {images.shape}.")
    if images.shape[-1] == 1:
        images = jnp.repeat(images, 3, axis=-1)
    unit = (images.astype(jnp.float32) + 1.0) / 2.0
    return 2.0 * resize_bilinear(unit) - 1.0


def fid_inception_variables(batch_shape: Sequence[int] = (1, FID_RESOLUTION, FID_RESOLUTION, 3)):
    """Return the shapes (jax.ShapeDtypeStruct tree) of the network's variables, without compute."""
    model = FIDInceptionV3()
    return jax.eval_shape(model.init, jax.random.key(0), jnp.zeros(batch_shape, jnp.float32))
