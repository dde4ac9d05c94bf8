"""Which examples form global batch i: grain's seeded shuffle and batching, a pure function of (seed, i).

The order is grain's: `MapDataset.range(n).shuffle(seed)` reshuffles each epoch (grain seeds epoch e with
seed + e), and grain's `batch` cuts it into global batches. Being a random-access `MapDataset`, batch i is
computed directly, so resuming at data position i needs no iterator state: the checkpoint's `data_batches` is
the whole loader position.
"""

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


def index_batches(seed: int, num_examples: int, batch_size: int, remainder: str) -> Any:
    """An infinite grain MapDataset whose item i is the int64 example indices of global batch i.

    With "drop", each epoch is a fresh permutation cut into floor(n / batch_size) batches, its tail skipped
    (grain batches each epoch separately). With "pad", the epochs' permutations are concatenated into one stream
    cut into full batches, so the last batch of an epoch is completed by the first examples of the next.
    """
    check_batch_size(batch_size, num_examples, remainder)
    order = import_grain().MapDataset.range(num_examples).shuffle(seed=shuffle_seed(seed))
    if remainder == "drop":
        return order.batch(batch_size, drop_remainder=True, batch_fn=_int64).repeat()
    return order.repeat().batch(batch_size, batch_fn=_int64)


def shuffle_seed(seed: int) -> int:
    """grain's 32-bit shuffle seed for a seed >= 0: the seed itself below 2**32, a hash of it above (derived streams
    such as the translation data's second domain add 2**32)."""
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0.")
    return seed if seed < 2**32 else int(np.random.SeedSequence(seed).generate_state(1)[0])


def _int64(indices: list) -> np.ndarray:
    """grain batch_fn: a list of example indices as one int64 array."""
    return np.asarray(indices, np.int64)


def batch_indices(seed: int, batch_index: int, batch_size: int, num_examples: int, remainder: str) -> np.ndarray:
    """Return the example indices of global batch `batch_index` (int64, shape (batch_size,))."""
    return index_batches(seed, num_examples, batch_size, remainder)[batch_index]


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
