"""Checkpoints: device-count independence, async saves, retention, mismatch errors, corrupt and partial steps, G-only
restores."""

import functools
import logging
import shutil

import jax
import numpy as np
import pytest
import tensorstore as ts

from jaxgan.config import base_config
from jaxgan.engine.sharding import data_mesh, replicated
from jaxgan.engine.state import create_state
from jaxgan.objectives.factory import build_gan
from jaxgan.run.checkpoint import UNREADABLE_DIR, CheckpointCorruptError, Checkpointer
from jaxgan.run.run_info import run_meta
from jaxgan.run.runs import config_from_json, load_generator, resolve_checkpoint_dir
from jaxgan.run.state_layout import CheckpointMismatchError
from jaxgan.sampling.generate import generator_variables

SHAPE = (8, 8, 1)


def small_config(model="mlp", hidden=16):
    c = base_config()
    c.model.name = model
    c.model.z_dim = 8
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (hidden,)
    c.model.dcgan.ngf = c.model.dcgan.ndf = 4
    c.data.image_size = SHAPE[0]
    return c


@functools.cache
def _initializer(model, hidden, ema, num_devices):
    """One jitted init per layout (the seed is traced), instead of op-by-op init for every state a test needs."""
    gan = build_gan(small_config(model, hidden), SHAPE)
    mesh = data_mesh(jax.devices()[:num_devices])
    return jax.jit(lambda seed: create_state(gan, SHAPE, seed, ema=ema), out_shardings=replicated(mesh))


def make_state(config, ema=False, seed=0, num_devices=1):
    return _initializer(config.model.name, config.model.mlp.g_hidden[0], ema, num_devices)(seed)


def save(ckpt, step, state, config, **kwargs):
    ckpt.save(step, state, run_meta(config, step, 2 * step, SHAPE, None), **kwargs)


def read_steps(directory):
    with Checkpointer(directory, read_only=True) as reader:
        return reader.all_steps()


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("saved_on, restored_on", [(8, 1), (1, 8)])
def test_a_checkpoint_restores_on_another_device_count(tmp_path, saved_on, restored_on):
    config = small_config("dcgan")
    state = make_state(config, ema=True, seed=1, num_devices=saved_on)
    ckpt = Checkpointer(tmp_path)
    save(ckpt, 5, state, config)
    ckpt.wait()
    target = make_state(config, ema=True, seed=2, num_devices=restored_on)  # other values, same layout
    restored, meta = ckpt.restore(target)
    ckpt.close()
    assert_trees_equal(restored, state)
    assert meta["step"] == 5 and meta["data_batches"] == 10
    for leaf in jax.tree.leaves(restored):
        assert leaf.sharding.mesh.size == restored_on


def test_save_returns_before_the_write_and_keeps_the_values_of_save_time(tmp_path):
    config = small_config()
    state = make_state(config)
    expected = jax.device_get(state)
    ckpt = Checkpointer(tmp_path, async_save=True)
    save(ckpt, 1, state, config)
    for leaf in jax.tree.leaves(state):  # what donating the state to the next step does to these buffers
        leaf.delete()
    ckpt.wait()
    restored, _ = ckpt.restore(make_state(config, seed=3))
    ckpt.close()
    assert_trees_equal(restored, expected)


def test_another_model_gives_an_error_naming_the_differing_arrays(tmp_path):
    config = small_config(hidden=16)
    ckpt = Checkpointer(tmp_path)
    save(ckpt, 1, make_state(config), config)
    ckpt.wait()
    with pytest.raises(CheckpointMismatchError) as error:
        ckpt.restore(make_state(small_config(hidden=32)))
    message = str(error.value)
    assert "nets.G.params.Dense_0.kernel: checkpoint (8, 16) float32, this model (8, 32) float32" in message
    assert "nets.D.opt_state.0.mu.Dense_0.bias: checkpoint (16,) float32, this model (32,) float32" in message

    with pytest.raises(CheckpointMismatchError, match="ema.G.Dense_0.kernel: missing from the checkpoint"):
        ckpt.restore(make_state(config, ema=True))

    other_dtype = make_state(config)
    other_dtype = other_dtype.replace(rng=other_dtype.rng.astype(np.int32))
    with pytest.raises(CheckpointMismatchError, match=r"rng: checkpoint \(2,\) uint32, this model \(2,\) int32"):
        ckpt.restore(other_dtype)
    ckpt.close()


def _truncate_data_files(step_dir):
    for path in (step_dir / "state").rglob("*"):
        if path.is_file() and path.parent.name == "d":
            path.write_bytes(path.read_bytes()[:10])


def _delete_state_metadata(step_dir):
    (step_dir / "state" / "_METADATA").unlink()


# A failed tensorstore read can call back into orbax's already-closed event loop; that noise is orbax's, not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("corrupt", [_truncate_data_files, _delete_state_metadata])
def test_an_unreadable_latest_checkpoint_warns_and_falls_back(tmp_path, caplog, corrupt):
    config = small_config()
    states = {step: make_state(config, seed=step) for step in (1, 2, 3)}
    ckpt = Checkpointer(tmp_path, keep=5)
    for step, state in states.items():
        save(ckpt, step, state, config)
    ckpt.close()
    corrupt(tmp_path / "3")

    ckpt = Checkpointer(tmp_path, keep=5, log_path=tmp_path / "logs" / "checkpoint.log", retry_wait_s=0.01)
    with caplog.at_level(logging.WARNING, logger="jaxgan.run.checkpoint"):
        restored, meta = ckpt.restore(make_state(config, seed=9))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("Checkpoint 3 is unreadable (")  # one line, no dump
    assert "\n" not in warnings[0] and len(warnings[0]) < 400
    assert "Traceback" in (tmp_path / "logs" / "checkpoint.log").read_text()  # the details go to the log file
    assert meta["step"] == 2
    assert_trees_equal(restored, states[2])
    assert ckpt.all_steps() == [1, 2, 3]  # nothing moved at restore time
    save(ckpt, 3, restored, config)  # the run reached step 3 again: the unreadable copy is kept aside, not deleted
    ckpt.close()
    assert (tmp_path / UNREADABLE_DIR / "3").is_dir()
    assert read_steps(tmp_path) == [1, 2, 3]


