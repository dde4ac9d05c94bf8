"""Tiny GANs for the parallel tests, and a worker that trains one in one process of a multi-process CPU job.

As a script: `python tests/parallel_worker.py --process-id I --num-processes N --port P --out DIR` (with
XLA_FLAGS giving each process its CPU devices) joins the job through `jax.distributed.initialize` with gloo
collectives, trains, and writes this process's copy of the state to DIR/process_I.npz.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import jax
import numpy as np
import optax

from jaxgan.config import base_config
from jaxgan.data import build_dataset, prefetch_to_device, stack_batches
from jaxgan.engine.multistep import jit_multi_step
from jaxgan.engine.sharding import batch_sharding, data_mesh, replicated
from jaxgan.engine.state import GAN, TrainState, create_state
from jaxgan.engine.train_step import make_train_step
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.terms.losses import get_loss

IMAGE_SHAPE = (16, 16, 1)
GLOBAL_BATCH = 16


def tiny_gan(model: str, *, dtype=np.float32, bn_groups: int = 1, fast: bool = True) -> GAN:
    """A small MLP or DCGAN (16x16x1, BatchNorm in both nets) with Adam, for exact-equality tests."""
    if model == "mlp":
        g = MLPGenerator(IMAGE_SHAPE, (32,), "tanh", dtype=dtype)
        d = MLPDiscriminator((32,), dtype=dtype)
    else:
        g = DCGANGenerator(16, 1, 4, dtype=dtype, bn_groups=bn_groups, fast_image_layers=fast)
        d = DCGANDiscriminator(16, 4, dtype=dtype, bn_groups=bn_groups, fast_image_layers=fast)
    tx = optax.adam(1e-3, b1=0.5)
    return GAN(g, d, tx, tx, z_dim=8)


def init_state(gan: GAN, ema: bool = False) -> TrainState:
    """`create_state` as one compiled program (much faster than op-by-op on the CPU)."""
    return jax.jit(lambda: create_state(gan, IMAGE_SHAPE, seed=0, ema=ema))()


def digits_dataset():
    """The embedded digits at their native 8x8, upscaled to 16x16 so DCGAN has a BatchNorm in D."""
    cfg = base_config().data
    cfg.image_size = IMAGE_SHAPE[0]
    return build_dataset(cfg, seed=0)


def train(model: str, *, k: int = 2, dispatches: int = 2, n_disc: int = 1, devices=None) -> TrainState:
    """`dispatches` calls of K steps on the digits, data-parallel over `devices` (default: all)."""
    gan = tiny_gan(model)
    mesh = data_mesh(devices)
    step = jit_multi_step(make_train_step(gan, get_loss("non_saturating"), n_disc=n_disc), k, mesh)
    state = jax.device_put(init_state(gan), replicated(mesh))
    host = digits_dataset().batches(GLOBAL_BATCH, process_index=jax.process_index(),
                                    process_count=jax.process_count())
    batches = prefetch_to_device(stack_batches(stack_batches(host, n_disc), k), 2, batch_sharding(mesh, 2))
    for _ in range(dispatches):
        state, _ = step(state, next(batches))
    return state


def local_copies(state: TrainState) -> dict[str, list[np.ndarray]]:
    """Every addressable copy of every leaf of the (replicated) state, keyed by its path."""
    leaves = jax.tree_util.tree_leaves_with_path(state)
    return {jax.tree_util.keystr(path): [np.asarray(s.data) for s in leaf.addressable_shards]
            for path, leaf in leaves}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if os.environ.get("JAXGAN_TEST_CACHE"):  # the test suite's compilation cache (see conftest.py)
        jax.config.update("jax_compilation_cache_dir", os.environ["JAXGAN_TEST_CACHE"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.distributed.initialize(f"localhost:{args.port}", args.num_processes, args.process_id)
    copies = local_copies(train(args.model))
    for path, values in copies.items():  # replicas inside one process agree too
        for value in values[1:]:
            np.testing.assert_array_equal(values[0], value, err_msg=path)
    np.savez(args.out / f"process_{args.process_id}.npz", **{path: v[0] for path, v in copies.items()})
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
