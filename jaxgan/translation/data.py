"""Paired and unpaired image data for translation: sources, the paper's random jitter and resumable batches.

Sources:
- tfds `cycle_gan/*` (horse2zebra, monet2photo, maps, facades, ...): unpaired splits `{split}A` and `{split}B`,
  read with `tfds.data_source`. tfds stores no filenames, so its copies of the pix2pix sets are unpaired too.
- a folder. For a split (e.g. "train") the first layout found is used:
  `ROOT/trainA` + `ROOT/trainB` (CycleGAN's download layout), `ROOT/train/A` + `ROOT/train/B`,
  `ROOT/train/*.jpg` side by side (pix2pix's download layout: A left, B right); for the training split also
  `ROOT/A` + `ROOT/B` and `ROOT/*.jpg`. For pix2pix, A/ and B/ must hold the same file names (any extension).

Each example is resized to `load_size` (286 for 256 crops), randomly cropped to `crop_size` and flipped left-right
with probability 0.5 (Isola et al. 2017, sec. 6.2; CycleGAN uses the same), the same crop and flip for both images
of a pair. Training batches come from grain (`jaxgan.translation.batches`: uint8 on the host, `data.num_workers`
worker processes, batch i a function of (seed, i), so resuming at step i reproduces the run). Evaluation images
are resized straight to `crop_size`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ml_collections
import numpy as np
from PIL import Image

from jaxgan.data.images import to_unit_range
from jaxgan.data.pipeline import iterate
from jaxgan.data.sources import IMAGE_EXTENSIONS, ImageSource, _read_image
from jaxgan.data.tfds_source import load_tfds
from jaxgan.translation.batches import fit_image, pair_records, process_batches

Images = list[np.ndarray]
Batch = dict[str, np.ndarray]
SOURCES = ("folder", "tfds")
DIRECTIONS = ("AtoB", "BtoA")
# pix2pix's jitter for 256x256 crops: resize to 286 first; other crop sizes scale it proportionally.
LOAD_PER_CROP = 286 / 256


@dataclasses.dataclass(frozen=True)
class ImagePairs:
    """Random access to raw (A, B) pairs: index i of A and index i of B show the same scene."""

    name: str
    num_examples: int
    value_range: tuple[float, float]
    read: Callable[[np.ndarray], tuple[Images, Images]]


def load_size_for(crop_size: int, load_size: int = 0) -> int:
    """The size images are resized to before the random crop: `load_size`, or round(crop * 286 / 256) if 0."""
    return load_size or int(round(crop_size * LOAD_PER_CROP))


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder` (not in sub-folders), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _nonempty_images(folder: Path) -> list[Path]:
    """`list_images(folder)`, or FileNotFoundError naming the empty folder."""
    paths = list_images(folder)
    if not paths:
        raise FileNotFoundError(f"domain folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); put the "
                                "domain's images directly in it or fix data.path.")
    return paths


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file, from its header."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except OSError as error:
        raise ValueError(f"cannot read image {path}: {error}") from error


def folder_source(folder: Path) -> ImageSource:
    """One domain: the images directly in `folder`, as a core `ImageSource` with values in [0, 255]."""
    paths = _nonempty_images(folder)
    read = lambda indices: ([_read_image(paths[i]) for i in indices], None)
    return ImageSource(folder.name, len(paths), (None, None, None), (0.0, 255.0), None, read)


def side_by_side_pairs(folder: Path) -> ImagePairs:
    """pix2pix's format: each file holds A in its left half and B in its right half (an even width)."""
    paths = _nonempty_images(folder)
    for path in paths:
        height, width = image_size(path)
        if width % 2:
            raise ValueError(f"mismatched image sizes: {path} is {height}x{width} (HxW), so its halves differ; "
                             "side-by-side pairs need an even width (A left, B right, same size).")

    def read(indices: np.ndarray) -> tuple[Images, Images]:
        images = [_read_image(paths[i]) for i in indices]
        halves = [np.split(im, 2, axis=1) for im in images]
        return [a for a, _ in halves], [b for _, b in halves]

    return ImagePairs(folder.name, len(paths), (0.0, 255.0), read)


def _names(paths: list[Path]) -> dict[str, Path]:
    return {p.stem: p for p in paths}


