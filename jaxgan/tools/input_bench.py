"""The input-pipeline rows of `jaxgan benchmark`: images/s and MB/s to the device boundary, per source and batch.

Sources, all 64x64x3 uint8 at the device boundary: a prepared dataset (`jaxgan prepare`'s memory-mapped .npy),
an .npz in memory, a folder of 178x218 JPEGs (CelebA's size; centre-cropped and resized) read by 2 grain workers
and in this process, and a tfds source (`tfds.testing.mock_data` of celeb_a). Each row times `batches` batches
after one untimed batch (worker start-up and first reads): the host batches ready to cross to the device (the
device boundary: host_images_per_s and mb_per_s), then through `prefetch_to_device` as the trainer feeds them
(device_images_per_s); each row reports the 1-minute load average beside the figure (the machine may be shared)
and images per second of the process's own CPU time. The end-to-end row times the trainer's own step runner on
DCGAN-64 fed from the prepared dataset against the same runner fed one batch already on the device.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import jax
import ml_collections
import numpy as np
from PIL import Image

from jaxgan.data import build_dataset, default_config, prefetch_to_device, prepared
from jaxgan.factory import build_gan
from jaxgan.sharding import data_mesh
from jaxgan.state import create_state

SIDE = 64
CELEBA_SIZE = (218, 178)  # (H, W) of CelebA's aligned images


def smooth_images(rng: np.random.Generator, count: int, height: int, width: int) -> np.ndarray:
    """uint8 photos-like images: low-frequency colour fields (so JPEG sizes and decode times are realistic)."""
    coarse = rng.integers(0, 256, (count, 6, 5, 3), dtype=np.uint8)
    images = [np.asarray(Image.fromarray(c).resize((width, height), Image.Resampling.BICUBIC)) for c in coarse]
    return np.stack(images)


def data_config(**fields) -> ml_collections.ConfigDict:
    cfg = default_config()
    cfg.update(fields)
    return cfg


def make_sources(tmp: Path, quick: bool) -> dict[str, tuple[ml_collections.ConfigDict, Callable]]:
    """name -> (data config, context to read it in): the sources of the input rows, written under `tmp`."""
    rng = np.random.default_rng(0)
    count = 512 if quick else 4096
    images = smooth_images(rng, count, SIDE, SIDE)
    writer = prepared.Writer(tmp / "prepared64", (SIDE, SIDE, 3))
    for image in images:
        writer.add(image)
    writer.close({"name": "synthetic64", "source": "benchmark", "classes": [], "skipped": []})
    np.savez(tmp / "synthetic64.npz", images=images)
    folder = tmp / "jpeg178x218"
    folder.mkdir()
    for i, image in enumerate(smooth_images(rng, 64 if quick else 640, *CELEBA_SIZE)):
        Image.fromarray(image).save(folder / f"{i:05d}.jpg", quality=95)
    jpeg = dict(name="folder", path=str(folder), image_size=SIDE, channels=3, center_crop=True)
    plain = contextlib.nullcontext
    return {
        "prepared": (data_config(name="prepared", path=str(tmp / "prepared64")), plain),
        "npz_in_memory": (data_config(name="npz", path=str(tmp / "synthetic64.npz")), plain),
        "jpeg_folder_2_workers": (data_config(**jpeg, num_workers=2), plain),
        "jpeg_folder_0_workers": (data_config(**jpeg, num_workers=0), plain),
        "tfds_mock_celeb_a": (data_config(name="tfds", tfds_name="celeb_a", image_size=SIDE, center_crop=True,
                                          remainder="pad"), _tfds_mock(64 if quick else 1024)),
    }


def _tfds_mock(count: int) -> Callable:
    def context():
        import tensorflow_datasets as tfds

        return tfds.testing.mock_data(num_examples=count, policy=tfds.testing.MockPolicy.USE_CODE)

    return context


def time_batches(iterator, batches: int) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) for `batches` items of `iterator` after one untimed item."""
    last = next(iterator)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(batches):
        last = next(iterator)
    jax.block_until_ready(last)
    return time.perf_counter() - start, time.process_time() - cpu_start


def wait_for_threads(count: int, timeout_s: float = 120.0) -> None:
    """Wait until no more than `count` threads run: a closed reader thread finishes its batch in flight, which would
    otherwise steal the CPU from the next row."""
    deadline = time.monotonic() + timeout_s
    while threading.active_count() > count and time.monotonic() < deadline:
        time.sleep(0.05)


