"""Image preprocessing on the host: crop, resize, convert channels and scale to [-1, 1]."""

import functools
from collections.abc import Sequence

import numpy as np

# ITU-R BT.601 luma weights, the usual RGB -> gray conversion (also PIL's "L" mode).
LUMA_601 = np.array([0.299, 0.587, 0.114], np.float32)


def output_shape(
    shape: tuple[int, int, int], *, image_size: int, channels: int, center_crop: bool
) -> tuple[int, int, int]:
    """Return the (H, W, C) that `preprocess` makes from images of `shape`."""
    height, width, in_channels = shape
    if image_size:
        height = width = image_size
    elif center_crop:
        height = width = min(height, width)
    return (height, width, channels or in_channels)


def crop_center(images: np.ndarray) -> np.ndarray:
    """Crop (..., H, W, C) images to their central square (side = the shorter edge)."""
    height, width = images.shape[-3:-1]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return images[..., top : top + side, left : left + side, :]


@functools.lru_cache(maxsize=64)
def resize_weights(in_size: int, out_size: int) -> np.ndarray:
    """Return the (out_size, in_size) matrix of PIL's BILINEAR resize along one axis.

    As in PIL's Resample.c: output pixel o is centred at (o + 0.5) * scale in the input, the
    triangle filter is widened by scale when shrinking (antialiasing), and each row is normalised
    (so edges renormalise and constants are preserved).
    """
    scale = in_size / out_size
    width = max(scale, 1.0)
    centres = (np.arange(out_size) + 0.5) * scale
    offsets = (np.arange(in_size)[None, :] + 0.5 - centres[:, None]) / width
    weights = np.maximum(0.0, 1.0 - np.abs(offsets))
    weights /= weights.sum(axis=1, keepdims=True)
    weights = weights.astype(np.float32)
    weights.flags.writeable = False
    return weights


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resize float32 (..., H, W, C) images to size x size: PIL bilinear weights, in float."""
    height, width = images.shape[-3:-1]
    if (height, width) != (size, size):
        channels = images.shape[-1]
        rows = images.reshape(*images.shape[:-3], height, width * channels)
        images = (resize_weights(height, size) @ rows).reshape(*rows.shape[:-2], size, width, channels)
        images = resize_weights(width, size) @ images  # (p, w) @ (..., o, w, c) -> (..., o, p, c)
    return images


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Convert float (..., C) images to `channels`: gray->RGB repeats, RGB->gray is BT.601 luma."""
    current = images.shape[-1]
    if channels in (0, current):
        return images
    if current == 1 and channels == 3:
        return np.repeat(images, 3, axis=-1)
    if current == 3 and channels == 1:
        return (images @ LUMA_601)[..., None]
    raise ValueError(f"cannot convert images with {current} channels to {channels}; use 1 or 3.")


def to_unit_range(images: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Map values in `value_range` = (lo, hi) affinely to float32 in [-1, 1], clipping strays."""
    lo, hi = value_range
    scaled = (np.asarray(images, np.float32) - lo) * np.float32(2.0 / (hi - lo)) - 1.0
    return np.clip(scaled, -1.0, 1.0)


def preprocess(
    images: np.ndarray | Sequence[np.ndarray],
    *,
    value_range: tuple[float, float],
    image_size: int = 0,
    channels: int = 0,
    center_crop: bool = False,
) -> np.ndarray:
    """Turn raw HWC images (an array, or a list of any sizes) into float32 NHWC in [-1, 1]."""

    def process(x: np.ndarray) -> np.ndarray:
        x = crop_center(x) if center_crop else x
        x = resize(x, image_size) if image_size else x
        return convert_channels(x, channels)

    if not isinstance(images, np.ndarray) and len({np.shape(im) for im in images}) == 1:
        images = np.stack(images)
    if isinstance(images, np.ndarray):
        processed = process(images.astype(np.float32))
    else:
        processed = np.stack([process(np.asarray(im, np.float32)) for im in images])
    return to_unit_range(processed, value_range)