def named_pairs(dir_a: Path, dir_b: Path) -> ImagePairs:
    """Pairs from A/ and B/ folders whose files share a name (extensions may differ) and a size."""
    in_a, in_b = _names(_nonempty_images(dir_a)), _names(_nonempty_images(dir_b))
    only_a, only_b = sorted(set(in_a) - set(in_b)), sorted(set(in_b) - set(in_a))
    if only_a or only_b:
        raise ValueError(
            f"pix2pix needs paired images, but {dir_a} and {dir_b} hold different names ({len(only_a)} only in A, "
            f"e.g. {only_a[:3]}; {len(only_b)} only in B, e.g. {only_b[:3]}). Pair files by name, or train on "
            "unpaired domains with task='cyclegan'.")
    names = sorted(in_a)
    for name in names:
        size_a, size_b = image_size(in_a[name]), image_size(in_b[name])
        if size_a != size_b:
            raise ValueError(f"mismatched image sizes: {in_a[name]} is {size_a[0]}x{size_a[1]} but {in_b[name]} is "
                             f"{size_b[0]}x{size_b[1]} (HxW); the images of a pair must align pixel for pixel.")

    def read(indices: np.ndarray) -> tuple[Images, Images]:
        return [_read_image(in_a[names[i]]) for i in indices], [_read_image(in_b[names[i]]) for i in indices]

    return ImagePairs(f"{dir_a.parent.name}", len(names), (0.0, 255.0), read)


def find_layout(root: Path, split: str, training: bool) -> tuple[str, tuple[Path, ...]] | None:
    """("domains", (A dir, B dir)) or ("side_by_side", (dir,)) holding `split` under root; None if absent."""
    pairs = [(root / f"{split}A", root / f"{split}B")]
    base = root / split if (root / split).is_dir() else (root if training else None)
    if base is not None:
        pairs.append((base / "A", base / "B"))
    for dir_a, dir_b in pairs:
        if dir_a.is_dir() or dir_b.is_dir():
            missing = dir_b if dir_a.is_dir() else dir_a
            if not missing.is_dir():
                raise FileNotFoundError(f"found {dir_b if missing == dir_a else dir_a} but not {missing}; "
                                        "translation needs both domain folders.")
            return "domains", (dir_a, dir_b)
    return None if base is None else ("side_by_side", (base,))


def open_folder(path: str, split: str, *, paired: bool, training: bool) -> ImagePairs | tuple[ImageSource, ...] | None:
    """The `split` of the folder at `path`: ImagePairs if `paired`, else (A source, B source); None if absent."""
    root = Path(path) if path else None
    if root is None or not root.is_dir():
        raise FileNotFoundError(f"data.path={path!r} is not an existing folder; point data.path at a folder with "
                                "A/ and B/ (or trainA/ and trainB/), or side-by-side pairs.")
    layout = find_layout(root, split, training)
    if layout is None:
        return None
    kind, dirs = layout
    if kind == "side_by_side":
        if not paired:
            raise ValueError(f"{dirs[0]} holds single images, not A/ and B/ domain folders; CycleGAN needs "
                             "ROOT/A + ROOT/B (or trainA/ + trainB/).")
        return side_by_side_pairs(dirs[0])
    return named_pairs(*dirs) if paired else tuple(folder_source(d) for d in dirs)