def timed(iterator, batches: int) -> tuple[float, float]:
    """time_batches, then close the iterator and wait for its threads."""
    threads = threading.active_count()
    try:
        return time_batches(iterator, batches)
    finally:
        iterator.close()
        wait_for_threads(threads)


def input_row(name: str, cfg: ml_collections.ConfigDict, batch: int, batches: int) -> dict:
    """One source at one batch size: host batches ready to cross (the device boundary), and put on the device."""
    dataset = build_dataset(cfg, seed=0)
    host_seconds, _ = timed(dataset.batches(batch), batches)
    seconds, cpu_seconds = timed(prefetch_to_device(dataset.batches(batch), size=2), batches)
    images_per_s = batch * batches / host_seconds
    bytes_per_image = int(np.prod(dataset.example_shape)) * (1 if dataset.uint8 else 4)
    return {"kind": "input", "source": name, "shape": list(dataset.example_shape), "batch": batch,
            "workers": cfg.num_workers, "dtype": "uint8" if dataset.uint8 else "float32", "batches": batches,
            "host_images_per_s": images_per_s, "mb_per_s": images_per_s * bytes_per_image / 1e6,
            "device_images_per_s": batch * batches / seconds,
            # device rate per second of this process's CPU time (all its threads; worker processes not counted):
            # what a shared, loaded machine would give if the process had its cores to itself
            "images_per_cpu_s": batch * batches / max(cpu_seconds, 1e-9), "load_1min": os.getloadavg()[0]}


# Images timed per row of a decoding source: enough batches for worker processes to reach their steady state.
SLOW_IMAGES = 3072


def bench_input(batch_sizes: list[int], quick: bool, tmp: Path, emit: Callable[[dict], None],
                only: list[str] | None = None) -> list[dict]:
    """The input rows: every source (or those in `only`) at every batch size."""
    rows = []
    for name, (cfg, context) in make_sources(tmp, quick).items():
        if only and name not in only:
            continue
        slow = name.startswith(("jpeg", "tfds"))
        for batch in batch_sizes:
            batches = (1 if quick else max(4, SLOW_IMAGES // batch)) if slow else (3 if quick else 50)
            with context():
                rows.append(input_row(name, cfg, batch, batches))
            emit(rows[-1])
    return rows


def bench_end_to_end(config: ml_collections.ConfigDict, prepared_path: Path, steps: int) -> dict:
    """DCGAN steps/s fed from a prepared dataset through the trainer's runner, and fed one on-device batch.

    The two runners alternate step by step, each step waited for, so the prepared one gets no overlap of its host
    reading with the device (a conservative figure) and a shared machine's load weighs on both alike.
    """
    from jaxgan.trainer import StepRunner, make_step_runner

    config = config.copy_and_resolve_references()
    config.data = data_config(name="prepared", path=str(prepared_path))
    dataset = build_dataset(config.data, seed=0)
    gan = build_gan(config, dataset.example_shape)
    mesh = data_mesh(jax.local_devices()[:1])
    runner = make_step_runner(config, gan, mesh, dataset, start_batch=0)
    device_batch = jax.device_put(next(dataset.batches(config.train.batch_size)))
    synthetic = StepRunner(runner.step_fn, itertools.repeat(jax.tree.map(lambda x: x[None], device_batch)))
    runs = {"synthetic_on_device": synthetic, "prepared": runner}
    states = {name: jax.jit(lambda: create_state(gan, dataset.example_shape, 0))() for name in runs}
    seconds = dict.fromkeys(runs, 0.0)
    try:
        for step in range(steps + 1):  # step 0 compiles and warms up; then the two alternate (load drifts cancel)
            for name, run in runs.items():
                start = time.perf_counter()
                states[name], _ = run(states[name], step)
                jax.block_until_ready(states[name])
                seconds[name] += (time.perf_counter() - start) if step else 0.0
    finally:
        runner.batches.close()
    batch = config.train.batch_size
    return {"kind": "train_input", "model": config.model.name, "batch": batch, "steps": steps,
            "synthetic_images_per_s": batch * steps / seconds["synthetic_on_device"],
            "prepared_images_per_s": batch * steps / seconds["prepared"],
            "ratio": seconds["synthetic_on_device"] / seconds["prepared"], "load_1min": os.getloadavg()[0]}
