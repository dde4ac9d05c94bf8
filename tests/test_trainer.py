"""The trainer's evaluation hook, best-checkpoint tracking, schedule arithmetic and its new config checks."""

import json

import jax
import pytest

from jaxgan.config import base_config, validate
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.loop import due, select_devices
from jaxgan.run.resume import trim_metrics
from jaxgan.run.train import train_and_evaluate


def ring_config(**train):
    """A tiny MLP on the 2-D ring: the cheapest model the trainer runs."""
    c = base_config()
    c.data.name = "ring8"
    c.model.z_dim = 4
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (8,)
    c.model.output_activation = "linear"
    c.train.update(dict(batch_size=8, num_steps=6, checkpoint_every=100, log_every=100, sample_every=100,
                        num_samples=16, progress=False, num_devices=1))
    c.train.update(train)
    return c


def test_eval_hook_runs_on_schedule_and_the_best_checkpoint_is_kept(tmp_path):
    scores = {2: 3.0, 4: 1.0, 6: 2.0}
    calls = []

    def eval_fn(state, step):
        calls.append((step, int(state.step)))
        return {"eval/score": scores[step], "eval/other": -1.0}

    config = ring_config(eval_every=2, keep_checkpoints=1, best_metric="eval/score", best_mode="min")
    train_and_evaluate(config, tmp_path, eval_fn=eval_fn)
    assert calls == [(2, 2), (4, 4), (6, 6)]  # the state evaluated is the state after that step
    with Checkpointer(tmp_path / "checkpoints", best_metric="eval/score", read_only=True) as ckpt:
        assert ckpt.all_steps() == [4, 6]  # the last one and the best one (every evaluation saves)
        assert ckpt.best_step() == 4
        assert ckpt.metrics(4)["eval/score"] == 1.0
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["eval/score"]) for r in rows if "eval/score" in r] == sorted(scores.items())


def test_due_counts_multiples_crossed_by_a_call():
    assert [s for s in range(1, 11) if due(s - 1, s, 4)] == [4, 8]
    assert due(3, 7, 4) and not due(4, 7, 4)  # a call running steps 4..7 (K = 4) crosses 4 once
    assert not due(0, 10, 0)  # 0 = never


def test_trim_metrics_drops_rows_a_resumed_run_recomputes(tmp_path):
    rows = [{"step": s, "Loss/D": 1.0} for s in (1, 2, 3, 4)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    trim_metrics(tmp_path, 2)
    assert [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2]


def test_select_devices():
    assert select_devices(0) == jax.devices()
    assert select_devices(1) == jax.devices()[:1]
    with pytest.raises(ValueError, match="train.num_devices=99"):
        select_devices(99)


@pytest.mark.parametrize("key, value, message", [
    ("best_mode", "lowest", "train.best_mode"),
    ("eval_every", -1, "train.eval_every must be >= 0"),
    ("num_devices", -2, "train.num_devices must be >= 0"),
    ("best_metric", "eval/fid", "train.eval_every=0 never evaluates"),
])
def test_bad_checkpointing_keys_are_named(key, value, message):
    config = base_config()
    config.train[key] = value
    with pytest.raises(ValueError, match=message):
        validate(config)


@pytest.mark.parametrize("grad_norms", [True, False])
def test_train_grad_norms_decides_whether_runs_log_gradient_norms(tmp_path, grad_norms):
    train_and_evaluate(ring_config(log_every=3, grad_norms=grad_norms), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6] and all("Loss/G" in r for r in rows)
    assert all(("Grad/D_norm" in r and "Grad/G_norm" in r) == grad_norms for r in rows)
