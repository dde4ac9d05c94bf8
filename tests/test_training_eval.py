"""In-training evaluation from the config's `eval` block: logged on schedule, reproducible from the checkpoint,
ranking the best checkpoint, with cached reference statistics and clear errors for bad settings."""

import json

import numpy as np
import pytest

from jaxgan.checkpoint import Checkpointer, load_generator
from jaxgan.config import base_config, validate
from jaxgan.data import build_dataset
from jaxgan.factory import build_gan
from jaxgan.metrics import evaluator
from jaxgan.metrics.classifier import DigitsExtractor
from jaxgan.metrics.evaluator import evaluate_mixture_samples, evaluate_samples
from jaxgan.metrics.stats import load_reference_stats
from jaxgan.sampling import make_sample_fn
from jaxgan.trainer import train_and_evaluate
from jaxgan.training_eval import TrainingEvaluator, result_keys

IMAGE_KEYS = ["eval/fid", "eval/kid_mean", "eval/kid_std", "eval/is_mean", "eval/is_std", "eval/precision",
              "eval/recall"]


def digits_config(classifier, cache_dir, **train):
    """A small MLP on 8x8 digits evaluated with all image metrics every 3 steps on 2 devices."""
    c = base_config()
    c.data.image_size = 8
    c.model.z_dim = 8
    c.model.g_hidden = c.model.d_hidden = (32,)
    c.train.update(dict(batch_size=16, num_steps=6, eval_every=3, checkpoint_every=100, log_every=100,
                        sample_every=100, num_samples=4, progress=False, num_devices=2, keep_checkpoints=1,
                        best_metric="eval/fid"))
    c.train.update(train)
    c.eval.update(dict(metrics=("fid", "kid", "is", "pr"), num_samples=48, batch_size=16, classifier=str(classifier),
                       cache_dir=str(cache_dir), reference_samples=200, kid_subsets=5, kid_subset_size=24,
                       is_splits=2))
    return c


def logged(workdir):
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if "eval/fid" in r or "eval/modes_captured" in r}


def test_image_metrics_are_logged_reproducible_and_rank_the_best_checkpoint(digit_classifier, tmp_path):
    classifier = digit_classifier[0]
    config = digits_config(classifier, tmp_path / "cache")
    train_and_evaluate(config, tmp_path / "run")
    rows = logged(tmp_path / "run")
    assert sorted(rows) == [3, 6]
    for row in rows.values():
        assert set(IMAGE_KEYS) <= set(row) and all(np.isfinite(row[k]) for k in IMAGE_KEYS)
        assert 0 <= row["eval/precision"] <= 1 and 1 <= row["eval/is_mean"] <= 10
    best = min(rows, key=lambda s: rows[s]["eval/fid"])
    with Checkpointer(tmp_path / "run" / "checkpoints", best_metric="eval/fid", read_only=True) as ckpt:
        assert ckpt.best_step() == best
        assert ckpt.metrics(best)["eval/fid"] == pytest.approx(rows[best]["eval/fid"])

    # The logged numbers are those of the saved G on the eval block's fixed samples, recomputed from outside.
    [cache_file] = (tmp_path / "cache").iterdir()
    reference = load_reference_stats(cache_file)
    assert reference.count == 200 and "digits-" in reference.key["extractor"]
    gan, variables, _ = load_generator(tmp_path / "run" / "checkpoints" / str(best))
    again = evaluate_samples(make_sample_fn(gan, variables, batch_size=16), num_samples=48, batch_size=16, seed=0,
                             extractor=DigitsExtractor.from_file(classifier), reference_stats=reference,
                             metrics=("fid", "kid", "is", "pr"), kid_subsets=5, kid_subset_size=24, is_splits=2)
    for key in IMAGE_KEYS:
        assert again[key[len("eval/"):]] == pytest.approx(rows[best][key], rel=1e-4, abs=1e-6), key


def test_reference_statistics_are_cached_per_classifier(digit_classifier, tmp_path, monkeypatch):
    classifier = digit_classifier[0]
    config = digits_config(classifier, tmp_path / "cache")
    dataset = build_dataset(config.data, seed=config.seed)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    first = TrainingEvaluator(config, gan, dataset).reference

    def no_recompute(*args, **kwargs):
        raise AssertionError("the cached statistics should have been read")

    monkeypatch.setattr(evaluator, "compute_reference_stats", no_recompute)
    np.testing.assert_array_equal(TrainingEvaluator(config, gan, dataset).reference.mu, first.mu)

    other = tmp_path / "other.npz"  # another classifier (here: other bytes) gets its own cache entry
    other.write_bytes(classifier.read_bytes() + b"\0")
    config.eval.classifier = str(other)
    with pytest.raises(AssertionError, match="cached statistics"):
        TrainingEvaluator(config, gan, dataset)


