"""Toy translation datasets written as image folders: for tests and for a CPU smoke run of the real pipeline.

- `write_inversion_pairs`: pix2pix's side-by-side layout; A is random discs and squares on a random background,
  B is A with its colours inverted (a deterministic mapping a U-Net can learn exactly).
- `write_discs_and_squares`: CycleGAN's trainA/trainB layout; A holds red discs, B blue squares, both on dark
  backgrounds, unpaired.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def shapes_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """An (size, size, 3) uint8 image: 1 to 3 random discs or squares of random colours on a random background."""
    image = np.empty((size, size, 3), np.uint8)
    image[:] = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.integers(size // 8, size - size // 8, 2)
        r = rng.integers(max(size // 10, 1), size // 3 + 1)
        disc = rng.random() < 0.5
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r if disc else (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
        image[mask] = rng.integers(0, 256, 3)
    return image


def disc_or_square(rng: np.random.Generator, size: int, domain: str) -> np.ndarray:
    """Domain "A": one red disc; domain "B": one blue square; on a dark random background."""
    image = np.empty((size, size, 3), np.uint8)
    image[:] = rng.integers(0, 60, 3)
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.integers(size // 3, size - size // 3, 2)
    r = rng.integers(max(size // 6, 1), size // 4 + 1)
    dark, bright = rng.integers(0, 60, 2), rng.integers(180, 256)
    if domain == "A":
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = (bright, dark[0], dark[1])
    else:
        image[(abs(yy - cy) <= r) & (abs(xx - cx) <= r)] = (dark[0], dark[1], bright)
    return image


def write_inversion_pairs(root: str | Path, counts: dict[str, int], size: int = 32, seed: int = 0) -> Path:
    """Write ROOT/<split>/NNNN.png side-by-side (A | inverted A) pairs, `counts[split]` per split."""
    rng = np.random.default_rng(seed)
    for split, count in counts.items():
        folder = Path(root) / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            a = shapes_image(rng, size)
            Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(folder / f"{i:04d}.png")
    return Path(root)


def write_discs_and_squares(root: str | Path, counts: dict[str, tuple[int, int]], size: int = 32,
                            seed: int = 0) -> Path:
    """Write ROOT/<split>A/ (red discs) and ROOT/<split>B/ (blue squares); counts[split] = (n_A, n_B)."""
    rng = np.random.default_rng(seed)
    for split, sizes in counts.items():
        for domain, count in zip("AB", sizes, strict=True):
            folder = Path(root) / f"{split}{domain}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(disc_or_square(rng, size, domain)).save(folder / f"{domain.lower()}{i:04d}.png")
    return Path(root)
