"""The grain pipeline (workers, resume), the device-side decode (uint8 scaling, flip) and the trainer on 8 devices."""

import itertools
import os
import signal
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan.config import base_config
from jaxgan.data import build_dataset, decode_batch, default_config, with_decoded_batch
from jaxgan.data.device import FLIP_STREAM
from jaxgan.engine.sharding import batch_sharding, data_mesh, replicated
from jaxgan.run.dispatch import MAX_IN_FLIGHT, InFlight
from jaxgan.run.train import train_and_evaluate


def take(iterator, count):
    return list(itertools.islice(iterator, count))


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory):
    """12 labelled 6x6 RGB PNGs in 3 class folders."""
    root = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(0)
    for i in range(12):
        path = root / f"class{i % 3}" / f"{i:02d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(path)
    return root


def folder_dataset(root, num_workers, **overrides):
    cfg = default_config()
    cfg.update(name="folder", path=str(root), num_workers=num_workers, image_size=4, center_crop=True, **overrides)
    return build_dataset(cfg, seed=3)


def worker_pids() -> set[int]:
    """The process ids of this process's children (grain's workers and multiprocessing's resource tracker)."""
    import psutil

    return {child.pid for child in psutil.Process().children()}


def test_workers_give_the_same_batches_in_the_same_order_across_epochs_and_resume(png_folder):
    in_process = take(folder_dataset(png_folder, 0).batches(4), 7)
    workers = folder_dataset(png_folder, 2).batches(4, start_batch=1)  # one pool: worker start-up is slow
    try:
        first = next(workers)
        processes = worker_pids()
        read = [first, *take(workers, 5)]  # batches 1..6 of 3 per epoch: two epoch boundaries
        assert worker_pids() == processes and len(processes) >= 2  # the same workers read every epoch
        for a, b in zip(in_process[1:], read, strict=True):
            assert a["x"].dtype == np.uint8 and a["x"].shape == (4, 4, 4, 3)
            np.testing.assert_array_equal(a["x"], b["x"])
            np.testing.assert_array_equal(a["label"], b["label"])
    finally:
        workers.close()
    resumed = take(folder_dataset(png_folder, 0).batches(4, start_batch=4), 3)
    for a, b in zip(in_process[4:], resumed, strict=True):
        np.testing.assert_array_equal(a["x"], b["x"])


def test_truncated_image_is_named_when_read_by_a_worker(png_folder, tmp_path):
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(png_folder, root)
    data = (root / "class0" / "00.png").read_bytes()
    (root / "class0" / "00.png").write_bytes(data[: len(data) // 2])
    stream = folder_dataset(root, 0).batches(12)
    with pytest.raises(ValueError, match=r"cannot decode image .*class0/00.png.*jaxgan prepare"):
        next(stream)


def test_device_decode_equals_the_host_reference():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (2, 8, 5, 4, 3), dtype=np.uint8)  # (n_disc, B, H, W, C)
    key = jax.random.PRNGKey(7)
    decoded = jax.jit(lambda b, k: decode_batch(b, k, flip=True))({"x": pixels, "label": np.arange(8)}, key)
    flips = np.asarray(jax.random.bernoulli(key, 0.5, (2, 8)))
    unit = ((pixels.astype(np.float64) - 127.5) / 127.5).astype(np.float32)  # correctly rounded
    expected = np.where(flips[..., None, None, None], unit[..., ::-1, :], unit)
    ulp = 1.2e-7  # XLA may turn the division into a multiplication by the reciprocal: one rounding more
    np.testing.assert_allclose(np.asarray(decoded["x"]), expected, atol=ulp, rtol=0)
    assert 0 < flips.sum() < flips.size and decoded["x"].dtype == jnp.float32
    plain = jax.jit(decode_batch)({"x": pixels})
    np.testing.assert_allclose(np.asarray(plain["x"]), unit, atol=ulp, rtol=0)
    assert plain["x"].min() >= -1.0 and plain["x"].max() <= 1.0
    points = np.linspace(-3, 3, 8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_array_equal(np.asarray(decode_batch({"x": points})["x"]), points)  # float passes through


def test_flip_is_keyed_by_the_step_and_equal_on_8_devices():
    class Fields(NamedTuple):  # the two fields of the train state the wrapper reads
        rng: jax.Array
        step: jax.Array

    State = lambda step: Fields(jax.random.PRNGKey(1), jnp.int32(step))

    seen = with_decoded_batch(lambda state, batch: batch["x"], flip=True)
    pixels = np.random.default_rng(1).integers(0, 256, (1, 16, 3, 3, 1), dtype=np.uint8)
    mesh = data_mesh()
    sharded = jax.jit(seen, in_shardings=(None, batch_sharding(mesh)), out_shardings=replicated(mesh))
    one = np.asarray(jax.jit(seen)(State(5), {"x": pixels}))
    eight = np.asarray(sharded(State(5), {"x": pixels}))
    np.testing.assert_array_equal(one, eight)
    key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(1), 5), FLIP_STREAM)
    reference = jax.jit(lambda b: decode_batch(b, key, flip=True))({"x": pixels})["x"]
    np.testing.assert_array_equal(one, np.asarray(reference))
    assert not np.array_equal(one, np.asarray(jax.jit(seen)(State(6), {"x": pixels})))


