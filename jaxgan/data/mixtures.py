"""2-D Gaussian mixtures used to measure mode collapse (ring of 8, grid of 25)."""

import numpy as np

# Ring of 8: radius 2, std 0.02, as in Unrolled GAN (Metz et al., 2017) and VEEGAN.
RING8_RADIUS = 2.0
RING8_STD = 0.02
RING8_NUM_MODES = 8
# Grid of 25: centres at {-4, -2, 0, 2, 4}^2, std 0.05, as in VEEGAN and PacGAN.
GRID25_COORDS = (-4.0, -2.0, 0.0, 2.0, 4.0)
GRID25_STD = 0.05


def ring_modes(num_modes: int = RING8_NUM_MODES, radius: float = RING8_RADIUS) -> np.ndarray:
    """Return (num_modes, 2) centres evenly spaced on a circle, the first at (radius, 0)."""
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)).astype(np.float32)


def grid_modes(coords: tuple[float, ...] = GRID25_COORDS) -> np.ndarray:
    """Return (len(coords)**2, 2) centres on the grid coords x coords, row-major."""
    xs, ys = np.meshgrid(coords, coords, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=-1).astype(np.float32)


def sample_mixture(rng: np.random.Generator, modes: np.ndarray, std: float, num: int) -> np.ndarray:
    """Draw `num` float32 points: a uniformly chosen mode plus isotropic N(0, std^2) noise."""
    which = rng.integers(len(modes), size=num)
    noise = rng.standard_normal((num, modes.shape[1]))
    return (modes[which] + std * noise).astype(np.float32)
