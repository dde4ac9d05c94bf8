"""Resuming the trainer: bit-identical to an uninterrupted run, across device counts, and safe against other models
and non-finite steps."""

import json
import os
import re
import shutil
import signal

import jax
import numpy as np
import pytest

from jaxgan.config import base_config
from jaxgan.engine.sharding import data_mesh
from jaxgan.objectives.factory import build_gan
from jaxgan.objectives.gan_task import initial_state
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.health import NonFiniteError
from jaxgan.run.state_layout import CheckpointMismatchError
from jaxgan.run.train import train_and_evaluate

N = 3  # steps before the stop; every run is configured for 2N


def tiny_config(model="mlp", **train):
    """A CPU-sized run on 8x8 digits: MLP with n_disc=2, or DCGAN (BatchNorm, Adam) with an EMA of G."""
    c = base_config()
    c.model.name = model
    c.model.z_dim = 8
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.model.dcgan.ngf = c.model.dcgan.ndf = 4
    c.data.image_size = 8
    c.n_disc = 2 if model == "mlp" else 1
    c.ema.decay = 0.9 if model == "dcgan" else 0.0
    c.train.update(dict(batch_size=8, num_steps=2 * N, checkpoint_every=2 * N, log_every=1, sample_every=1000,
                        num_samples=4, progress=False, num_devices=1, eval_every=N))
    c.train.update(train)
    return c


def no_eval(state, step):
    return {}


def stop_at(stop_step):
    """An eval hook that preempts its own process at `stop_step`, as a cluster's SIGTERM would."""

    def eval_fn(state, step):
        if step == stop_step:
            os.kill(os.getpid(), signal.SIGTERM)
        return {}

    return eval_fn


def stopped_run(model, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"stopped_{model}")
    state = train_and_evaluate(tiny_config(model), workdir, eval_fn=stop_at(N))
    return workdir, jax.device_get(state)


@pytest.fixture(scope="module")
def mlp_stopped(tmp_path_factory):
    return stopped_run("mlp", tmp_path_factory)


@pytest.fixture(scope="module")
def dcgan_stopped(tmp_path_factory):
    return stopped_run("dcgan", tmp_path_factory)


def copy_run(workdir, tmp_path):
    return shutil.copytree(workdir, tmp_path / "run")


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def metric_rows(workdir):
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: {k: v for k, v in r.items() if k not in ("time", "images_per_sec")} for r in rows}


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_stop_and_resume_is_bit_identical_to_a_straight_run(request, tmp_path, model):
    stopped_dir, stopped_state = request.getfixturevalue(f"{model}_stopped")
    assert int(stopped_state.step) == N
    with Checkpointer(stopped_dir / "checkpoints", read_only=True) as ckpt:
        assert ckpt.all_steps() == [N]
        assert ckpt.read_meta(N)["data_batches"] == N * tiny_config(model).n_disc

    run = copy_run(stopped_dir, tmp_path)
    resumed = train_and_evaluate(tiny_config(model), run, eval_fn=no_eval)
    straight = train_and_evaluate(tiny_config(model), tmp_path / "straight", eval_fn=no_eval)
    assert int(resumed.step) == 2 * N
    assert_trees_equal(resumed, straight)  # params, BatchNorm stats, Adam moments, EMA, RNG key
    assert metric_rows(run) == metric_rows(tmp_path / "straight")  # same data order and noise, step by step


def test_resuming_another_model_names_the_differing_arrays(mlp_stopped, tmp_path):
    run = copy_run(mlp_stopped[0], tmp_path)
    config = tiny_config()
    config.model.mlp.g_hidden = (32,)
    with pytest.raises(CheckpointMismatchError) as error:
        train_and_evaluate(config, run, eval_fn=no_eval)
    assert "nets.G.params.Dense_0.kernel: checkpoint (8, 16) float32, this model (8, 32) float32" in str(error.value)
    assert "nets.D.params" not in str(error.value)  # only what differs is named


def test_a_non_finite_step_stops_the_run_and_keeps_the_last_checkpoint(mlp_stopped, tmp_path):
    run = copy_run(mlp_stopped[0], tmp_path)
    config = tiny_config(num_steps=N + 6, checkpoint_every=100, eval_every=0)
    config.optim.g.lr = config.optim.d.lr = 1e30
    with pytest.raises(NonFiniteError, match=r"Non-finite values at step \d+ in (D|G)") as error:
        train_and_evaluate(config, run)
    assert int(re.search(r"at step (\d+)", str(error.value)).group(1)) > N
    message = str(error.value)
    first = re.search(r"\(first non-finite: (\S+)\)", message).group(1)  # the first metric that went bad
    assert f"{first}=nan" in message or f"{first}=inf" in message or f"{first}=-inf" in message
    assert first.startswith(("D/", "Loss/D", "Grad/D")) == (" in D" in message)  # D is updated first in a step
    bad_arrays = re.search(r"Non-finite arrays in the state after that step: (\S+)", message).group(1).rstrip(",.")
    assert bad_arrays.startswith(("nets.D.params.", "nets.G.params."))  # params are named before optimizer moments

    with Checkpointer(run / "checkpoints") as ckpt:
        assert ckpt.latest_step() == N
        template = initial_state(config, build_gan(config, (8, 8, 1)), (8, 8, 1), data_mesh(jax.devices()[:1]))
        restored, _ = ckpt.restore(template)
    assert_trees_equal(restored, mlp_stopped[1])
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(restored))


def test_train_num_devices_picks_the_mesh_a_checkpoint_is_restored_onto(mlp_stopped, tmp_path):
    run = copy_run(mlp_stopped[0], tmp_path)  # saved while training on 1 device
    on8 = train_and_evaluate(tiny_config(num_devices=8, num_steps=N), run, eval_fn=no_eval)  # restore only
    assert_trees_equal(on8, mlp_stopped[1])
    assert {leaf.sharding.mesh.size for leaf in jax.tree.leaves(on8)} == {8}
