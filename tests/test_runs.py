"""Run loading (`jaxgan.run.runs`): a GAN run's whole state, and runs saved with the old flat `model.*` keys."""

import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxgan.config import base_config
from jaxgan.engine.state import create_state
from jaxgan.models import RENAMED_KEYS
from jaxgan.objectives.factory import build_gan, initial_state_aux
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.run_info import run_meta
from jaxgan.run.runs import config_from_json, load_generator, load_run, move_renamed_keys
from jaxgan.run.state_layout import CheckpointMismatchError
from jaxgan.sampling.generate import generator_variables

SHAPE = (8, 8, 1)


def small_config(model):
    c = base_config()
    c.model.name, c.model.z_dim = model, 4
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (12,)  # not the defaults: a lost key would change the shapes
    c.model.dcgan.ngf = c.model.dcgan.ndf = 4
    c.data.image_size = SHAPE[0]
    c.ema.decay = 0.9
    return c


def flat_model_keys(stored: dict) -> dict:
    """The stored config as runs saved it before the architecture sub-blocks: model.mlp.g_hidden -> model.g_hidden."""
    model = dict(stored["model"])
    for old, new in RENAMED_KEYS.items():
        block, leaf = new.split(".")[1:]
        model[old.split(".")[1]] = model[block][leaf]
    for block in ("mlp", "dcgan", "resnet"):
        del model[block]
    return {**stored, "model": model}


def save_run(workdir, config, meta_config=None):
    """Save a fresh state of `config` at step 3, with `meta_config` (default: the config's JSON) as its record."""
    gan = build_gan(config, SHAPE)
    state = create_state(gan, SHAPE, 1, ema=True, aux=initial_state_aux(config))
    meta = run_meta(config, 3, 6, SHAPE, None)
    if meta_config is not None:
        meta["config"] = meta_config
    with Checkpointer(workdir / "checkpoints", async_save=False) as ckpt:
        ckpt.save(3, state, meta)
    return state


def test_load_run_restores_every_array_and_the_config(tmp_path):
    config = small_config("mlp")
    state = save_run(tmp_path, config)
    loaded_config, gan, loaded, meta = load_run(tmp_path)
    assert loaded_config.to_dict() == config.to_dict() and meta["data_batches"] == 6 and gan.z_dim == 4
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(loaded), jax.device_get(state))


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_a_run_saved_with_the_old_flat_model_keys_still_loads(tmp_path, model):
    config = small_config(model)
    stored = flat_model_keys(run_meta(config, 3, 6, SHAPE, None)["config"])
    assert stored["model"]["g_hidden"] == [12] and "dcgan" not in stored["model"]  # the old layout
    state = save_run(tmp_path, config, meta_config=stored)
    assert config_from_json(stored).to_dict() == config.to_dict()  # every old key read at its new place
    gan, variables, loaded_config = load_generator(tmp_path)
    assert loaded_config.to_dict() == config.to_dict()
    jax.tree.map(np.testing.assert_array_equal, variables, jax.device_get(generator_variables(state, gan)))
    _, _, restored, _ = load_run(tmp_path)
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(restored), jax.device_get(state))


def test_moving_renamed_keys_keeps_the_new_spelling_when_both_are_stored():
    stored = {"model": {"ngf": 8, "dcgan": {"ngf": 16}, "name": "dcgan"}, "seed": 1}
    assert move_renamed_keys(stored) == {"model": {"dcgan": {"ngf": 16}, "name": "dcgan"}, "seed": 1}
    assert stored["model"]["ngf"] == 8  # the input is not modified


def test_a_checkpoint_of_another_config_names_the_fix(tmp_path):
    save_run(tmp_path, small_config("mlp"))
    other = small_config("mlp")
    other.model.mlp.g_hidden = (16,)
    gan = build_gan(other, SHAPE)
    abstract = jax.eval_shape(lambda: create_state(gan, SHAPE, 0, ema=True))
    with pytest.raises(CheckpointMismatchError, match="Restore it with the config it was saved with"), \
            Checkpointer(tmp_path / "checkpoints", read_only=True) as ckpt:
        ckpt.restore(abstract, 3)


def test_checkpoint_is_a_plain_orbax_wrapper():
    """Importing jaxgan.run.checkpoint loads no config, model, state or GAN module: those live in jaxgan.run.runs."""
    code = "import sys, jaxgan.run.checkpoint; print(sorted(m for m in sys.modules if m.startswith('jaxgan')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["jaxgan", "jaxgan.errors", "jaxgan.run", "jaxgan.run.checkpoint",
                         "jaxgan.run.checkpoint_noise", "jaxgan.run.checksums", "jaxgan.run.state_layout"]