def test_a_save_killed_before_its_commit_is_ignored_and_cleaned_up(tmp_path):
    config = small_config()
    ckpt = Checkpointer(tmp_path)
    for step in (1, 2):
        save(ckpt, step, make_state(config, seed=step), config)
    ckpt.close()
    # What kill -9 during the save of step 4 leaves: orbax's temporary directory, never renamed to "4".
    partial = tmp_path / "4.orbax-checkpoint-tmp"
    shutil.copytree(tmp_path / "2", partial)
    (partial / "commit_success.txt").unlink()
    shutil.rmtree(partial / "meta")

    assert read_steps(tmp_path) == [1, 2] and partial.exists()  # readers (tools/sample.py) leave it alone
    ckpt = Checkpointer(tmp_path)  # the next training start
    assert ckpt.latest_step() == 2
    restored, meta = ckpt.restore(make_state(config, seed=9))
    assert meta["step"] == 2
    assert_trees_equal(restored, make_state(config, seed=2))
    save(ckpt, 3, restored, config)  # orbax finishes deleting leftovers before its first save
    ckpt.close()
    assert not partial.exists()
    assert read_steps(tmp_path) == [1, 2, 3]


@pytest.mark.parametrize("mode, best", [("min", 2), ("max", 5)])
def test_keeps_the_last_k_and_the_best_checkpoint(tmp_path, mode, best):
    config = small_config()
    state = make_state(config)
    scores = {1: 5.0, 2: 1.0, 3: 4.0, 4: None, 5: 6.0, 6: None, 7: 3.0}
    ckpt = Checkpointer(tmp_path, keep=2, best_metric="eval/score", best_mode=mode)
    for step, score in scores.items():
        save(ckpt, step, state, config, metrics=None if score is None else {"eval/score": score})
        ckpt.wait()
    assert ckpt.all_steps() == sorted({best, 6, 7})
    assert ckpt.best_step() == best
    ckpt.close()
    reopened = Checkpointer(tmp_path, keep=2, best_metric="eval/score", best_mode=mode)  # survives a restart
    save(reopened, 8, state, config)
    reopened.close()
    assert read_steps(tmp_path) == sorted({best, 7, 8})


def _delete_arrays(state_dir, prefixes):
    """Delete the array chunks (not the small .zarray headers) of every key starting with `prefixes`."""
    kv = ts.KvStore.open({"driver": "ocdbt", "base": f"file://{state_dir}/"}).result()
    doomed = [k for k in kv.list().result() if k.startswith(prefixes) and not k.endswith(b".zarray")]
    for key in doomed:
        kv.delete_range(ts.KvStore.KeyRange(key, key + b"\x00")).result()
    return doomed


@pytest.mark.parametrize("model, ema", [("dcgan", True), ("mlp", False)])
def test_load_generator_reads_only_generator_arrays(tmp_path, model, ema):
    config = small_config(model)
    state = make_state(config, ema=ema, seed=4)
    ckpt = Checkpointer(tmp_path / "checkpoints")
    save(ckpt, 7, state, config)
    ckpt.close()
    # D's arrays and both optimizer states are gone: a full restore fails, the G-only restore must not notice.
    assert _delete_arrays(tmp_path / "checkpoints" / "7" / "state", (b"nets.D.", b"nets.G.opt_state."))
    with pytest.raises(CheckpointCorruptError), Checkpointer(tmp_path / "checkpoints", read_only=True) as reader:
        reader.restore(make_state(config, ema=ema), step=7)

    gan, variables, loaded = load_generator(tmp_path)
    expected = generator_variables(state, gan)  # the EMA comes with its standing BatchNorm statistics
    assert_trees_equal(variables, jax.device_get(expected))
    assert gan.z_dim == 8 and loaded.model.name == model
    samples = gan.generate(variables, np.zeros((2, 8), np.float32))
    assert samples.shape == (2, *SHAPE)


def test_checkpoint_paths_resolve_from_workdir_folder_or_step(tmp_path):
    (tmp_path / "checkpoints" / "12" / "state").mkdir(parents=True)
    assert resolve_checkpoint_dir(tmp_path) == (tmp_path / "checkpoints", None)
    assert resolve_checkpoint_dir(tmp_path / "checkpoints") == (tmp_path / "checkpoints", None)
    assert resolve_checkpoint_dir(tmp_path / "checkpoints" / "12") == (tmp_path / "checkpoints", 12)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        resolve_checkpoint_dir(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"None of the checkpoints \[12\] .* can be read"):
        load_generator(tmp_path)  # a step folder without orbax's files
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No complete checkpoint"):
        load_generator(tmp_path / "empty")


def test_the_stored_config_round_trips():
    config = small_config("dcgan")
    config.optim.g.lr = 1.0  # JSON writes 1.0 as 1.0, but ints and floats must keep the schema's types
    restored = config_from_json(run_meta(config, 1, 1, SHAPE, None)["config"])
    assert restored.to_dict() == config.to_dict()
    assert isinstance(restored.model.mlp.g_hidden, tuple)
