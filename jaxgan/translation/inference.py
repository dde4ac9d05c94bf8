"""Translate images with a trained run: read inputs, run its generators, write outputs.

Used by `jaxgan translate`, which restores the run with `jaxgan.run.runs.load_run`. By default
generators run in inference mode (BatchNorm running averages, no dropout), so an output depends only on its input
and the checkpoint. `paper_mode` instead runs each image alone in training
mode, with dropout and the image's own BatchNorm statistics, as Isola et al. (2017, sec. 3.3) do at test time.
"""

from __future__ import annotations

import functools
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data.images import convert_channels, resize, to_unit_range
from jaxgan.data.sources import _read_image
from jaxgan.engine.state import TrainState
from jaxgan.sampling.images import image_grid, save_png, unit_range_to_uint8
from jaxgan.translation.data import list_images
from jaxgan.translation.state import GENERATORS, TranslationModels


def read_inputs(path: str | Path, size: int, channels: int) -> tuple[list[str], np.ndarray]:
    """(names, images): an image file or a folder's images, resized to size x size, float32 in [-1, 1]."""
    path = Path(path)
    if path.is_dir():
        files = list_images(path)
        if not files:
            raise FileNotFoundError(f"{path} holds no images to translate.")
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"input {path} is neither an image file nor a folder.")
    images = [convert_channels(resize(_read_image(f).astype(np.float32), size), channels) for f in files]
    return [f.stem for f in files], to_unit_range(np.stack(images), (0.0, 255.0))


@functools.partial(jax.jit, static_argnames=("generator", "paper_mode"))
def _run_generator(generator: nn.Module, variables: dict, x: jax.Array, key: jax.Array, paper_mode: bool):
    """G(x) in inference mode, or in training mode with its own batch statistics and dropout (paper_mode)."""
    if not paper_mode:
        return generator.apply(variables, x, train=False)
    mutable = [k for k in variables if k != "params"]
    return generator.apply(variables, x, train=True, mutable=mutable, rngs={"dropout": key})[0]


def translate_images(models: TranslationModels, state: TrainState, direction: str, images: np.ndarray,
                     batch_size: int = 16, paper_mode: bool = False, seed: int = 0) -> np.ndarray:
    """Translate (N, H, W, C) images in [-1, 1] in `direction`, `batch_size` at a time (one at a time in paper_mode)."""
    if direction not in models.directions():
        raise ValueError(f"this {models.task} run translates {models.directions()}, not {direction!r}.")
    name = GENERATORS[direction]
    generator, variables = models.generators[name], state.nets[name].variables()
    step = 1 if paper_mode else batch_size
    key = jax.random.PRNGKey(seed)
    outputs = [_run_generator(generator, variables, jnp.asarray(images[i:i + step]), jax.random.fold_in(key, i),
                              paper_mode) for i in range(0, len(images), step)]
    return np.concatenate(jax.device_get(outputs))


def write_outputs(out_dir: str | Path, names: list[str], translated: dict[str, np.ndarray]) -> list[Path]:
    """Save each direction's images as OUT/<direction>/<name>.png."""
    written = []
    for direction, images in translated.items():
        for name, image in zip(names, unit_range_to_uint8(images), strict=True):
            written.append(save_png(image, Path(out_dir) / direction / f"{name}.png"))
    return written


def write_grid(path: str | Path, inputs: np.ndarray, translated: dict[str, np.ndarray]) -> Path:
    """Save a grid with one row per input: the input, then its translation in each direction."""
    columns = [inputs, *translated.values()]
    rows = np.stack(columns, axis=1).reshape(-1, *inputs.shape[1:])
    return save_png(image_grid(rows, cols=len(columns)), path)
