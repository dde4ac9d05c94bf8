"""Scores tied to checkpoints: eval rows and eval.json name the step and checkpoint they scored; `--step N|latest|
best` picks one, and a step that does not exist is refused with the steps that do."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import load_tool

from jaxgan.config import base_config
from jaxgan.errors import JaxganError
from jaxgan.run.runs import load_generator_checkpoint
from jaxgan.run.train import train_and_evaluate

SCORES = {2: 3.0, 4: 1.0, 6: 2.0}  # the best (lowest) is step 4, the latest step 6
ROOT = Path(__file__).resolve().parents[1]


def digits_config(**train):
    c = base_config()
    c.model.z_dim = 8
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.data.image_size = 8
    c.train.update(dict(batch_size=8, num_steps=6, checkpoint_every=100, log_every=100, sample_every=100,
                        num_samples=4, progress=False, num_devices=1, eval_every=2, keep_checkpoints=1,
                        best_metric="eval/score"))
    c.train.update(train)
    return c


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run scored SCORES at steps 2, 4, 6 that keeps its last and its best checkpoint (4 and 6)."""
    workdir = tmp_path_factory.mktemp("scored")
    train_and_evaluate(digits_config(), workdir, eval_fn=lambda state, step: {"eval/score": SCORES[step]})
    return workdir


def test_every_eval_row_names_the_checkpoint_saved_at_its_step(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scored = {r["step"]: r for r in rows if "eval/score" in r}
    assert sorted(scored) == [2, 4, 6]
    for step, row in scored.items():  # relative to the workdir
        assert row["checkpoint"] == f"checkpoints/{step}" and row["eval/score"] == SCORES[step]
    assert all((run / scored[s]["checkpoint"]).is_dir() for s in (4, 6))  # the kept ones


@pytest.mark.parametrize("step, expected", [(None, 6), ("latest", 6), ("best", 4), (4, 4)])
def test_step_names_pick_the_checkpoint(run, step, expected):
    loaded = load_generator_checkpoint(run, step)
    assert loaded.step == expected and loaded.checkpoint == run / "checkpoints" / str(expected)


def test_a_missing_step_lists_the_steps_there_are(run, tmp_path):
    with pytest.raises(JaxganError, match=r"no checkpoint at step 5; its steps are \[4, 6\]"):
        load_generator_checkpoint(run, 5)
    other = tmp_path / "unranked"  # a run without train.best_metric cannot answer `best`
    train_and_evaluate(digits_config(num_steps=1, eval_every=0, best_metric=""), other)
    with pytest.raises(JaxganError, match=r"--step best needs .*train.best_metric.*\[1\]"):
        load_generator_checkpoint(other, "best")


def test_evaluate_writes_the_step_and_checkpoint_it_scored(run, tmp_path):
    reference = tmp_path / "reference.npz"  # another G's samples would do; any images in [-1, 1] are a reference
    np.savez(reference, images=np.random.default_rng(0).uniform(-1, 1, (40, 8, 8, 1)).astype(np.float32))
    evaluate = load_tool("evaluate")
    common = ["--workdir", str(run), "--ref-image-npz", str(reference), "--extractor", "digits", "--metrics", "fid",
              "--num-samples", "20", "--batch-size", "20"]
    result = evaluate.main([*common, "--step", "best", "--classifier", str(tiny_classifier(tmp_path))])
    assert result["step"] == 4 and result["checkpoint"] == str(run / "checkpoints" / "4")
    written = json.loads((run / "eval.json").read_text())
    assert (written["step"], written["checkpoint"]) == (4, result["checkpoint"])


def tiny_classifier(tmp_path):
    """A digit classifier .npz of random weights (evaluate's digits extractor reads any such file)."""
    import jax
    import jax.numpy as jnp

    from jaxgan.metrics.classifier import DigitClassifier, save_classifier

    model = DigitClassifier(widths=(4,), feature_dim=8)
    variables = model.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
    return save_classifier(tmp_path / "classifier.npz", model, variables, image_size=8)


def test_sample_says_which_step_it_read_and_nothing_from_absl_or_orbax(run, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-m", "jaxgan.cli", "sample", "--workdir", str(run), "--out",
                           str(tmp_path / "out"), "--step", "best", "--seeds", "0,1"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [f"step 4: {run / 'checkpoints' / '4'}"]
    assert done.stdout.split() == [str(tmp_path / "out" / f"seed000{s}.png") for s in (0, 1)]
