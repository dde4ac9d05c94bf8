"""The input-pipeline rows of `jaxgan benchmark`: images/s and MB/s to the device boundary, per source and batch.

Sources, all 64x64x3 uint8 at the device boundary: a prepared dataset (`jaxgan prepare`'s memory-mapped .npy),
an .npz in memory, a folder of 178x218 JPEGs (CelebA's size; centre-cropped and resized) read by 2 grain workers
and in this process, and a tfds source (`tfds.testing.mock_data` of celeb_a). Each row times `batches` batches after
one untimed batch per reader (1, or one per worker): the host batches ready to cross to the device (the device
boundary: host_images_per_s and mb_per_s), then through `prefetch_to_device` as the trainer feeds them
(device_images_per_s). Rows run batch size by batch size, so the JPEG folder's 0- and 2-worker rows are timed back
to back, and an "input_speedup" row follows with `jpeg_2_workers_speedup` (2 workers' host images/s over 0 workers';
the target on 2 cores is 1.7).

What the timed window leaves out, and why that is fair: the untimed batches pay the worker start-up (spawning 2
processes, importing jaxgan, unpickling the source: about 1.7 s of CPU per worker on a small CPU), once
per iterator. A trainer pays it once per run (and once per resume), not per epoch: `Dataset.batches` is one grain
stream over batch indices start, start + 1, ... whose index map reshuffles each epoch, so the same worker
processes read every epoch (the folder's 640 images make a new epoch every 5 batches of 128, every batch of 512).

Each row also reports, for this process, its worker processes and all their threads (Linux's schedstat):
images per CPU-second in the device window (images_per_cpu_s); host_cpu_wait_fraction, the share of the host
window's runnable time spent waiting for a core that another program held; and host_cpu_bound_images_per_s, the
host images over the CPU seconds of the busiest process (the rate with a core per process, none waiting on
another). Where the wait share is not near 0 the machine was not quiet and jpeg_2_workers_speedup is not the
quiet-machine figure: Linux's autogroup scheduler shares the CPU between sessions first, so while another session is
busy the benchmark's 2 workers together get about one thread's share. jpeg_2_workers_cpu_bound_speedup, the ratio of
the CPU-bound rates, is an estimate that needs no quiet machine (though contention, by switching the processes
more often, still adds some CPU per image, more to 2 workers than to 1 thread).
The machine's 1-minute load is reported beside every figure. The end-to-end row times the trainer's own step runner
on DCGAN-64 fed from the prepared dataset against the same runner fed one batch already on the device.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from jaxgan.engine.sharding import data_mesh
from jaxgan.engine.state import create_state
from jaxgan.objectives.factory import build_gan

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


def process_cpu() -> dict[int, np.ndarray] | None:
    """pid -> [seconds on a CPU, seconds runnable but waiting for one] of this process and its worker processes (all
    threads), from Linux's /proc/PID/task/*/schedstat (None elsewhere): the wait is the CPU other programs took."""
    import psutil  # a dependency of orbax-checkpoint

    totals = {}
    for pid in [os.getpid(), *(child.pid for child in psutil.Process().children(recursive=True))]:
        for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            with contextlib.suppress(OSError, ValueError):
                stat = np.array([int(field) for field in path.read_text().split()[:2]]) / 1e9
                totals[pid] = totals.get(pid, 0.0) + stat
    return totals or None


@dataclasses.dataclass(frozen=True)
class Window:
    """A timed window: wall seconds and, on Linux, the CPU seconds of this process and its workers, the seconds they
    waited for a core, and the CPU seconds of the busiest one of them."""

    seconds: float
    cpu_seconds: float | None = None
    wait_seconds: float | None = None
    busiest_cpu_seconds: float | None = None


def time_batches(iterator, batches: int, warmup: int = 1) -> Window:
    """Time `batches` items of `iterator` after `warmup` untimed ones (worker start-up and first reads).

    With W workers the warm-up is W items, one per worker: they start together, so after only the first item the
    other workers' batches are nearly done and the window would open with that head start (about +9% at 24 batches).
    """
    for _ in range(warmup - 1):
        next(iterator)
    last = next(iterator)
    before, start = process_cpu(), time.perf_counter()
    for _ in range(batches):
        last = next(iterator)
    jax.block_until_ready(last)
    seconds, after = time.perf_counter() - start, process_cpu()
    if before is None or after is None:
        return Window(seconds)
    used = [after[pid] - before.get(pid, 0.0) for pid in after]
    cpu, wait = np.sum(used, axis=0)
    return Window(seconds, float(cpu), float(wait), float(max(u[0] for u in used)))


def wait_for_readers(timeout_s: float = 120.0) -> None:
    """Wait until grain's reader threads are gone: a closed iterator's thread finishes its batch in flight, which
    would otherwise steal the CPU from the next row (grain's process-wide shared-memory cleanup pool stays)."""
    deadline = time.monotonic() + timeout_s
    while any(t.name.startswith("grain") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)


def timed(iterator, batches: int, warmup: int = 1) -> Window:
    """time_batches, then close the iterator and wait for its reader threads."""
    try:
        return time_batches(iterator, batches, warmup)
    finally:
        iterator.close()
        wait_for_readers()


