"""Which examples form global batch i: a pure function of (seed, i), so resuming is exact."""

import functools

import numpy as np

REMAINDERS = ("drop", "pad")


@functools.lru_cache(maxsize=4)
def epoch_permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
    """Return the (read-only, cached) shuffled order of the examples in `epoch`."""
    order = np.random.default_rng([seed, epoch]).permutation(num_examples)
    order.flags.writeable = False
    return order


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


def batch_indices(seed: int, batch_index: int, batch_size: int, num_examples: int, remainder: str) -> np.ndarray:
    """Return the example indices of global batch `batch_index` (int64, shape (batch_size,)).

    Every epoch is `epoch_permutation(seed, epoch)`. With "drop", an epoch yields
    floor(n / batch_size) batches and its tail is skipped. With "pad", the epochs are
    concatenated into one stream cut into full batches: the last batch of an epoch is completed
    with the first examples of the next epoch's order, and the next batch continues from there,
    so no example is dropped or repeated within the stream.
    """
    if remainder == "drop":
        epoch, within = divmod(batch_index, num_examples // batch_size)
        start = within * batch_size
        return epoch_permutation(seed, epoch, num_examples)[start : start + batch_size].copy()
    epochs, offsets = np.divmod(batch_index * batch_size + np.arange(batch_size), num_examples)
    indices = np.empty(batch_size, np.int64)
    for epoch in np.unique(epochs):
        rows = epochs == epoch
        indices[rows] = epoch_permutation(seed, int(epoch), num_examples)[offsets[rows]]
    return indices


def process_rows(batch_size: int, process_index: int, process_count: int) -> slice:
    """Return the rows of a global batch that process `process_index` of `process_count` owns."""
    if process_count < 1 or not 0 <= process_index < process_count:
        raise ValueError(f"process_index={process_index} must lie in [0, process_count={process_count}).")
    if batch_size % process_count:
        raise ValueError(
            f"global batch_size={batch_size} is not divisible by process_count={process_count}; "
            "choose a batch size that is a multiple of the number of processes."
        )
    local = batch_size // process_count
    return slice(process_index * local, (process_index + 1) * local)
