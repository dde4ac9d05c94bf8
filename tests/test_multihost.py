"""Multi-host data parallelism: 2 processes on localhost (gloo collectives) train like one process."""

import os
import socket
import sys
from pathlib import Path

import jax
import numpy as np
from child_process import Child, wait_all
from parallel_worker import local_copies, train

WORKER = Path(__file__).with_name("parallel_worker.py")
ROOT = WORKER.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def run_processes(tmp_path: Path, num: int = 2, devices_each: int = 2) -> list[dict]:
    """Start `num` worker processes of one job, wait for them, and load each one's state."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices_each}",
           "JAXGAN_TEST_CACHE": jax.config.jax_compilation_cache_dir or ""}
    port = free_port()
    procs = [Child([sys.executable, str(WORKER), "--process-id", str(i), "--num-processes", str(num), "--port",
                    str(port), "--out", str(tmp_path)], tmp_path / f"process_{i}", env=env, cwd=ROOT)
             for i in range(num)]
    # Wait for every exit (an event); one failing process fails the test at once, since the others would wait for it.
    wait_all(procs, lambda: all(p.returncode is not None for p in procs), "every process exit", fail_on="error")
    for i, p in enumerate(procs):
        assert p.returncode == 0, f"process {i} failed:\n{p.output()[-3000:]}"
    return [dict(np.load(tmp_path / f"process_{i}.npz")) for i in range(num)]


def test_two_processes_end_identical_and_equal_to_one_process(tmp_path):
    first, second = run_processes(tmp_path)
    assert first.keys() == second.keys()
    for path in first:
        np.testing.assert_array_equal(first[path], second[path], err_msg=path)
    # The same 4 steps (2 dispatches of K=2, DCGAN with BatchNorm) in this one process, on one device.
    single = {path: v[0] for path, v in local_copies(train("dcgan", devices=jax.devices()[:1])).items()}
    assert single.keys() == first.keys()
    assert int(single[".step"]) == int(first[".step"]) == 4
    for path in single:
        np.testing.assert_allclose(first[path], single[path], rtol=2e-4, atol=2e-5, err_msg=path)
