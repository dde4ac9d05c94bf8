"""The training loop: data in, steps run, numbers, samples and checkpoints out.

Samples are drawn with G in inference mode, so BatchNorm uses its running averages (as PyTorch's `netG.eval()`);
that makes a sample depend only on z and the checkpoint, never on the rest of the sample batch. With an EMA, samples
come from the EMA params (with G's running BatchNorm statistics).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.checkpoint import Checkpointer
from jaxgan.config import validate
from jaxgan.data import build_dataset, prefetch_to_device, stack_batches
from jaxgan.factory import build_gan, build_train_step
from jaxgan.images import sample_picture, save_png
from jaxgan.sharding import batch_sharding, check_divisible, data_mesh, jit_data_parallel, replicated
from jaxgan.state import GAN, GANState, create_state
from jaxgan.train_step import sample_latents
from jaxgan.writers import MetricWriter, Progress

log = logging.getLogger(__name__)


class NonFiniteError(FloatingPointError):
    """Training produced a NaN or infinity; the run stops and keeps its last good checkpoint."""


def network_of(metric: str) -> str:
    """The network a metric belongs to: "G" for `Loss/G`, `Grad/G_norm`, `G/...`; else "D"."""
    return "G" if "/G" in metric or metric.startswith("G/") else "D"


def check_finite(step_metrics: list[tuple[int, dict[str, float]]]) -> None:
    """Raise NonFiniteError naming the first step and network whose loss or gradient norm is not finite."""
    for step, metrics in step_metrics:
        bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
        if bad:
            nets = sorted({network_of(k) for k in bad})
            raise NonFiniteError(
                f"Non-finite values at step {step} in {' and '.join(nets)}: {', '.join(bad)}. "
                "The run stopped without saving this state; the last good checkpoint is kept. "
                "Try a lower learning rate, a gradient penalty, or optim.*.grad_clip."
            )


def train_batches(dataset, config: ml_collections.ConfigDict, start_step: int, sharding) -> Iterator[dict]:
    """Device batches for the step: `n_disc` real batches stacked per step, from the data position of `start_step`.

    Each process reads only its rows of the global batch; two batches are prefetched to the devices ahead.
    """
    n = config.n_disc
    host = dataset.batches(config.train.batch_size, start_batch=start_step * n,
                           process_index=jax.process_index(), process_count=jax.process_count())
    return prefetch_to_device(stack_batches(host, n), size=2, sharding=sharding)


def make_sampler(gan: GAN):
    """A jitted `(state, z) -> samples` that uses the EMA params when present and BatchNorm running stats."""

    @jax.jit
    def sample(state: GANState, z: jax.Array) -> jax.Array:
        params = state.g.params if state.g_ema_params is None else state.g_ema_params
        return gan.generate({"params": params, **state.g.collections}, z)

    return sample


def write_samples(workdir: Path, step: int, samples: np.ndarray, writer: MetricWriter, modes=None) -> Path:
    """Save a PNG grid of `samples` under samples/ and log it to TensorBoard."""
    picture = sample_picture(samples, modes)
    writer.image(step, "samples", picture)
    return save_png(picture, workdir / "samples" / f"step_{step:07d}.png")


def write_config(workdir: Path, config: ml_collections.ConfigDict) -> None:
    """Write the resolved config as JSON (machine-readable) beside the run."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")


def restore_or_init(ckpt: Checkpointer, state: GANState) -> tuple[GANState, int]:
    """Resume from the latest checkpoint in the workdir, or start at step 0."""
    if ckpt.latest_step() is None:
        return state, 0
    state, meta = ckpt.restore(state)
    log.info("Resumed from step %d", int(state.step))
    return state, int(state.step)


def _fetch(pending: list[tuple[int, dict]]) -> list[tuple[int, dict[str, float]]]:
    """Bring the step metrics queued on the device to the host in one transfer."""
    host = jax.device_get([m for _, m in pending])
    return [(s, {k: float(v) for k, v in m.items()}) for (s, _), m in zip(pending, host, strict=True)]


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> GANState:
    """Train the GAN that `config` describes, writing config, metrics, samples and checkpoints to `workdir`."""
    validate(config)
    workdir = Path(workdir)
    is_main = jax.process_index() == 0
    dataset = build_dataset(config.data, seed=config.seed)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    mesh = data_mesh()
    check_divisible(config.train.batch_size, mesh)
    step_fn = jit_data_parallel(build_train_step(config, gan), mesh)
    state = create_state(gan, dataset.example_shape, config.seed, ema=config.ema.decay > 0)
    state = jax.device_put(state, replicated(mesh))
    ckpt = Checkpointer(workdir / "checkpoints", keep=config.train.keep_checkpoints)
    state, start = restore_or_init(ckpt, state)
    if is_main:
        write_config(workdir, config)
    writer = MetricWriter(workdir, enabled=is_main)
    progress = Progress(config.train.num_steps, start, enabled=is_main and config.train.progress)
    sampler = make_sampler(gan)
    fixed_z = sample_latents(jax.random.PRNGKey(config.seed + 1), config.train.num_samples, gan.z_dim)
    batches = train_batches(dataset, config, start, batch_sharding(mesh))
    pending: list[tuple[int, dict]] = []
    t0, images_seen = time.perf_counter(), 0

    def flush() -> None:
        nonlocal t0, images_seen
        if not pending:
            return
        rows = _fetch(pending)
        pending.clear()
        check_finite(rows)
        elapsed = time.perf_counter() - t0
        step, last = rows[-1]
        last = {**last, "images_per_sec": images_seen / max(elapsed, 1e-9)}
        writer.scalars(step, last)
        progress.update(len(rows), {"D": last["Loss/D"], "G": last["Loss/G"],
                                    "img/s": last["images_per_sec"]})
        t0, images_seen = time.perf_counter(), 0

    try:
        for step in range(start + 1, config.train.num_steps + 1):
            state, metrics = step_fn(state, next(batches))
            pending.append((step, metrics))
            images_seen += config.train.batch_size * config.n_disc
            last_step = step == config.train.num_steps
            if step % config.train.log_every == 0 or last_step:
                flush()
            if is_main and (step % config.train.sample_every == 0 or last_step):
                samples = np.asarray(jax.device_get(sampler(state, fixed_z)))
                write_samples(workdir, step, samples, writer, dataset.modes)
            if step % config.train.checkpoint_every == 0 or last_step:
                flush()  # never save a state whose metrics were not checked
                ckpt.save(step, state, {"step": step, "data_batches": step * config.n_disc,
                                        "config": json.loads(config.to_json_best_effort())})
    finally:
        progress.close()
        writer.close()
        ckpt.close()
    return state


def generate_samples(gan: GAN, state: GANState, key: jax.Array, n: int) -> jax.Array:
    """n samples from G (EMA params when present) in inference mode."""
    z = sample_latents(key, n, gan.z_dim)
    return make_sampler(gan)(state, z.astype(jnp.float32))
