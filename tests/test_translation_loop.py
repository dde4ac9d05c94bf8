"""pix2pix and CycleGAN on the shared loop: a stopped and resumed run equals a straight one bit for bit, 8 devices
compute what 1 does, and K steps per dispatch what K single steps do. Networks are tiny (8x8, width 4)."""

import jax
import numpy as np
import pytest
from test_resume import assert_trees_equal, metric_rows, no_eval, stop_at

from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.train import train_and_evaluate
from jaxgan.translation.config import base_config
from jaxgan.translation.synthetic import write_discs_and_squares, write_inversion_pairs

N = 2  # steps before the stop; resume runs are configured for 2N


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("translation_data")
    return {"pix2pix": write_inversion_pairs(tmp / "pairs", {"train": 24, "test": 2}, size=8),
            "cyclegan": write_discs_and_squares(tmp / "unpaired", {"train": (20, 16), "test": (2, 2)}, size=8)}


def tiny_config(task, root, **train):
    """pix2pix (U-Net with BatchNorm and dropout) or CycleGAN (instance norm, a 2-image pool that fills at once)."""
    c = base_config(task)
    c.data.update({"source": "folder", "path": str(root), "crop_size": 8, "load_size": 9, "num_eval": 2})
    c.model.update({"ngf": 4, "ndf": 4, "n_blocks": 1, "d_layers": 1, "num_downs": 2})
    if task == "cyclegan":
        c.pool_size = 2
    c.train.update({"batch_size": 8, "num_steps": 2 * N, "log_every": 1, "eval_every": N, "sample_every": 1000,
                    "checkpoint_every": 2 * N, "progress": False, "async_checkpoint": False})
    c.train.update(train)
    return c


@pytest.mark.parametrize("task", ["pix2pix", "cyclegan"])
def test_sigterm_stop_and_resume_is_bit_identical_to_a_straight_run(data, tmp_path, task):
    config = tiny_config(task, data[task])
    stopped = train_and_evaluate(config, tmp_path / "run", eval_fn=stop_at(N))
    assert int(stopped.step) == N  # the SIGTERM stopped the run after step N, with a checkpoint
    with Checkpointer(tmp_path / "run" / "checkpoints", read_only=True) as ckpt:
        assert ckpt.all_steps() == [N]
        assert ckpt.read_meta(N)["data_batches"] == N
    resumed = jax.device_get(train_and_evaluate(config, tmp_path / "run", eval_fn=no_eval))
    straight = jax.device_get(train_and_evaluate(config, tmp_path / "straight", eval_fn=no_eval))
    assert int(resumed.step) == 2 * N
    assert_trees_equal(resumed, straight)  # params, BatchNorm stats, Adam moments, pools, RNG key
    assert metric_rows(tmp_path / "run") == metric_rows(tmp_path / "straight")


def with_batch_norm(config):
    config.model.norm = "batch"
    return config


def run_variants(config_of, tmp_path, runs):
    """Train each variant of `runs` (name -> train overrides) for 3 steps; (devices of the state, state, rows)."""
    out = {}
    for name, train in runs.items():
        state = train_and_evaluate(config_of(num_steps=3, eval_every=0, **train), tmp_path / name)
        out[name] = (len(state.step.sharding.device_set), jax.device_get(state), metric_rows(tmp_path / name))
    return out.values()


def assert_close_runs(a, b, rtol, atol):
    """Same params, optimizer moments and pools, and the same metrics at every step `b` logged."""
    for x, y in zip(jax.tree.leaves(a[0]), jax.tree.leaves(b[0]), strict=True):
        np.testing.assert_allclose(y, x, rtol=rtol, atol=atol)
    for step, row in b[1].items():
        for key, value in row.items():
            np.testing.assert_allclose(value, a[1][step][key], rtol=rtol, atol=atol, err_msg=f"step {step} {key}")


@pytest.mark.parametrize("task", ["pix2pix", "cyclegan"])
def test_eight_devices_equal_one_device(data, tmp_path, task):
    """Global-batch BatchNorm statistics, pix2pix's dropout and CycleGAN's pool (its unmerged, BatchNorm path) on a
    batch split over 8 devices. BatchNorm nets, because the instance-norm nets' conv biases have an exact gradient
    of 0, whose float noise Adam scales up to lr: such params differ by ~lr between any two reduction orders. Adam
    does the same, less, to small gradients (measured: CycleGAN, 6 of 288 kernel entries off by up to 5.6e-5 after
    3 steps at lr 2e-4), hence atol 1e-4; other data or another pool draw moves the losses by far more."""
    assert jax.device_count() >= 8  # conftest forces 8 CPU devices
    config_of = lambda **train: with_batch_norm(tiny_config(task, data[task], **train))
    (one_devices, *one), (eight_devices, *eight) = run_variants(config_of, tmp_path, {
        "one": dict(num_devices=1), "eight": dict(num_devices=8)})
    assert (one_devices, eight_devices) == (1, 8)  # the state really lived on the 8-device mesh
    assert int(eight[0].step) == 3 and one[1].keys() == eight[1].keys() == {1, 2, 3}
    assert_close_runs(one, eight, rtol=2e-4, atol=1e-4)  # float sums reduce in another order on 8 devices


def test_k_steps_per_dispatch_equal_single_steps(data, tmp_path):
    """K = 2 over 3 steps: one 2-step dispatch (a scan, unrolled on the CPU), then a single step."""
    config_of = lambda **train: tiny_config("pix2pix", data["pix2pix"], **train)
    (_, *single), (_, *k2) = run_variants(config_of, tmp_path, {"one": {}, "k2": dict(steps_per_dispatch=2)})
    assert int(k2[0].step) == 3
    # Every step is logged with log_every = 1; a K-step dispatch writes its last step's row (all K are NaN-checked).
    assert single[1].keys() == {1, 2, 3} and k2[1].keys() == {2, 3}
    assert_close_runs(single, k2, rtol=1e-5, atol=1e-6)
