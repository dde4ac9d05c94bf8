"""Images by seed and interpolation videos, the same options for every generator (DCGAN, ResNet, MLP, StyleGAN2).

A seed fixes one latent (`jaxgan.sampling.generate.seed_latents`), and `--class` fixes a conditional G's class, whatever
the model. StyleGAN2 adds its own knobs on the same path: truncation `psi` toward w_avg and the per-layer noise mode
(`jaxgan.sampling.stylegan2`); other generators refuse them in one line. With psi = 1 and the constant noise, a
StyleGAN2 image is `gan.generate` of the seed's latent, as for any other G.

The video walks through the seeds' latents in order and back to the first (a loop), slerp between neighbours
(`jaxgan.sampling.generate.slerp`), written by imageio (the optional `[video]` extra): GIF through Pillow, MP4 through
imageio-ffmpeg when that is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxgan.engine.state import GAN
from jaxgan.errors import JaxganError
from jaxgan.models.stylegan2.generator import Generator
from jaxgan.sampling.generate import make_generate, seed_labels, seed_latents, slerp
from jaxgan.sampling.images import save_png, unit_range_to_uint8
from jaxgan.sampling.stylegan2 import check_stylegan2, is_stylegan2, synthesize

VIDEO_INSTALL_HINT = 'pip install "jaxgan[video]"'
VIDEO_SUFFIXES = (".gif", ".mp4")


def images_of_latents(gan: GAN, variables: dict, z: jnp.ndarray, labels: jnp.ndarray | None, *, psi: float = 1.0,
                      noise_mode: str = "const", noise_seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """G's images [N, H, W, C] in [-1, 1] of latents z; StyleGAN2 maps them to w with truncation `psi` first."""
    if not is_stylegan2(gan):
        if psi != 1.0 or noise_mode != "const":
            check_stylegan2(gan)
        return make_generate(gan, variables, batch_size)(z, labels)
    ws = gan.generator.apply(variables, z, labels, truncation_psi=psi, method=Generator.map)
    return synthesize(gan, variables, ws, noise_mode, noise_seed)


def seed_images(gan: GAN, variables: dict, seeds: Sequence[int], *, class_idx: int | None = None, psi: float = 1.0,
                noise_mode: str = "const") -> np.ndarray:
    """One image per seed [len(seeds), H, W, C]; StyleGAN2's random noise is drawn from each image's own seed."""
    z, labels = seed_latents(seeds, gan.z_dim), seed_labels(gan, len(seeds), class_idx)
    if not is_stylegan2(gan):
        return images_of_latents(gan, variables, z, labels, psi=psi, noise_mode=noise_mode)
    return np.concatenate([
        images_of_latents(gan, variables, z[i:i + 1], None if labels is None else labels[i:i + 1], psi=psi,
                          noise_mode=noise_mode, noise_seed=seed) for i, seed in enumerate(seeds)])


def write_seed_images(gan: GAN, variables: dict, out_dir: str | Path, seeds: Sequence[int], **options) -> list[Path]:
    """seed{seed:04d}.png per seed (the reference's generate.py names), for any G; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = seed_images(gan, variables, seeds, **options)
    return [save_png(unit_range_to_uint8(image), out_dir / f"seed{seed:04d}.png") for seed, image in zip(seeds, images,
                                                                                               strict=True)]


def loop_latents(seeds: Sequence[int], z_dim: int, steps: int) -> jnp.ndarray:
    """[len(seeds) * steps, z_dim]: `steps` slerp points from each seed's latent toward the next, back to the first."""
    if len(seeds) < 2 or steps < 1:
        raise ValueError(f"an interpolation video needs 2 or more --seeds and --video-steps >= 1; got seeds "
                         f"{list(seeds)} and {steps} steps.")
    ends = seed_latents(seeds, z_dim)
    t = jnp.arange(steps) / steps
    return jnp.concatenate([slerp(ends[i], ends[(i + 1) % len(seeds)], t) for i in range(len(seeds))])


def write_video(gan: GAN, variables: dict, path: str | Path, seeds: Sequence[int], *, steps: int = 30,
                fps: int = 30, class_idx: int | None = None, psi: float = 1.0, noise_mode: str = "const") -> Path:
    """An interpolation loop through the seeds' latents as a .gif or .mp4 (imageio); returns its path."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise JaxganError(f"--video {path.name}: name a {' or '.join(VIDEO_SUFFIXES)} file.")
    iio = _import_imageio()
    z = loop_latents(seeds, gan.z_dim, steps)
    images = images_of_latents(gan, variables, z, seed_labels(gan, len(z), class_idx), psi=psi, noise_mode=noise_mode)
    frames = np.asarray(unit_range_to_uint8(images))
    frames = frames[..., 0] if frames.shape[-1] == 1 else frames  # gray frames as (N, H, W)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.suffix.lower() == ".gif":
            iio.imwrite(path, frames, extension=".gif", duration=1000 / fps, loop=0)
        else:
            iio.imwrite(path, frames, extension=".mp4", fps=fps)
    except (ImportError, ValueError, OSError) as error:
        raise JaxganError(f"cannot write {path.name} ({str(error).splitlines()[0]}); MP4 needs imageio-ffmpeg "
                          "(`pip install imageio-ffmpeg`), or write a .gif.") from None
    return path


def _import_imageio():
    """imageio's v3 API, or a one-line error naming the extra to install."""
    try:
        import imageio.v3 as iio
    except ImportError:
        raise JaxganError(f"--video needs imageio, which is not installed: `{VIDEO_INSTALL_HINT}`.") from None
    return iio