def open_tfds(name: str, split: str, data_dir: str, *, paired: bool) -> tuple[ImageSource, ImageSource]:
    """Domains A and B of a tfds cycle_gan-style dataset: splits `{split}A` and `{split}B`."""
    if paired:
        raise ValueError(f"tfds dataset {name!r} is unpaired (tfds keeps no file names to pair cycle_gan/* "
                         "images by), so pix2pix cannot train on it; download the pix2pix set and use "
                         "data.source='folder' with its side-by-side images, or use task='cyclegan'.")
    return tuple(load_tfds(name, split=f"{split}{domain}", data_dir=data_dir) for domain in "AB")


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class TranslationDataset:
    """(A, B) batches for training (jittered uint8, read by grain) and evaluation (resized float32 in [-1, 1])."""

    name: str
    paired: bool
    pairs: ImagePairs | None  # when paired
    domains: tuple[ImageSource, ImageSource] | None  # when unpaired
    seed: int
    crop_size: int
    load_size: int
    channels: int
    flip: bool = True
    num_workers: int = 0  # grain worker processes that read and jitter (0 = in the training process)

    @property
    def example_shape(self) -> tuple[int, int, int]:
        return (self.crop_size, self.crop_size, self.channels)

    @property
    def sizes(self) -> tuple[int, int]:
        """Number of images in A and in B."""
        if self.paired:
            return self.pairs.num_examples, self.pairs.num_examples
        return self.domains[0].num_examples, self.domains[1].num_examples

    def steps_per_epoch(self, batch_size: int) -> int:
        """Batches per epoch, an epoch being a pass over the larger domain (as the authors' code counts it)."""
        return -(-max(self.sizes) // batch_size)

    def read(self, indices_a: np.ndarray, indices_b: np.ndarray) -> tuple[Images, Images, tuple, tuple]:
        """Raw A and B images and their value ranges (what grain's records are made of)."""
        if self.paired:
            a, b = self.pairs.read(indices_a)
            return a, b, self.pairs.value_range, self.pairs.value_range
        (a, _), (b, _) = self.domains[0].read(indices_a), self.domains[1].read(indices_b)
        return a, b, self.domains[0].value_range, self.domains[1].value_range

    def host_batches(self, batch_size: int, *, process_index: int = 0, process_count: int = 1) -> Any:
        """A grain MapDataset whose item i is this process's rows of training batch i: {"a", "b"} uint8 NHWC."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        records = pair_records(self.read, self.sizes, seed=self.seed, paired=self.paired, load_size=self.load_size,
                               crop_size=self.crop_size, channels=self.channels, flip=self.flip)
        return process_batches(records, batch_size, process_index, process_count)

    def batches(self, batch_size: int, *, start_batch: int = 0, process_index: int = 0,
                process_count: int = 1) -> Iterator[Batch]:
        """Yield training batches start_batch, start_batch + 1, ... forever (this process's rows, uint8)."""
        if start_batch < 0:
            raise ValueError(f"start_batch must be >= 0, got {start_batch}.")
        batches = self.host_batches(batch_size, process_index=process_index, process_count=process_count)
        return iterate(batches[start_batch:], self.num_workers)

    def eval_batch(self, n: int) -> Batch:
        """The first n examples of A and of B (fewer if a domain is smaller), resized to crop_size, unflipped."""
        n = min(n, *self.sizes)
        a, b, range_a, range_b = self.read(np.arange(n), np.arange(n))
        fit = lambda images, value_range: to_unit_range(
            np.stack([fit_image(x, value_range, self.crop_size, self.channels) for x in images]), (0.0, 255.0))
        return {"a": fit(a, range_a), "b": fit(b, range_b)}


def _swap(source, direction: str):
    """B-to-A: exchange the roles of the two domains."""
    if direction == "AtoB":
        return source
    if isinstance(source, ImagePairs):
        return dataclasses.replace(source, read=lambda idx: source.read(idx)[::-1])
    return source[::-1]


def open_split(cfg: ml_collections.ConfigDict, split: str, *, paired: bool, training: bool):
    """ImagePairs (paired) or (A, B) sources for `split` of the configured data; None if a folder lacks it."""
    if cfg.source == "tfds":
        return open_tfds(cfg.tfds_name, split, cfg.data_dir, paired=paired)
    return open_folder(cfg.path, split, paired=paired, training=training)


def check_data_config(cfg: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the bad `data.*` field."""
    if cfg.source not in SOURCES:
        raise ValueError(f"Unknown data.source {cfg.source!r}; choose one of {SOURCES}.")
    if cfg.direction not in DIRECTIONS:
        raise ValueError(f"Unknown data.direction {cfg.direction!r}; choose one of {DIRECTIONS}.")
    if cfg.channels not in (1, 3):
        raise ValueError(f"data.channels={cfg.channels} must be 1 or 3.")
    if cfg.crop_size < 4:
        raise ValueError(f"data.crop_size={cfg.crop_size} must be >= 4.")
    if load_size_for(cfg.crop_size, cfg.load_size) < cfg.crop_size:
        raise ValueError(f"data.load_size={cfg.load_size} is smaller than data.crop_size={cfg.crop_size}; "
                         "use load_size >= crop_size (0 = crop_size * 286 / 256).")
    if not isinstance(cfg.num_workers, int) or isinstance(cfg.num_workers, bool) or cfg.num_workers < 0:
        raise ValueError(f"data.num_workers={cfg.num_workers!r} must be an integer >= 0 (0 reads in this process).")


def build_translation_data(cfg: ml_collections.ConfigDict, *, paired: bool, seed: int, eval_split: bool = False
                           ) -> TranslationDataset:
    """The training (or, with `eval_split`, evaluation) data that `cfg` (the config's data block) describes.

    Evaluation reads `cfg.eval_split`; with eval_split="" it evaluates on the training images (unjittered).
    """
    check_data_config(cfg)
    split = cfg.eval_split if eval_split and cfg.eval_split else cfg.split
    source = open_split(cfg, split, paired=paired, training=split == cfg.split)
    if source is None:
        raise FileNotFoundError(f"no {split!r} split under data.path={cfg.path!r} (looked for {split}A/ + {split}B/ "
                                f"and {split}/); add it, or set data.eval_split='' to evaluate on the training images.")
    source = _swap(source, cfg.direction)
    name = source.name if paired else f"{source[0].name}+{source[1].name}"
    return TranslationDataset(name=name, paired=paired, pairs=source if paired else None,
                              domains=None if paired else source, seed=seed, crop_size=cfg.crop_size,
                              load_size=load_size_for(cfg.crop_size, cfg.load_size), channels=cfg.channels,
                              flip=cfg.flip, num_workers=cfg.num_workers)
