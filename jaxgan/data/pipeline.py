"""Datasets: metadata plus infinite, shuffled, resumable, per-process host batches (grain for image sources).

Image batches leave the host as uint8 when the source stores uint8 pixels (4x fewer bytes to the device); the
jitted step scales them to [-1, 1] and flips them (`jaxgan.data.device.decode_batch`). Float sources (sklearn
digits, float .npz) are scaled on the host and pass through the device decode unchanged.
"""

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from jaxgan.data.images import fit_uint8, preprocess, to_unit_range
from jaxgan.data.indexing import check_batch_size, import_grain, index_batches, process_rows
from jaxgan.data.mixtures import sample_mixture
from jaxgan.data.sources import ImageSource

Batch = dict[str, np.ndarray]
# Row block size when reading a whole dataset, to bound the raw data held at once.
_READ_CHUNK = 1024
# Seed of the fixed subset `all_images(limit)` returns, shared by every run and training seed.
_SUBSET_SEED = 0
# Mixture sample stream for `all_images`: a batch index that training never reaches.
_REFERENCE_STREAM = 2**63 - 1
# Batches each grain worker process reads ahead: enough to hide one slow batch, little memory.
_READ_AHEAD = 4


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Dataset:
    """What the trainer sees: shapes, labels, mixture modes and an infinite batch iterator."""

    name: str
    kind: str  # "image" or "points"
    example_shape: tuple[int, ...]
    num_classes: int | None
    num_examples: int | None
    seed: int
    modes: np.ndarray | None = None
    mode_std: float | None = None

    def batches(
        self,
        batch_size: int,
        *,
        start_batch: int = 0,
        process_index: int = 0,
        process_count: int = 1,
    ) -> Iterator[Batch]:
        """Yield global batches start_batch, start_batch + 1, ... forever, this process's rows only.

        Each batch is {"x": (b / process_count, *example_shape), "label": int32 (...)} ("label" only when
        labelled; "x" uint8 for uint8 image sources, else float32) and depends only on (seed, batch index), so
        `start_batch=i` gives exactly what skipping i batches would.
        """
        rows = process_rows(batch_size, process_index, process_count)
        self._check_batch_size(batch_size)
        if start_batch < 0:
            raise ValueError(f"start_batch must be >= 0, got {start_batch}.")
        return (self._batch(i, batch_size, rows) for i in itertools.count(start_batch))

    def epoch_batches(self, batch_size: int) -> Iterator[Batch]:
        """Yield one unshuffled pass, the last batch zero-padded; bool "mask" marks real rows."""
        raise NotImplementedError

    def all_images(self, limit: int | None = None) -> np.ndarray:
        """Return up to `limit` examples as float32 (for evaluation reference statistics)."""
        raise NotImplementedError

    def _check_batch_size(self, batch_size: int) -> None:
        """Raise ValueError when `batch_size` cannot be served."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")

    def _batch(self, index: int, batch_size: int, rows: slice) -> Batch:
        """Return `rows` of global batch `index`."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, eq=False)
class BatchReader:
    """Reads and preprocesses the examples at given indices into a batch dict (runs in grain's workers)."""

    source: ImageSource
    image_size: int
    channels: int
    center_crop: bool
    uint8: bool  # keep uint8 pixels (scaled on the device) instead of float32 in [-1, 1]

    def __call__(self, indices: np.ndarray) -> Batch:
        images, labels = self.source.read(indices)
        if self.uint8:
            fit = lambda x: fit_uint8(x, image_size=self.image_size, channels=self.channels,
                                      center_crop=self.center_crop)
            x = fit(images) if isinstance(images, np.ndarray) else np.stack([fit(im) for im in images])
        else:
            x = preprocess(images, value_range=self.source.value_range, image_size=self.image_size,
                           channels=self.channels, center_crop=self.center_crop)
        return {"x": x} if labels is None else {"x": x, "label": labels.astype(np.int32)}


