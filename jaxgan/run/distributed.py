"""Joining a multi-process (multi-host) job from the config's `parallel` block, before any device is touched.

`parallel.distributed` says how a process finds the others:

- "off": one process (the default); nothing is called.
- "auto": `jax.distributed.initialize()` with no addresses: jax reads them from the cluster it runs in (Cloud TPU
  pods, SLURM, Open MPI, Kubernetes). Every process runs the same command.
- "explicit": `parallel.coordinator` (host:port of process 0), `parallel.num_processes` and `parallel.process_id`
  are passed as given; the command differs per process only in `process_id`.

On the CPU, the cross-process collectives are gloo's (TCP) unless jax was told otherwise (e.g. MPI). The heartbeats
of `jaxgan.run.job_watch` bound how long the others wait when one process dies (`parallel.heartbeat_timeout_s`):
they stop with one line naming the lost process, and rerunning the job resumes from the last complete checkpoint.
"""

from __future__ import annotations

import socket
import time

import ml_collections

from jaxgan.errors import JaxganError, check_choice
from jaxgan.run.job_watch import JobWatch

MODES = ("off", "auto", "explicit")
# Keys that differ between the processes of one job, or between launches of it (a new free port): not config changes.
PER_LAUNCH_KEYS = frozenset({"parallel.coordinator", "parallel.process_id"})


class DistributedSetupError(JaxganError):
    """This process could not join the multi-process job (bad keys, unreachable coordinator)."""


def default_config() -> ml_collections.ConfigDict:
    """The `parallel` keys that say how the processes of one job find each other."""
    return ml_collections.ConfigDict(dict(
        distributed="off",  # off | auto (TPU pod, SLURM, Open MPI: jax finds the job) | explicit (the keys below)
        coordinator="",     # explicit: host:port of process 0's coordination service, e.g. "10.0.0.1:1234"
        num_processes=0,    # explicit: processes in the job
        process_id=-1,      # explicit: this process, 0 .. num_processes - 1
        heartbeat_timeout_s=100,  # a process silent this long is dead: the others stop with an error
        initialization_timeout_s=300,  # how long a process waits for the others to join
    ))


def validate(parallel: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the `parallel` key that is missing or out of range for the chosen mode."""
    check_choice(parallel.distributed, MODES, "parallel.distributed")
    for key in ("heartbeat_timeout_s", "initialization_timeout_s"):
        if parallel[key] < 1:
            raise ValueError(f"parallel.{key} must be >= 1 second, got {parallel[key]}.")
    if parallel.distributed != "explicit":
        return
    host, _, port = parallel.coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"parallel.distributed='explicit' needs parallel.coordinator=HOST:PORT (process 0's address "
                         f"and a free port, the same on every process), got {parallel.coordinator!r}.")
    if parallel.num_processes < 1:
        raise ValueError(f"parallel.distributed='explicit' needs parallel.num_processes >= 1, got "
                         f"{parallel.num_processes}.")
    if not 0 <= parallel.process_id < parallel.num_processes:
        raise ValueError(f"parallel.process_id must be in 0..{parallel.num_processes - 1} (parallel.num_processes="
                         f"{parallel.num_processes}), got {parallel.process_id}; give each process its own id.")


def initialize_arguments(parallel: ml_collections.ConfigDict) -> dict | None:
    """The keyword arguments of `jax.distributed.initialize` for this config (None: a single-process run)."""
    validate(parallel)
    if parallel.distributed == "off":
        return None
    # jax's own heartbeat is the backstop of jaxgan.run.job_watch's (which names the lost process): twice as long.
    backstop = 2 * int(parallel.heartbeat_timeout_s)
    arguments = dict(heartbeat_timeout_seconds=backstop, shutdown_timeout_seconds=backstop,
                     initialization_timeout=int(parallel.initialization_timeout_s))
    if parallel.distributed == "explicit":
        arguments.update(coordinator_address=parallel.coordinator, num_processes=int(parallel.num_processes),
                         process_id=int(parallel.process_id))
    return arguments


def wait_for_coordinator(address: str, timeout_s: float) -> None:
    """Wait until process 0's coordination service accepts connections at `address`; a clear error after `timeout_s`.

    jax ends the process with a fatal log and a stack trace when it cannot register with the coordinator; checking
    the port first turns the common causes (process 0 not started, a wrong host or port, a firewall) into one line.
    """
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=min(5.0, timeout_s)):
                return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise DistributedSetupError(
                    f"cannot reach the coordinator parallel.coordinator={address} within "
                    f"parallel.initialization_timeout_s={timeout_s:g} s ({error.strerror or error}); start process 0 "
                    "of the job (it serves there), check the host and port, or raise the timeout.") from error
        time.sleep(0.5)


def join_job(parallel: ml_collections.ConfigDict) -> JobWatch | None:
    """Join the job `parallel` describes (gloo collectives on the CPU); returns the watchdog of a multi-process job
    (call its `stop(finished=True)` when training returns), else None.

    Must run before anything asks jax for devices: jax builds its backends once, for the job it knows of then.
    """
    arguments = initialize_arguments(parallel)
    if arguments is None:
        return None
    if parallel.distributed == "explicit" and parallel.process_id != 0:
        wait_for_coordinator(parallel.coordinator, parallel.initialization_timeout_s)
    import jax

    if not jax.config.jax_cpu_collectives_implementation:  # keep a choice made elsewhere (e.g. MPI)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(**arguments)
    except (RuntimeError, ValueError) as error:
        where = arguments.get("coordinator_address", "found by jax's cluster detection")
        raise DistributedSetupError(
            f"could not join the {parallel.distributed} multi-process job (coordinator {where}): "
            f"{' '.join(str(error).split())[:300]}. Start every process of the job with the same coordinator and "
            "num_processes and its own process_id, or use parallel.distributed='off' for one process.") from error
    from jax._src import distributed as jax_distributed  # the client that orbax and multihost_utils use too

    job = jax_distributed.global_state  # read without touching a device (a missing platform is reported later)
    if job.num_processes == 1:
        return None
    return JobWatch(job.client, job.process_id, job.num_processes, parallel.heartbeat_timeout_s).start()