def input_row(name: str, cfg: ml_collections.ConfigDict, batch: int, batches: int) -> dict:
    """One source at one batch size: host batches ready to cross (the device boundary), and put on the device."""
    dataset = build_dataset(cfg, seed=0)
    warmup = max(1, cfg.num_workers)
    host = timed(dataset.batches(batch), batches, warmup)
    device = timed(prefetch_to_device(dataset.batches(batch), size=2), batches, warmup)
    images = batch * batches
    bytes_per_image = int(np.prod(dataset.example_shape)) * (1 if dataset.uint8 else 4)
    per = lambda seconds: None if seconds is None else images / max(seconds, 1e-9)
    return {"kind": "input", "source": name, "shape": list(dataset.example_shape), "batch": batch,
            "workers": cfg.num_workers, "dtype": "uint8" if dataset.uint8 else "float32", "batches": batches,
            "host_images_per_s": per(host.seconds), "mb_per_s": per(host.seconds) * bytes_per_image / 1e6,
            "device_images_per_s": per(device.seconds),
            # device rate per CPU-second of this process and its workers (all threads): what a shared, loaded
            # machine would give if the run had the cores to itself and kept them all busy
            "images_per_cpu_s": per(device.cpu_seconds),
            # host rate if each of the run's processes had a core to itself: the quiet-machine figure, on as many
            # cores as busy processes, when no process waits on another
            "host_cpu_bound_images_per_s": per(host.busiest_cpu_seconds),
            "host_cpu_wait_fraction": None if host.cpu_seconds is None
            else host.wait_seconds / max(host.cpu_seconds + host.wait_seconds, 1e-9),
            "load_1min": os.getloadavg()[0]}


# Images timed per row of a decoding source: enough batches for worker processes to reach their steady state.
SLOW_IMAGES = 12288  # ~2.5-6 s of JPEG decoding per row: a scheduling hiccup does not decide the ratio


# 2 workers' host images/s over 0 workers' that the JPEG folder must reach on 2 cores.
SPEEDUP_TARGET = 1.7
# host_cpu_wait_fraction above which a row was timed on a busy machine.
QUIET_WAIT_FRACTION = 0.05


def worker_speedup(rows: list[dict], batch: int) -> dict | None:
    """The JPEG folder's 2-worker over 0-worker host images/s at `batch` (None unless both rows ran)."""
    pair = {r["workers"]: r for r in rows if r["kind"] == "input" and r["batch"] == batch
            and r["source"].startswith("jpeg_folder")}
    if set(pair) != {0, 2}:
        return None
    speedup = pair[2]["host_images_per_s"] / pair[0]["host_images_per_s"]
    waits = [pair[w]["host_cpu_wait_fraction"] for w in (0, 2)]
    bound = [pair[w]["host_cpu_bound_images_per_s"] for w in (0, 2)]
    row = {"kind": "input_speedup", "source": "jpeg_folder", "batch": batch, "jpeg_2_workers_speedup": speedup,
           "target": SPEEDUP_TARGET, "met": speedup >= SPEEDUP_TARGET,
           "jpeg_2_workers_cpu_bound_speedup": None if None in bound else bound[1] / bound[0],
           "host_cpu_wait_fraction": None if None in waits else max(waits), "load_1min": os.getloadavg()[0]}
    if row["host_cpu_wait_fraction"] and row["host_cpu_wait_fraction"] > QUIET_WAIT_FRACTION:
        row["note"] = (f"other programs held the CPU for {row['host_cpu_wait_fraction']:.0%} of the rows' runnable "
                       "time: not the quiet-machine figure; rerun on a quiet machine")
    return row


def bench_input(batch_sizes: list[int], quick: bool, tmp: Path, emit: Callable[[dict], None],
                only: list[str] | None = None) -> list[dict]:
    """The input rows: every source (or those in `only`) at each batch size, then the JPEG folder's speedup."""
    rows = []
    sources = make_sources(tmp, quick)
    for batch in batch_sizes:
        for name, (cfg, context) in sources.items():
            if only and name not in only:
                continue
            slow = name.startswith(("jpeg", "tfds"))
            batches = (1 if quick else max(4, SLOW_IMAGES // batch)) if slow else (3 if quick else 50)
            with context():
                rows.append(input_row(name, cfg, batch, batches))
            emit(rows[-1])
        speedup = worker_speedup(rows, batch)
        if speedup is not None:
            rows.append(speedup)
            emit(speedup)
    return rows


def bench_end_to_end(config: ml_collections.ConfigDict, prepared_path: Path, steps: int) -> dict:
    """DCGAN steps/s fed from a prepared dataset through the trainer's runner, and fed one on-device batch.

    The two runners alternate step by step, each step waited for, so the prepared one gets no overlap of its host
    reading with the device (a conservative figure) and a shared machine's load weighs on both alike.
    """
    from jaxgan.objectives.gan_task import make_step_runner
    from jaxgan.run.dispatch import StepRunner

    config = config.copy_and_resolve_references()
    config.data = data_config(name="prepared", path=str(prepared_path))
    dataset = build_dataset(config.data, seed=0)
    gan = build_gan(config, dataset.example_shape)
    mesh = data_mesh(jax.local_devices()[:1])
    runner = make_step_runner(config, gan, mesh, dataset, start_batch=0)
    device_batch = jax.device_put(next(dataset.batches(config.train.batch_size)))
    synthetic = StepRunner(runner.programs, itertools.repeat(jax.tree.map(lambda x: x[None], device_batch)))
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