def test_mode_coverage_on_the_ring_keeps_the_checkpoint_with_most_modes(tmp_path):
    c = base_config()
    c.data.name = "ring8"
    c.model.z_dim = 4
    c.model.g_hidden = c.model.d_hidden = (32,)
    c.model.output_activation = "linear"
    c.optim.g.lr = c.optim.d.lr = 1e-3
    c.train.update(dict(batch_size=64, num_steps=60, eval_every=20, checkpoint_every=1000, log_every=1000,
                        sample_every=1000, progress=False, num_devices=1, keep_checkpoints=1,
                        best_metric="eval/modes_captured", best_mode="max"))
    c.eval.update(dict(metrics=("modes",), num_samples=400, batch_size=200, mode_min_count=5))
    train_and_evaluate(c, tmp_path)
    rows = logged(tmp_path)
    assert sorted(rows) == [20, 40, 60]
    for row in rows.values():
        assert 0 <= row["eval/modes_captured"] <= 8 and 0 <= row["eval/hq_fraction"] <= 1
    with Checkpointer(tmp_path / "checkpoints", best_metric="eval/modes_captured", best_mode="max",
                      read_only=True) as ckpt:
        best = ckpt.best_step()
    assert rows[best]["eval/modes_captured"] == max(r["eval/modes_captured"] for r in rows.values())
    gan, variables, _ = load_generator(tmp_path / "checkpoints" / str(best))
    dataset = build_dataset(c.data, seed=c.seed)
    again = evaluate_mixture_samples(make_sample_fn(gan, variables, batch_size=200), num_samples=400, batch_size=200,
                                     seed=0, centres=dataset.modes, std=dataset.mode_std, min_count=5)
    assert again["hq_fraction"] == pytest.approx(rows[best]["eval/hq_fraction"])


@pytest.mark.parametrize("changes, message", [
    (dict(metrics=("fid", "sharpness")), r"eval.metrics has unknown \['sharpness'\]"),
    (dict(metrics=("fid", "modes")), "mixes modes"),
    (dict(extractor="vgg"), "Unknown eval.extractor 'vgg'"),
    (dict(num_samples=0), "eval.num_samples must be >= 1"),
    (dict(metrics=("kid",)), r"train.best_metric='eval/fid' is not logged by eval.metrics=\('kid',\)"),
])
def test_bad_eval_keys_are_named(changes, message):
    config = base_config()
    config.train.update(dict(eval_every=10, best_metric="eval/fid"))
    config.eval.update({"metrics": ("fid",), **changes})
    with pytest.raises(ValueError, match=message):
        validate(config)


def test_best_mode_must_match_the_metric():
    config = base_config()
    config.data.name = "ring8"
    config.train.update(dict(eval_every=10, best_metric="eval/modes_captured"))  # best_mode defaults to min
    config.eval.metrics = ("modes",)
    with pytest.raises(ValueError, match="better when higher.*set train.best_mode='max'"):
        validate(config)
    assert result_keys(("modes",)) == ["eval/modes_captured", "eval/hq_fraction", "eval/mode_kl"]


@pytest.mark.parametrize("data, metrics, extractor, message", [
    ("digits", (), "", "eval.metrics is empty"),
    ("digits", ("modes",), "", r"needs a 2-D mixture \(ring8, grid25\)"),
    ("ring8", ("fid",), "", "is a 2-D mixture"),
    ("digits", ("fid",), "", "tools/train_classifier.py --out"),
    ("digits", ("fid",), "missing.npz", "digit classifier not found at .*missing.npz"),
])
def test_bad_eval_settings_stop_the_run_before_its_first_step(tmp_path, data, metrics, extractor, message):
    config = base_config()
    config.data.name = data
    if data == "ring8":
        config.model.output_activation = "linear"
    config.train.update(dict(eval_every=1, num_steps=2, progress=False))
    config.eval.update(dict(metrics=metrics, classifier=str(tmp_path / extractor) if extractor else ""))
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists() or not any((tmp_path / "run" / "checkpoints").iterdir())


def test_a_reference_file_of_another_extractor_is_rejected(digit_classifier, tmp_path):
    config = digits_config(digit_classifier[0], tmp_path / "cache")
    stats_file = tmp_path / "inception_stats.npz"
    np.savez(stats_file, mu=np.zeros(2048), sigma=np.eye(2048), key_extractor=np.asarray("inception"))
    config.eval.reference = str(stats_file)
    dataset = build_dataset(config.data, seed=config.seed)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    with pytest.raises(ValueError, match="holds statistics of the extractor 'inception', but this evaluation uses "
                                         "'digits-"):
        TrainingEvaluator(config, gan, dataset)
