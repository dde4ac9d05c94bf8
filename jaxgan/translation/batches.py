"""Translation batches on grain: one record is an (A, B) pair, jittered by a per-record random map, then batched.

The record at global position p (row r of global batch i is p = i * batch_size + r) is A's and B's examples at p of
their shuffled epoch streams (one stream for a pair, two independent ones when unpaired), resized to `load_size`
and rounded to uint8, then randomly cropped to `crop_size` and mirrored by grain's `random_map`, whose generator is
seeded by (seed, p). So batch i depends only on (seed, i) and not on the process or worker count, and resuming at
batch i needs no iterator state. Batches stay uint8 on the host; the step decodes them on the device
(`jaxgan.data.device.with_decoded_batch`), as it does GAN images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxgan.data.images import convert_channels, resize, round_to_uint8
from jaxgan.data.indexing import example_at, import_grain, process_rows

# Offset of domain B's shuffling seed, so unpaired A and B are shuffled independently.
B_SEED_OFFSET = 2**32
# Records in the endless position stream (never reached; grain needs a length).
_STREAM_LENGTH = 2**62

# (A indices, B indices) -> (A images, B images, A's value range, B's value range)
PairRead = Callable[[np.ndarray, np.ndarray], tuple[list, list, tuple, tuple]]


def fit_image(image: np.ndarray, value_range: tuple[float, float], size: int, channels: int) -> np.ndarray:
    """Resize one raw HWC image to size x size (PIL's bilinear weights, in float) and convert its channels.

    Returns float32 with values in [0, 255], whatever the stored range: training rounds it to uint8, evaluation
    scales it to [-1, 1].
    """
    x = convert_channels(resize(np.asarray(image, np.float32), size), channels)
    lo, hi = value_range
    return x if (lo, hi) == (0.0, 255.0) else (x - np.float32(lo)) * np.float32(255.0 / (hi - lo))


def crop_flip(image: np.ndarray, top: int, left: int, size: int, flip: bool) -> np.ndarray:
    """Crop `image` (H, W, C) to size x size at (top, left), mirrored left-right if `flip`."""
    out = image[top:top + size, left:left + size]
    return out[:, ::-1] if flip else out


@dataclasses.dataclass(frozen=True)
class PairIndices:
    """Global record position -> (index in A, index in B): the same index for pairs, independent shuffles if not."""

    seed: int
    num_a: int
    num_b: int
    paired: bool

    def __call__(self, position: int) -> tuple[int, int]:
        index_a = example_at(self.seed, position, self.num_a)
        if self.paired:
            return index_a, index_a
        return index_a, example_at(self.seed + B_SEED_OFFSET, position, self.num_b)


@dataclasses.dataclass(frozen=True, eq=False)
class LoadPair:
    """(index in A, index in B) -> {"a", "b"}: both images read, resized to `load_size` and rounded to uint8."""

    read: PairRead
    load_size: int
    channels: int

    def __call__(self, indices: tuple[int, int]) -> dict[str, np.ndarray]:
        a, b, range_a, range_b = self.read(np.array(indices[:1]), np.array(indices[1:]))
        return {"a": round_to_uint8(fit_image(a[0], range_a, self.load_size, self.channels)),
                "b": round_to_uint8(fit_image(b[0], range_b, self.load_size, self.channels))}


@dataclasses.dataclass(frozen=True)
class RandomCropFlip:
    """grain random map: crop a record to `crop_size` at a random place and mirror it with probability 1/2.

    A pair gets one draw for both images (they stay aligned pixel for pixel); unpaired images get one each.
    """

    crop_size: int
    flip: bool
    paired: bool

    def _draw(self, rng: np.random.Generator, size: int) -> tuple[int, int, bool]:
        top, left = rng.integers(0, size - self.crop_size + 1, 2)
        return int(top), int(left), bool(self.flip and rng.random() < 0.5)

    def __call__(self, record: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        view_a = self._draw(rng, record["a"].shape[0])
        view_b = view_a if self.paired else self._draw(rng, record["b"].shape[0])
        return {"a": crop_flip(record["a"], *view_a[:2], self.crop_size, view_a[2]),
                "b": crop_flip(record["b"], *view_b[:2], self.crop_size, view_b[2])}


def pair_records(read: PairRead, sizes: tuple[int, int], *, seed: int, paired: bool, load_size: int,
                 crop_size: int, channels: int, flip: bool) -> Any:
    """The endless grain MapDataset whose item p is the jittered uint8 record at global position p."""
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0.")
    grain = import_grain()
    return (grain.MapDataset.range(0, _STREAM_LENGTH)
            .map(PairIndices(seed, *sizes, paired))
            .map(LoadPair(read, load_size, channels))
            .random_map(RandomCropFlip(crop_size, flip, paired), seed=seed))


def process_batches(records: Any, batch_size: int, process_index: int = 0, process_count: int = 1) -> Any:
    """A grain MapDataset whose item i is this process's rows of global batch i (records batched, then strided)."""
    rows = process_rows(batch_size, process_index, process_count)
    local = rows.stop - rows.start
    return records.batch(local)[process_index::process_count]
