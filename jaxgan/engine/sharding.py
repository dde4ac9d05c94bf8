"""Data parallelism: one `jit` over a 1-D device mesh, state replicated, batch split along its example axis.

Why `jit` with shardings rather than `pmap`: the step is written once for the global batch, and XLA inserts the
collectives. Gradients are then the mean over the global batch (averaged across devices), BatchNorm statistics are
computed over the global batch (synchronised across replicas), and a run on 8 devices computes what a run on 1
computes, up to the order of float reductions. The same code runs multi-host: each process feeds its rows of
the global batch (`jax.make_array_from_process_local_data`) and the mesh spans every process's devices.

- **BatchNorm.** With the global-batch jit, statistics are synchronised across replicas by construction (the default,
  `parallel.sync_batch_norm=True`). With `sync_batch_norm=False`, each device normalises with the statistics of its
  own rows, as unsynchronised replicas would: models use `GhostBatchNorm` with `bn_groups(False)` = one group of B/n
  consecutive examples per device (the rows that `batch_sharding` puts on it), and the running averages are the
  mean over devices.
- **Noise.** Each device draws its own z: `train_step.sample_latents` folds each *global example index* into the
  step's key, and the rows of a device are a block of those indices, so each device folds its own indices in. The
  noise of example i then depends on i only, and 1 device and 8 devices draw identical z for the same global batch.
- **Batch size.** `train.batch_size` is the global batch on any device count: each device gets batch_size / n rows.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgan.engine.compile_options import step_compiler_options

DATA_AXIS = "data"


def data_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh named `data` over `devices` (default: every device of every process)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds a full copy (the train state)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, example_axis: int = 1) -> NamedSharding:
    """Split axis `example_axis` of each batch leaf over the mesh; axis 0 is the n_disc (or K) stacking axis."""
    return NamedSharding(mesh, PartitionSpec(*([None] * example_axis), DATA_AXIS))


def bn_groups(sync_batch_norm: bool, num_devices: int | None = None) -> int:
    """BatchNorm statistics groups: 1 when replicas synchronise them, else one per device (default: all devices)."""
    if sync_batch_norm:
        return 1
    return jax.device_count() if num_devices is None else num_devices


def check_divisible(global_batch: int, mesh: Mesh) -> None:
    """The global batch must split evenly over the devices."""
    if global_batch % mesh.size:
        raise ValueError(f"train.batch_size={global_batch} must be divisible by the {mesh.size} devices; "
                         f"use a multiple of {mesh.size}.")


def jit_data_parallel(step_fn: Callable, mesh: Mesh, example_axis: int = 1, options_of: object = None) -> Callable:
    """jit `(state, batch) -> (state, metrics)` with the state replicated and donated, the batch split, and the
    compile options `options_of` (default: step_fn) asks for (`jaxgan.engine.compile_options`)."""
    repl = replicated(mesh)
    return jax.jit(step_fn, in_shardings=(repl, batch_sharding(mesh, example_axis)),
                   out_shardings=(repl, repl), donate_argnums=(0,),
                   compiler_options=step_compiler_options(options_of or step_fn))