def _absl_flags_parsed() -> None:
    """grain's worker processes read absl flags; outside an absl app (pytest, argparse tools) take the defaults."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def iterate(dataset: Any, num_workers: int) -> Iterator[Batch]:
    """Iterate a grain MapDataset in order: in the calling thread (0 workers), or in `num_workers` processes.

    No reader threads (grain's advice for in-memory data: they only contend for the GIL): with 0 workers the main
    thread reads a batch while the devices run the steps already dispatched; with workers, each process reads its
    batches one after another and keeps `_READ_AHEAD` ready.
    """
    grain = import_grain()
    stream = dataset.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
    if num_workers:
        _absl_flags_parsed()
        options = grain.MultiprocessingOptions(num_workers=num_workers, per_worker_buffer_size=_READ_AHEAD)
        stream = stream.mp_prefetch(options)
    return iter(stream)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ImageDataset(Dataset):
    """A finite set of images, reshuffled every epoch and preprocessed batch by batch in grain."""

    source: ImageSource
    remainder: str = "drop"
    image_size: int = 0
    center_crop: bool = False
    num_workers: int = 0  # grain worker processes for reading and decoding (0 = in the calling thread)

    @property
    def uint8(self) -> bool:
        """Whether batches carry uint8 pixels (the source stores uint8 in [0, 255])."""
        return np.dtype(self.source.dtype) == np.uint8 and self.source.value_range == (0.0, 255.0)

    @property
    def reader(self) -> BatchReader:
        """The picklable indices -> batch function grain maps over the index batches."""
        return BatchReader(self.source, self.image_size, self.example_shape[-1], self.center_crop, self.uint8)

    @property
    def content_identity(self) -> str:
        """What this dataset's images are: the source's content identity and the preprocessing applied to it."""
        height, width, channels = self.example_shape
        return (f"{self.source.identity or self.source.name}|{height}x{width}x{channels}"
                f"|size={self.image_size}|crop={self.center_crop}")

    def _read(self, indices: np.ndarray) -> Batch:
        """Read the examples at `indices` as float32 in [-1, 1] (evaluation's view of the data)."""
        batch = self.reader(indices)
        if self.uint8:
            batch["x"] = to_unit_range(batch["x"], (0.0, 255.0))
        return batch

    def _check_batch_size(self, batch_size: int) -> None:
        check_batch_size(batch_size, self.num_examples, self.remainder)

    def batches(self, batch_size: int, *, start_batch: int = 0, process_index: int = 0,
                process_count: int = 1) -> Iterator[Batch]:
        """Global batches from `start_batch` on, this process's rows only, read by grain (see Dataset.batches)."""
        rows = process_rows(batch_size, process_index, process_count)
        self._check_batch_size(batch_size)
        if start_batch < 0:
            raise ValueError(f"start_batch must be >= 0, got {start_batch}.")
        indices = index_batches(self.seed, self.num_examples, batch_size, self.remainder, rows, start_batch)
        return iterate(indices.map(self.reader), self.num_workers)

    def epoch_batches(self, batch_size: int) -> Iterator[Batch]:
        """Yield one pass in storage order; the last batch zero-padded, "mask" marking real rows."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        return self._epoch_batches(batch_size)

    def _epoch_batches(self, batch_size: int) -> Iterator[Batch]:
        for start in range(0, self.num_examples, batch_size):
            batch = self._read(np.arange(start, min(start + batch_size, self.num_examples)))
            real = len(batch["x"])
            padded = {k: _pad_rows(v, batch_size) for k, v in batch.items()}
            padded["mask"] = np.arange(batch_size) < real
            yield padded

    def all_images(self, limit: int | None = None) -> np.ndarray:
        """Return all images, or a fixed seed-independent random subset of `limit`, in [-1, 1].

        The subset is the same for every run (not biased by class-sorted storage), so
        reference statistics computed from it are comparable across runs.
        """
        n = self.num_examples
        if limit is None or limit >= n:
            indices = np.arange(n)
        elif limit < 1:
            raise ValueError(f"limit must be positive or None, got {limit}.")
        else:
            indices = np.sort(np.random.default_rng(_SUBSET_SEED).choice(n, limit, replace=False))
        out = np.empty((len(indices), *self.example_shape), np.float32)
        for start in range(0, len(indices), _READ_CHUNK):
            chunk = indices[start : start + _READ_CHUNK]
            out[start : start + len(chunk)] = self._read(chunk)["x"]
        return out


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class MixtureDataset(Dataset):
    """An infinite 2-D Gaussian mixture; batch i is drawn from default_rng([seed, i]).

    Points stay in their own coordinates (not rescaled to [-1, 1]) and are unlabelled.
    """

    def _batch(self, index: int, batch_size: int, rows: slice) -> Batch:
        rng = np.random.default_rng([self.seed, index])
        return {"x": sample_mixture(rng, self.modes, self.mode_std, batch_size)[rows]}

    def epoch_batches(self, batch_size: int) -> Iterator[Batch]:
        raise ValueError(
            f"{self.name} is an infinite mixture with no epochs; use batches() or "
            "all_images(limit) for reference samples."
        )

    def all_images(self, limit: int | None = None) -> np.ndarray:
        """Return `limit` reference points from a stream disjoint from the training batches."""
        if limit is None or limit < 1:
            raise ValueError(f"{self.name} is infinite: pass a positive limit, got {limit}.")
        rng = np.random.default_rng([self.seed, _REFERENCE_STREAM])
        return sample_mixture(rng, self.modes, self.mode_std, limit)


def _pad_rows(array: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad `array` along its first axis to `size` rows."""
    if len(array) == size:
        return array
    padded = np.zeros((size, *array.shape[1:]), array.dtype)
    padded[: len(array)] = array
    return padded
