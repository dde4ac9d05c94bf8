"""Overlap host data work with device steps: background device transfer and batch stacking."""

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_END = object()
_POLL_SECONDS = 0.1


class _Failure:
    """An exception raised in the producer thread, carried to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def _to_device(batch: Any, sharding: jax.sharding.Sharding | None) -> Any:
    """Put every leaf on device(s); assemble global arrays from local rows when multi-process."""
    if sharding is None:
        return jax.device_put(batch)
    if jax.process_count() > 1 and not sharding.is_fully_addressable:
        return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)
    return jax.device_put(batch, sharding)


def _put(out: queue.Queue, stop: threading.Event, item: Any) -> bool:
    """Queue `item` unless `stop` is set meanwhile; return whether it was queued."""
    while not stop.is_set():
        try:
            out.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _produce(
    iterator: Iterator,
    sharding: jax.sharding.Sharding | None,
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    """Thread body: transfer batches into `out` until exhausted, failed or stopped."""
    try:
        for batch in iterator:
            if not _put(out, stop, _to_device(batch, sharding)):
                return
        _put(out, stop, _END)
    except BaseException as error:  # re-raised in the consumer
        _put(out, stop, _Failure(error))


class _Prefetcher:
    """Iterator fed by a daemon thread that keeps up to `size` device batches queued.

    The thread holds no reference to this object, so dropping it stops the thread.
    """

    def __init__(self, iterator: Iterable, size: int, sharding: jax.sharding.Sharding | None):
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=_produce, args=(iter(iterator), sharding, self._queue, self._stop), daemon=True
        )
        self._thread.start()

    def __iter__(self) -> "_Prefetcher":
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        item = self._get()
        if item is _END or isinstance(item, _Failure):
            self._done = True
            self.close()
            if isinstance(item, _Failure):
                raise item.error
            raise StopIteration
        return item

    def _get(self) -> Any:
        """Wait for the next item; end the stream if the thread stopped without one (closed)."""
        while True:
            try:
                return self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return _END

    def close(self) -> None:
        """Stop the producer thread and wait for it to finish its current batch."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def __del__(self) -> None:
        self.close()


def prefetch_to_device(iterator: Iterable, size: int = 2, sharding: jax.sharding.Sharding | None = None) -> Iterator:
    """Yield the batches of `iterator` already on device, transferred `size` ahead by a thread.

    With `sharding`, leaves are placed with it (row-sharded batches for data parallelism); in
    multi-process runs with a global sharding each process passes its local rows and gets global
    arrays via `jax.make_array_from_process_local_data`. Errors in the thread are re-raised here.
    """
    if size < 1:
        raise ValueError(f"prefetch size must be >= 1, got {size}.")
    return _Prefetcher(iterator, size, sharding)


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
