"""Pin this process to one CPU core for timing (`jaxgan benchmark --pin-core N`), and the system load for the rows.

`pin_to_core` sets the affinity of every thread that exists now (jax's and torch's pools included) and of the main
thread, so threads started later inherit it. torch, where it is already imported, gets one intra-op thread; it is
not imported otherwise. Linux only (`os.sched_setaffinity`).
"""

from __future__ import annotations

import os
import sys


def available_cores() -> set[int]:
    """The cores this process may run on."""
    return set(os.sched_getaffinity(0))


def _thread_ids() -> list[int]:
    """The ids of this process's threads (/proc/self/task)."""
    return [int(name) for name in os.listdir("/proc/self/task")]


def pin_to_core(core: int) -> None:
    """Pin every thread of this process, and so every thread it starts later, to `core`."""
    cores = available_cores()
    if isinstance(core, bool) or not isinstance(core, int) or core not in cores:
        raise ValueError(f"--pin-core {core!r}: no such core here; the cores available are {sorted(cores)}.")
    for tid in _thread_ids():
        try:
            os.sched_setaffinity(tid, {core})
        except ProcessLookupError:  # the thread exited after the listing
            continue
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def load_average() -> tuple[float, float, float]:
    """The system load over 1, 5 and 15 minutes (os.getloadavg), so a timing row says how busy the machine was."""
    one, five, fifteen = os.getloadavg()
    return one, five, fifteen
