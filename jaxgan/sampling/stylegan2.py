"""StyleGAN2 samples as the reference's generate.py and style_mixing.py make them: one image per seed, truncation psi
toward w_avg, and style-mixing grids (rows x columns of seeds).

The per-layer noise is the constant noise (`noise_mode="const"`, each layer's `noise_const` buffer) unless asked
otherwise, as the reference's scripts default to, so the same seed always gives the same image; `"random"` draws it
from the seed, `"none"` turns it off. Truncation moves w toward `buffers/mapping/w_avg`: w_avg + psi * (w - w_avg).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.engine.state import GAN
from jaxgan.models.stylegan2.generator import NOISE_MODES, Generator, check_truncation
from jaxgan.sampling.generate import seed_labels, seed_latents
from jaxgan.sampling.images import save_png, unit_range_to_uint8


def is_stylegan2(gan: GAN) -> bool:
    """Whether `gan`'s G is StyleGAN2's (a mapping to w, truncation toward w_avg, per-layer noise)."""
    return isinstance(gan.generator, Generator)


def check_stylegan2(gan: GAN) -> None:
    """Raise a one-line error unless `gan` is a StyleGAN2 run (truncation toward w_avg, styles)."""
    if not is_stylegan2(gan):
        raise ValueError(f"--trunc-psi, --noise-mode and --style-mix-* need a StyleGAN2 run (model.name='stylegan2'); "
                         f"this run's G is {type(gan.generator).__name__}. Use --truncation for its z truncation.")


def map_seeds(gan: GAN, variables: dict, seeds: Sequence[int], psi: float, class_idx: int | None = None
              ) -> jax.Array:
    """ws [len(seeds), num_ws, w_dim] of the seeds' latents, truncated toward w_avg by `psi`."""
    check_truncation(psi)
    z = seed_latents(seeds, gan.z_dim)
    return gan.generator.apply(variables, z, seed_labels(gan, len(seeds), class_idx), truncation_psi=psi,
                               method=Generator.map)


def synthesize(gan: GAN, variables: dict, ws: jax.Array, noise_mode: str = "const", seed: int = 0) -> np.ndarray:
    """Images [N, H, W, C] in [-1, 1]-ish float32 from ws, with the constant, random (from `seed`) or no noise."""
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"Unknown --noise-mode {noise_mode!r}; choose one of {NOISE_MODES}.")
    rngs = {"noise": jax.random.PRNGKey(seed)} if noise_mode == "random" else None
    return np.asarray(gan.generator.apply(variables, ws, noise_mode, method=Generator.synthesize, rngs=rngs))


def style_mixing_grid(gan: GAN, variables: dict, row_seeds: Sequence[int], col_seeds: Sequence[int],
                      styles: Sequence[int], psi: float = 1.0, noise_mode: str = "const",
                      class_idx: int | None = None) -> np.ndarray:
    """(rows + 1) x (cols + 1) tiles: columns' seeds on top, rows' seeds on the left, and each inner tile the row's
    w with the `styles` layers taken from the column's w (style_mixing.py); the corner is blank."""
    num_ws = gan.generator.num_ws
    bad = [s for s in styles if not 0 <= s < num_ws]
    if bad:
        raise ValueError(f"--styles {bad} out of range: this G has {num_ws} style layers (0..{num_ws - 1}).")
    seeds = list(dict.fromkeys([*row_seeds, *col_seeds]))
    ws = dict(zip(seeds, map_seeds(gan, variables, seeds, psi, class_idx), strict=True))
    layer = jnp.isin(jnp.arange(num_ws), jnp.asarray(list(styles)))[:, None]
    mixed = [jnp.where(layer, ws[c], ws[r]) for r in row_seeds for c in col_seeds]
    tiles = synthesize(gan, variables, jnp.stack([ws[s] for s in seeds] + mixed), noise_mode)
    single = dict(zip(seeds, tiles[:len(seeds)], strict=True))
    blank = np.full_like(tiles[0], -1.0)
    rows = [[blank] + [single[c] for c in col_seeds]]
    inner = iter(tiles[len(seeds):])
    rows += [[single[r]] + [next(inner) for _ in col_seeds] for r in row_seeds]
    return unit_range_to_uint8(np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0))


def write_style_mixing(gan: GAN, variables: dict, out_dir: str | Path, row_seeds: Sequence[int],
                       col_seeds: Sequence[int], styles: Sequence[int] | None = None, psi: float = 1.0,
                       noise_mode: str = "const", class_idx: int | None = None) -> Path:
    """style_mix.png: the grid of `style_mixing_grid`; styles default to the reference's 0-6 (coarse layers)."""
    styles = list(range(min(7, gan.generator.num_ws))) if styles is None else list(styles)
    grid = style_mixing_grid(gan, variables, row_seeds, col_seeds, styles, psi, noise_mode, class_idx)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return save_png(grid, out_dir / "style_mix.png")