def test_flip_of_points_is_refused():
    cfg = default_config()
    cfg.update(name="ring8", random_flip=True)
    with pytest.raises(ValueError, match="data.random_flip=True flips images"):
        build_dataset(cfg, seed=0)


def test_in_flight_waits_for_the_oldest_dispatch():
    window = InFlight(limit=2)
    outputs = [jnp.ones(3) * i for i in range(3)]
    for out in outputs:
        window.admit()
        window.add(out)
    assert len(window._pending) == 2 and MAX_IN_FLIGHT == 2


def mlp_config(**data):
    c = base_config()
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.model.z_dim = 8
    c.train.update(dict(batch_size=16, num_steps=300, checkpoint_every=300, log_every=1000, sample_every=1000,
                        num_samples=4, progress=False, eval_every=0))
    c.data.update(data)
    return c


def test_trainer_on_8_devices_does_not_abort(tmp_path):
    """Issue 18: the trainer on 8 forced CPU devices, prefetch included, with steps queued between flushes.

    Unbounded dispatch of the sharded step deadlocked XLA:CPU's all-reduce (the process aborts, exit 134), so a
    failure here kills pytest; three runs of 300 steps each queue far more than the devices' in-flight limit.
    """
    assert jax.device_count() == 8
    for run in range(3):
        state = train_and_evaluate(mlp_config(), tmp_path / f"run{run}", eval_fn=lambda s, step: {})
        assert int(state.step) == 300


def test_resume_with_workers_is_bit_exact(png_folder, tmp_path):
    """2N steps straight == N, SIGTERM, N more, reading the folder in 2 grain worker processes, flip on."""
    data = dict(name="folder", path=str(png_folder), num_workers=2, image_size=4, random_flip=True)
    config = mlp_config(**data)
    config.train.update(num_steps=6, checkpoint_every=6, log_every=1, batch_size=4, num_devices=1)

    def stop_at_3(state, step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return {}

    config.train.eval_every = 3
    in_process = config.copy_and_resolve_references()
    in_process.data.num_workers = 0  # also: 0 workers == 2 workers through the whole trainer
    straight = jax.device_get(train_and_evaluate(in_process, tmp_path / "straight", eval_fn=lambda s, step: {}))
    stopped = jax.device_get(train_and_evaluate(config, tmp_path / "resumed", eval_fn=stop_at_3))
    assert int(stopped.step) == 3
    resumed = jax.device_get(train_and_evaluate(config, tmp_path / "resumed", eval_fn=lambda s, step: {}))
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
