"""Sample grids as PNG: image batches tiled into one picture, 2-D point clouds drawn as a density image."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image


def unit_range_to_uint8(images: Any) -> Any:
    """[-1, 1] floats as the bytes a PNG writer stores: round((x + 1) * 127.5), clipped to [0, 255].

    The pictures jaxgan saves and the metrics' quantisation (`jaxgan.metrics.protocol.quantise`) both use this one
    mapping, so a generator's FID equals that of its saved PNGs. A jax array stays on its device, others go to numpy.
    """
    xp = jnp if isinstance(images, jax.Array) else np
    return xp.clip(xp.round((xp.asarray(images, xp.float32) + 1.0) * 127.5), 0, 255).astype(xp.uint8)


def image_grid(images: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile (N, H, W, C) images in [-1, 1] into one (rows*H, cols*W, C) uint8 picture with `pad` px gaps."""
    images = np.asarray(unit_range_to_uint8(images))
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.uint8)
    for i, img in enumerate(images):
        r, q = divmod(i, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = img
    return grid


def points_image(points: np.ndarray, extent: float = 5.0, size: int = 256,
                 reference: np.ndarray | None = None) -> np.ndarray:
    """Draw 2-D points (N, 2) in [-extent, extent]^2 as a white-on-black image; `reference` points in red."""
    img = np.zeros((size, size, 3), np.uint8)

    def pixels(p):
        ij = np.floor((np.asarray(p)[:, ::-1] * [-1, 1] + extent) / (2 * extent) * size).astype(int)
        keep = np.all((ij >= 0) & (ij < size), axis=1)
        return ij[keep]

    if reference is not None:
        for i, j in pixels(reference):
            img[max(i - 2, 0): i + 3, max(j - 2, 0): j + 3] = (200, 30, 30)
    for i, j in pixels(points):
        img[i, j] = 255
    return img


def save_png(picture: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W, C) uint8 picture (C = 1 or 3) as PNG, making parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if picture.shape[-1] == 1:
        picture = picture[..., 0]
    Image.fromarray(picture).save(path)
    return path


def sample_picture(samples: np.ndarray, modes: np.ndarray | None = None) -> np.ndarray:
    """The picture a run logs for its samples: a grid for images, a point cloud for 2-D data."""
    samples = np.asarray(samples)
    if samples.ndim == 2 and samples.shape[1] == 2:
        return points_image(samples, reference=modes)
    return image_grid(samples)
