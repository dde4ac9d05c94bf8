"""Which examples form global batch i: grain's seeded shuffle, a pure function of (seed, i).

The order is grain's: `MapDataset.range(n).shuffle(seed)` reshuffled each epoch (grain seeds epoch e with seed + e).
Batch i is computed directly from (seed, i), so resuming at data position i needs no iterator state: the
checkpoint's `data_batches` is the whole loader position.
"""

import dataclasses
import functools
from typing import Any

import numpy as np

from jaxgan.errors import JaxganError

REMAINDERS = ("drop", "pad")


def import_grain() -> Any:
    """Import grain (lazily: code that never reads a dataset, such as the step benchmark, runs without it)."""
    try:
        import grain
    except ImportError as error:
        raise JaxganError(f"reading datasets needs grain ({error}); install it with `pip install grain`.") from None
    return grain


def check_batch_size(batch_size: int, num_examples: int, remainder: str) -> None:
    """Raise ValueError when `batch_size` cannot be served from `num_examples` examples."""
    if remainder not in REMAINDERS:
        raise ValueError(f"data.remainder={remainder!r} is not one of {REMAINDERS}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    if remainder == "drop" and batch_size > num_examples:
        raise ValueError(
            f"batch_size={batch_size} exceeds the {num_examples} examples with "
            "data.remainder='drop' (every batch would be dropped); use a smaller batch or "
            "data.remainder='pad'."
        )


def shuffle_seed(seed: int) -> int:
    """grain's 32-bit shuffle seed for a seed >= 0: the seed itself below 2**32, a hash of it above (derived streams
    such as the translation data's second domain add 2**32)."""
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0.")
    return seed if seed < 2**32 else int(np.random.SeedSequence(seed).generate_state(1)[0])


@functools.lru_cache(maxsize=4)
def epoch_order(seed: int, epoch: int, num_examples: int) -> np.ndarray:
    """Epoch `epoch`'s order under grain's shuffle, i.e. what `MapDataset.range(n).shuffle(seed).repeat()` yields.

    grain's MapDataset computes it one index at a time in Python, with its statistics bookkeeping around each (12 ms
    per batch of 128 measured here, so under 11,000 images/s from the sampler alone); this evaluates grain's own
    `index_shuffle` once per epoch, vectorised into an array (read-only, cached), and batches are slices of it.
    """
    index_shuffle = import_grain().experimental.index_shuffle
    epoch_seed = (shuffle_seed(seed) + epoch) % 2**32  # grain reseeds epoch e with seed + e
    last = num_examples - 1
    order = np.fromiter((index_shuffle(i, max_index=last, seed=epoch_seed, rounds=4) for i in range(num_examples)),
                        np.int64, num_examples)
    order.flags.writeable = False
    return order


def batch_indices(seed: int, batch_index: int, batch_size: int, num_examples: int, remainder: str) -> np.ndarray:
    """Return the example indices of global batch `batch_index` (int64, shape (batch_size,)).

    With "drop", each epoch is a fresh order cut into floor(n / batch_size) batches, its tail skipped (as grain's
    `batch(drop_remainder=True)` of each epoch). With "pad", the epochs' orders are concatenated into one stream cut
    into full batches, so the last batch of an epoch is completed by the first examples of the next.
    """
    if remainder == "drop":
        epoch, within = divmod(batch_index, num_examples // batch_size)
        start = within * batch_size
        return epoch_order(seed, epoch, num_examples)[start : start + batch_size].copy()
    epochs, offsets = np.divmod(batch_index * batch_size + np.arange(batch_size), num_examples)
    indices = np.empty(batch_size, np.int64)
    for epoch in np.unique(epochs):
        rows = epochs == epoch
        indices[rows] = epoch_order(seed, int(epoch), num_examples)[offsets[rows]]
    return indices


@dataclasses.dataclass(frozen=True)
class BatchIndices:
    """Global batch i -> the example indices of this process's rows (a picklable map for grain's workers)."""

    seed: int
    batch_size: int
    num_examples: int
    remainder: str
    rows: slice

    def __call__(self, batch_index: int) -> np.ndarray:
        indices = batch_indices(self.seed, batch_index, self.batch_size, self.num_examples, self.remainder)
        return indices[self.rows]


def index_batches(seed: int, num_examples: int, batch_size: int, remainder: str, rows: slice = slice(None),
                  start_batch: int = 0) -> Any:
    """An (endless) grain MapDataset whose item i is the indices of this process's rows of global batch start + i."""
    check_batch_size(batch_size, num_examples, remainder)
    shuffle_seed(seed)
    grain = import_grain()
    return grain.MapDataset.range(start_batch, 2**62).map(BatchIndices(seed, batch_size, num_examples, remainder, rows))


def process_rows(batch_size: int, process_index: int, process_count: int) -> slice:
    """Return the rows of a global batch that process `process_index` of `process_count` owns.

    Each process owns one contiguous block of every global batch, the rows `make_array_from_process_local_data`
    expects from it, so the shards concatenate to the global batch. (grain's ShardOptions would instead give each
    process its own slice of the examples; the global batch would then depend on the process count.)
    """
    if process_count < 1 or not 0 <= process_index < process_count:
        raise ValueError(f"process_index={process_index} must lie in [0, process_count={process_count}).")
    if batch_size % process_count:
        raise ValueError(
            f"global batch_size={batch_size} is not divisible by process_count={process_count}; "
            "choose a batch size that is a multiple of the number of processes."
        )
    local = batch_size // process_count
    return slice(process_index * local, (process_index + 1) * local)
