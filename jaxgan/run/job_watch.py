"""A watchdog for multi-process jobs: when one process dies, the others stop with one line instead of hanging.

A process killed mid-job (kill -9, out of memory, a preempted host) leaves the others blocked in a collective that
never completes. Each process's `JobWatch` thread posts a heartbeat counter to the coordination service's key-value
store every `interval_s` and reads the others'; a counter unchanged for `timeout_s`, or a coordination service that
no longer answers (process 0 is gone; jax's own client often ends the process first then, with its fatal log line),
ends this process with `error: job member lost: ...` and exit status 2. A process whose training returned posts
`finished` instead, so its peers never take a clean end for a death. Nothing is cleaned up on the way out:
checkpoints are atomic (a save cut short never counts), so rerunning the same command on every process resumes from
the last complete one. jax's own heartbeat (`jax.distributed.initialize`'s
`heartbeat_timeout_seconds`, set to twice `timeout_s` by `jaxgan.run.distributed`) stays as the backstop.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from jaxgan.errors import EXIT_USER_ERROR

KEY_PREFIX = "jaxgan_heartbeat/"
FINISHED = "finished"  # a process's last heartbeat once its training returned


def heartbeat_key(process_id: int) -> str:
    return f"{KEY_PREFIX}{process_id}"


def stop_process(message: str) -> None:
    """Print the one-line error and end this process at once (its peers' collectives will never complete)."""
    print(f"error: job member lost: {message}", file=sys.stderr, flush=True)
    os._exit(EXIT_USER_ERROR)


class JobWatch:
    """Heartbeats to and from every process of the job through `client` (jax's distributed runtime client)."""

    def __init__(self, client: Any, process_id: int, num_processes: int, timeout_s: float,
                 on_lost: Callable[[str], None] = stop_process):
        self.client, self.process_id, self.num_processes = client, process_id, num_processes
        self.timeout_s = float(timeout_s)
        self.interval_s = min(1.0, self.timeout_s / 10)
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jaxgan-job-watch", daemon=True)

    def start(self) -> JobWatch:
        """Start the heartbeat thread; it is stopped at exit before jax shuts the coordination service down."""
        self._thread.start()
        atexit.register(self.stop)
        return self

    def stop(self, finished: bool = False) -> None:
        """Stop the heartbeats. `finished`: this process's work is done, so the peers stop watching it (a process that
        stops without it, on an error, falls silent and the others stop too)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if finished:
            self.client.key_value_set(heartbeat_key(self.process_id), FINISHED, allow_overwrite=True)

    def await_lost_peer(self) -> None:
        """After a collective failed (a peer's socket closed before its heartbeats timed out): give the heartbeats
        time to name the lost peer, whose `on_lost` then ends this process with one line instead of jax's abort at
        shutdown. Returns at once if the watch has stopped, or after the timeout if every peer is alive."""
        if self._thread.is_alive():
            self._thread.join(self.timeout_s + 2 * self.interval_s + 1.0)

    def _run(self) -> None:
        peers = [p for p in range(self.num_processes) if p != self.process_id]
        seen = {p: (None, time.monotonic()) for p in peers}  # peer -> (last counter, when it last changed)
        beats = 0
        while not self._stop.wait(self.interval_s):
            beats += 1
            try:
                self.client.key_value_set(heartbeat_key(self.process_id), str(beats), allow_overwrite=True)
                counters = dict(self.client.key_value_dir_get(KEY_PREFIX))
            except Exception as error:  # the service (in process 0) is gone; jax raises several types for it
                if not self._stop.is_set():
                    self.on_lost(f"the job's coordination service (in process 0) stopped answering "
                                 f"({' '.join(str(error).split())[:120]}); process 0 was killed or crashed. "
                                 f"{self._advice()}")
                return
            lost = self._silent_peers(peers, counters, seen)
            if lost and not self._stop.is_set():
                self.on_lost(f"process {lost[0]} of this {self.num_processes}-process job sent no heartbeat for "
                             f"{self.timeout_s:g} s (killed, crashed or preempted); this process {self.process_id} "
                             f"stops too. {self._advice()}")
                return

    def _silent_peers(self, peers: list[int], counters: dict[str, str], seen: dict) -> list[int]:
        """The peers whose counter has not changed for `timeout_s` (updates `seen`)."""
        now, lost = time.monotonic(), []
        for peer in peers:
            value = counters.get(heartbeat_key(peer))
            if value == FINISHED:
                continue
            if value != seen[peer][0]:
                seen[peer] = (value, now)
            elif now - seen[peer][1] > self.timeout_s:
                lost.append(peer)
        return lost

    def _advice(self) -> str:
        return "Run the same command on every process again to resume from the last complete checkpoint."
