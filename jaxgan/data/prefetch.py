"""Device transfer of host batches (issued ahead, from the main thread) and batch stacking."""

import collections
from collections.abc import Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _to_device(batch: Any, sharding: jax.sharding.Sharding | None) -> Any:
    """Put every leaf on device(s); assemble global arrays from local rows when multi-process."""
    if sharding is None:
        return jax.device_put(batch)
    if jax.process_count() > 1 and not sharding.is_fully_addressable:
        return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)
    return jax.device_put(batch, sharding)


class DeviceBatches:
    """Iterator of device batches, `size` transferred ahead, all from the calling (main) thread.

    Reading and decoding run in grain's worker processes, or here with 0 workers, while the devices run the steps
    already dispatched.
    It is issued from the thread that launches the steps on purpose: see `prefetch_to_device`.
    """

    def __init__(self, iterator: Iterable, size: int, sharding: jax.sharding.Sharding | None):
        self._source = iter(iterator)
        self._sharding = sharding
        self._ready: collections.deque = collections.deque()
        self._size = size
        self._exhausted = False
        self._error: Exception | None = None  # raised once the batches read before it are used

    def __iter__(self) -> "DeviceBatches":
        return self

    def _fill(self) -> None:
        while not self._exhausted and len(self._ready) < self._size:
            try:
                self._ready.append(_to_device(next(self._source), self._sharding))
            except StopIteration:
                self._exhausted = True
            except Exception as error:
                self._exhausted, self._error = True, error

    def __next__(self) -> Any:
        self._fill()
        if not self._ready:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            raise StopIteration
        batch = self._ready.popleft()
        self._fill()  # start the next transfer before the caller launches its step on this batch
        return batch

    def close(self) -> None:
        """Drop the transferred batches and close the host iterator (grain's worker processes, if any)."""
        self._ready.clear()
        self._exhausted = True
        close = getattr(self._source, "close", None)
        if close is not None:
            close()


def prefetch_to_device(iterator: Iterable, size: int = 2, sharding: jax.sharding.Sharding | None = None) -> Iterator:
    """Yield the batches of `iterator` already on device, `size` transfers issued ahead of the one in use.

    With `sharding`, leaves are placed with it (row-sharded batches for data parallelism); in
    multi-process runs with a global sharding each process passes its local rows and gets global
    arrays via `jax.make_array_from_process_local_data`.

    The transfers are issued from the caller's thread: they are cheap, and the host work that a background thread
    used to overlap (reading, decoding, resizing) runs in grain's worker processes, or, with 0 workers, in this
    thread while the devices run the steps already dispatched (dispatch is asynchronous).
    """
    if size < 1:
        raise ValueError(f"prefetch size must be >= 1, got {size}.")
    return DeviceBatches(iterator, size, sharding)


def _stack(leaves: list[Any]) -> Any:
    """Stack leaves along a new leading axis, on the host when they are numpy arrays."""
    if all(isinstance(leaf, np.ndarray | np.generic) for leaf in leaves):
        return np.stack(leaves)
    return jnp.stack(leaves)


def stack_batches(iterator: Iterable, k: int) -> Iterator:
    """Yield pytrees whose leaves stack k consecutive batches on a new leading axis of size k.

    Used for n_disc D-steps or K train steps per dispatch; a trailing group of fewer than k
    batches (only possible for a finite iterator) is dropped.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    return _stacked(iter(iterator), k)


def _stacked(iterator: Iterator, k: int) -> Iterator:
    while True:
        group = []
        for batch in iterator:
            group.append(batch)
            if len(group) == k:
                break
        if len(group) < k:
            return
        yield jax.tree.map(lambda *leaves: _stack(list(leaves)), *group)
