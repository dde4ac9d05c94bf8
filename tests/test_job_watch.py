"""The multi-process watchdog's decisions, on a fake coordination service and a clock the test moves."""

import pytest

from jaxgan.run import job_watch
from jaxgan.run.job_watch import FINISHED, JobWatch, heartbeat_key


class FakeClient:
    """The key-value part of jax's distributed runtime client; `fail` makes it behave like a dead coordinator."""

    def __init__(self, fail: bool = False):
        self.store, self.fail = {}, fail

    def key_value_set(self, key, value, allow_overwrite=False):
        if self.fail:
            raise RuntimeError("UNAVAILABLE: Failed to send RPC to coordination service")
        self.store[key] = value

    def key_value_dir_get(self, prefix):
        return [(k, v) for k, v in self.store.items() if k.startswith(prefix)]


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(job_watch.time, "monotonic", lambda: now[0])
    return now


def test_a_peer_is_lost_only_after_its_counter_stands_still_for_the_timeout(clock):
    watch = JobWatch(FakeClient(), 0, 3, timeout_s=10)
    seen = {p: (None, clock[0]) for p in (1, 2)}
    counters = {heartbeat_key(1): "1", heartbeat_key(2): "1"}
    assert watch._silent_peers([1, 2], counters, seen) == []
    clock[0] += 9
    counters[heartbeat_key(2)] = "2"  # 2 beats, 1 does not
    assert watch._silent_peers([1, 2], counters, seen) == []
    clock[0] += 1.5  # 1's counter has stood for 10.5 s, 2's for 1.5 s
    assert watch._silent_peers([1, 2], counters, seen) == [1]


def test_a_peer_that_never_beat_is_lost_after_the_timeout_from_the_start(clock):
    watch = JobWatch(FakeClient(), 1, 2, timeout_s=10)
    seen = {0: (None, clock[0])}
    clock[0] += 10.5
    assert watch._silent_peers([0], {}, seen) == [0]


def test_a_finished_peer_is_never_lost(clock):
    client = FakeClient()
    finished, watching = JobWatch(client, 1, 2, timeout_s=10), JobWatch(client, 0, 2, timeout_s=10)
    finished.stop(finished=True)
    seen = {1: (None, clock[0])}
    counters = dict(client.key_value_dir_get(job_watch.KEY_PREFIX))
    for _ in range(3):  # its last heartbeat stands still for far longer than the timeout
        assert watching._silent_peers([1], counters, seen) == []
        clock[0] += 1000
    assert client.store[heartbeat_key(1)] == FINISHED


def test_a_coordinator_that_stops_answering_is_reported_once_naming_process_0():
    reports = []
    watch = JobWatch(FakeClient(fail=True), 1, 2, timeout_s=0.01, on_lost=reports.append)
    watch._run()  # returns after the first failed heartbeat
    assert len(reports) == 1 and "coordination service (in process 0) stopped answering" in reports[0]


def test_after_a_failed_collective_the_trainer_waits_for_the_watch_to_name_the_silent_peer():
    """`await_lost_peer` returns once the running watch has reported the peer that never beats (real clock)."""
    reports = []
    watch = JobWatch(FakeClient(), 0, 2, timeout_s=0.3, on_lost=reports.append).start()
    watch.await_lost_peer()
    assert len(reports) == 1 and reports[0].startswith("process 1 of this 2-process job sent no heartbeat")
    watch.stop()
    watch.await_lost_peer()  # a stopped watch: returns at once
