"""A run saved by jaxgan before objectives (state `g`, `d`, `g_ema_params`) is named by the loaders and converted by
`jaxgan upgrade-run`, after which it samples and resumes. tests/data/pre_objectives_run was written by that older
jaxgan: `jaxgan train --config mlp_ring8` with the overrides of `OVERRIDES`, 4 steps, checkpoints at 2 and 4."""

import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import load_tool

from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.runs import load_generator, load_run
from jaxgan.run.state_layout import CheckpointMismatchError

OLD_RUN = Path(__file__).parent / "data" / "pre_objectives_run"
OVERRIDES = ["--config.model.mlp.g_hidden=(8,)", "--config.model.mlp.d_hidden=(8,)", "--config.train.batch_size=16",
             "--config.train.checkpoint_every=2", "--config.train.eval_every=0", "--config.train.best_metric=",
             "--config.train.progress=False", "--config.train.async_checkpoint=False",
             "--config.train.writers=('jsonl',)"]


@pytest.fixture
def old_run(tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(OLD_RUN, workdir)
    return workdir


def old_arrays(directory: Path, step: int) -> dict:
    with Checkpointer(directory, read_only=True) as ckpt:
        return jax.device_get(ckpt.read_arrays(step))


def test_the_loaders_name_the_upgrade_command(old_run):
    with pytest.raises(CheckpointMismatchError, match=f"jaxgan upgrade-run --workdir {old_run}"):
        load_generator(old_run)
    with pytest.raises(CheckpointMismatchError, match="layout of an older jaxgan"):
        load_run(old_run)


def test_upgrade_keeps_every_array_and_the_old_folder_and_the_run_resumes(old_run):
    before = old_arrays(old_run / "checkpoints", 4)
    assert load_tool("upgrade_run").main(["--workdir", str(old_run)]) == 0
    assert sorted(p.name for p in (old_run / "checkpoints.pre-objectives").iterdir() if p.name.isdigit()) == ["2", "4"]
    config, _, state, _ = load_run(old_run)
    assert int(state.step) == 4 and config.objective == "gan"
    for new, old in ((state.nets["G"].params, before["g"]["params"]), (state.nets["D"].params, before["d"]["params"]),
                     (state.ema["G"], before["g_ema_params"]), (state.nets["D"].opt_state, before["d"]["opt_state"])):
        for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(old), strict=True):
            np.testing.assert_array_equal(a, b)
    assert load_tool("verify").main(["--workdir", str(old_run)]) == 0  # fresh checksums match the arrays
    load_tool("train").main(["--config", "mlp_ring8", "--workdir", str(old_run), "--config.train.num_steps=6",
                             *OVERRIDES])
    assert int(load_run(old_run)[2].step) == 6  # resumed from step 4, not restarted


def test_a_second_upgrade_refuses_and_changes_nothing(old_run):
    tool = load_tool("upgrade_run")
    tool.main(["--workdir", str(old_run)])
    with pytest.raises(Exception, match="upgraded before"):
        tool.main(["--workdir", str(old_run)])
    assert (old_run / "checkpoints" / "4").is_dir()
