"""Transfer learning (train.init_from): a new run starts from another run's G, D and EMA weights, with fresh
optimizer states and step 0; a resumed run ignores it; networks of other shapes are named."""

import json
import logging

import jax
import numpy as np
import pytest

from jaxgan.config import base_config
from jaxgan.engine.sharding import data_mesh
from jaxgan.objectives.gan_task import build_gan_task, generate_samples
from jaxgan.run.runs import load_run
from jaxgan.run.train import train_and_evaluate
from jaxgan.run.transfer import TransferMismatchError


def small_config(**train):
    """A tiny MLP on 8x8 digits whose D keeps a collection (spectral norm's power-iteration vectors), with an EMA
    that differs from G."""
    c = base_config()
    c.model.z_dim, c.model.spectral_norm = 8, True
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.data.image_size, c.ema.decay = 8, 0.5
    c.train.update(dict(batch_size=8, num_steps=2, checkpoint_every=100, log_every=1, sample_every=100,
                        num_samples=4, progress=False, num_devices=1))
    c.train.update(train)
    return c


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A trained source run: (workdir, its final state)."""
    workdir = tmp_path_factory.mktemp("source")
    train_and_evaluate(small_config(), workdir)
    return workdir, load_run(workdir)[2]


def fresh_and_transferred(config):
    task = build_gan_task(config)
    fresh = task.initializer(data_mesh(jax.devices()[:1]))()
    return task, fresh, task.init_from(fresh, config.train.init_from)


def assert_trees_equal(a, b):
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(a), jax.device_get(b))


def test_a_new_run_starts_from_the_sources_networks_with_fresh_optimizer_states(source, tmp_path):
    workdir, trained = source
    config = small_config(init_from=str(workdir / "checkpoints" / "2"))
    config.seed = 7  # the new run's own init differs from the source's
    task, fresh, state = fresh_and_transferred(config)
    for name in ("G", "D"):
        assert_trees_equal(state.nets[name].params, trained.nets[name].params)
        assert_trees_equal(state.nets[name].collections, trained.nets[name].collections)
        assert_trees_equal(state.nets[name].opt_state, fresh.nets[name].opt_state)  # Adam's moments: new
    assert_trees_equal(state.ema["G"], trained.ema["G"])
    assert int(state.step) == 0 and int(trained.step) == 2 and jax.tree.leaves(trained.nets["D"].collections)
    # its first samples (before any step) are the source's for the same z: G_ema with standing BatchNorm stats
    key = jax.random.key(3)
    ours = generate_samples(task.gan, state.replace(step=trained.step, rng=trained.rng), key, 6)
    np.testing.assert_allclose(ours, generate_samples(task.gan, trained, key, 6), rtol=1e-5, atol=1e-6)


def test_the_trainer_applies_it_to_a_new_run_and_ignores_it_on_resume(source, tmp_path, caplog):
    workdir, trained = source
    config = small_config(init_from=str(workdir), num_steps=1)
    config.seed = 7
    train_and_evaluate(config, tmp_path / "new")
    rows = [json.loads(line) for line in (tmp_path / "new" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1]
    _, _, state, _ = load_run(tmp_path / "new")
    assert int(state.step) == 1
    # one Adam step moves each weight by about lr (2e-4); a fresh init of seed 7 lies ~0.1 away
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-3), jax.device_get(state.nets["D"].params),
                 jax.device_get(trained.nets["D"].params))
    config.train.num_steps = 2
    with caplog.at_level(logging.WARNING):
        train_and_evaluate(config, tmp_path / "new")
    assert "train.init_from" in caplog.text and "ignored" in caplog.text


def test_networks_of_another_shape_are_named_with_both_shapes(source, tmp_path):
    workdir, _ = source
    config = small_config(init_from=str(workdir))
    config.model.mlp.d_hidden = (24,)
    with pytest.raises(TransferMismatchError, match=r"nets\.D\.params\..*kernel: source \(64, 16\) float32, "
                                                    r"this run \(64, 24\) float32"):
        fresh_and_transferred(config)
