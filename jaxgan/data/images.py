"""Image preprocessing on the host: crop, resize, convert channels; uint8 out (scaled on the device) or float."""

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


def check_no_stretch(size: tuple[int, int], *, image_size: int, center_crop: bool, name: str = "an image") -> None:
    """Raise ValueError when resizing an image of `size` (H, W) to a square would stretch it (no centre crop)."""
    height, width = size
    if image_size and not center_crop and height != width:
        raise ValueError(f"{name} is {height}x{width} (HxW), not square, and resizing it to {image_size}x{image_size} "
                         "would stretch it; set data.center_crop=True to crop it to its central square first.")


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


def resize_to(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize float32 (..., H, W, C) images to height x width: PIL bilinear weights, in float."""
    in_height, in_width = images.shape[-3:-1]
    if (in_height, in_width) != (height, width):
        channels = images.shape[-1]
        rows = images.reshape(*images.shape[:-3], in_height, in_width * channels)
        images = (resize_weights(in_height, height) @ rows).reshape(*rows.shape[:-2], height, in_width, channels)
        images = resize_weights(in_width, width) @ images  # (p, w) @ (..., o, w, c) -> (..., o, p, c)
    return images


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resize float32 (..., H, W, C) images to size x size: PIL bilinear weights, in float."""
    return resize_to(images, size, size)


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
        check_no_stretch(x.shape[-3:-1], image_size=image_size, center_crop=center_crop)
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


def round_to_uint8(images: np.ndarray) -> np.ndarray:
    """Round float images with values in [0, 255] to uint8, clipping strays (for [-1, 1] images:
    `jaxgan.sampling.images.unit_range_to_uint8`)."""
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def resize_uint8(image: np.ndarray, size: int) -> np.ndarray:
    """Resize one uint8 HWC image to size x size with PIL's bilinear filter (in C, on uint8: several times faster
    than `resize` in float; the result can differ from it by one level, and both the folder source and
    `jaxgan prepare` use this one)."""
    if image.shape[:2] == (size, size):
        return image
    from PIL import Image

    gray = image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if gray else image).resize((size, size), Image.Resampling.BILINEAR)
    out = np.asarray(pil)
    return out[..., None] if gray else out


def _fit_one(image: np.ndarray, image_size: int, channels: int, center_crop: bool) -> np.ndarray:
    """fit_uint8 for one HWC image: crop (a view), resize in PIL, convert channels (in float only when asked)."""
    check_no_stretch(image.shape[:2], image_size=image_size, center_crop=center_crop)
    image = crop_center(image) if center_crop else image
    image = resize_uint8(image, image_size) if image_size else image
    if channels in (0, image.shape[-1]):
        return image
    return round_to_uint8(convert_channels(image.astype(np.float32), channels))


def fit_uint8(image: np.ndarray, *, image_size: int = 0, channels: int = 0, center_crop: bool = False) -> np.ndarray:
    """Crop, resize and convert uint8 (..., H, W, C) images, rounding back to uint8 (the host half of the uint8 path).

    Images already of the output shape (a prepared dataset) are returned as they are, without a float round trip.
    """
    shape = tuple(image.shape[-3:])
    if output_shape(shape, image_size=image_size, channels=channels, center_crop=center_crop) == shape:
        return image
    if image.ndim == 3:
        return _fit_one(image, image_size, channels, center_crop)
    flat = image.reshape(-1, *shape)
    fitted = np.stack([_fit_one(x, image_size, channels, center_crop) for x in flat])
    return fitted.reshape(*image.shape[:-3], *fitted.shape[1:])


def center_crop_wide(image: np.ndarray, resolution: int) -> np.ndarray:
    """Fit float HWC into resolution x resolution as a centred 2:1 band (a wide crop), black above and below."""
    height, width = image.shape[:2]
    band = resolution // 2
    if width >= 2 * height:  # too wide: keep the full height, crop the width to 2:1
        left = (width - 2 * height) // 2
        image = image[:, left : left + 2 * height]
    else:  # too tall: keep the full width, crop the height to 1:2
        top = (height - width // 2) // 2
        image = image[top : top + width // 2]
    canvas = np.zeros((resolution, resolution, image.shape[-1]), np.float32)
    top = (resolution - band) // 2
    canvas[top : top + band] = resize_to(image, band, resolution)
    return canvas


TRANSFORMS = ("center-crop", "center-crop-wide", "none")


def transform_uint8(image: np.ndarray, *, resolution: int, transform: str, channels: int) -> np.ndarray:
    """One uint8 HWC image to uint8 resolution x resolution x channels, as `jaxgan prepare --transform` does."""
    if transform == "center-crop":
        return fit_uint8(image, image_size=resolution, channels=channels, center_crop=True)
    x = image.astype(np.float32)
    if transform == "center-crop-wide":
        x = center_crop_wide(x, resolution)
    elif transform == "none":
        if x.shape[:2] != (resolution, resolution):
            raise ValueError(f"image is {x.shape[0]}x{x.shape[1]}, not {resolution}x{resolution}, and "
                             "--transform none does not resize; use --transform center-crop.")
    else:
        raise ValueError(f"--transform {transform!r} is not one of {', '.join(TRANSFORMS)}.")
    return round_to_uint8(convert_channels(x, channels))
