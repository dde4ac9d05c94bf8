"""In-training evaluation from the config's `eval` block: logged on schedule, reproducible from the checkpoint,
ranking the best checkpoint, with cached reference statistics and clear errors for bad settings."""

import json

import jax
import numpy as np
import pytest
from numpy_metrics import (
    fid_scipy,
    gaussian_stats,
    inception_score_numpy,
    kid_numpy,
    mode_coverage_numpy,
    precision_recall_numpy,
)

from jaxgan.config import base_config, validate
from jaxgan.data import build_dataset
from jaxgan.engine.state import create_state
from jaxgan.metrics import evaluator
from jaxgan.metrics.classifier import DigitsExtractor
from jaxgan.metrics.evaluator import evaluate_mixture_samples, evaluate_samples
from jaxgan.metrics.stats import load_reference_stats
from jaxgan.metrics.training_eval import TrainingEvaluator, result_keys
from jaxgan.objectives.factory import build_gan
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.runs import load_generator
from jaxgan.run.train import train_and_evaluate
from jaxgan.sampling.generate import make_sample_fn, random_inputs

IMAGE_KEYS = ["eval/fid", "eval/kid_mean", "eval/kid_std", "eval/is_mean", "eval/is_std", "eval/precision",
              "eval/recall"]


def digits_config(classifier, cache_dir, **train):
    """A small MLP on 8x8 digits evaluated with all image metrics every 3 steps on 2 devices."""
    c = base_config()
    c.data.image_size = 8
    c.model.z_dim = 8
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (32,)
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

    # ...and they equal the metrics written out in numpy/scipy on those samples' features (eval seed 0, 3 batches).
    sample_fn = make_sample_fn(gan, variables, batch_size=16)
    images = np.concatenate([np.asarray(sample_fn(jax.random.fold_in(jax.random.key(0), i), 16)) for i in range(3)])
    images = np.rint((np.clip(images, -1, 1) + 1) * 127.5) / 127.5 - 1  # 8-bit, as a PNG holds them (and eval does)
    features, logits = (np.asarray(a) for a in DigitsExtractor.from_file(classifier).features(images))
    expected = dict(zip(IMAGE_KEYS, [
        fid_scipy(*gaussian_stats(features), reference.mu, reference.sigma),
        *kid_numpy(features, reference.features, num_subsets=5, subset_size=24, seed=0),
        *inception_score_numpy(logits, splits=2),
        *precision_recall_numpy(reference.features, features, k=3)], strict=True))
    for key, value in expected.items():
        assert rows[best][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


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
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (32,)
    c.model.output_activation = "linear"
    c.optim.g.lr = c.optim.d.lr = 1e-3
    c.train.update(dict(batch_size=64, num_steps=60, eval_every=20, checkpoint_every=1000, log_every=1000,
                        sample_every=1000, progress=False, num_devices=1, keep_checkpoints=1,
                        best_metric="eval/modes_captured", best_mode="max"))
    c.eval.update(dict(metrics=("modes",), num_samples=400, batch_size=200, mode_min_count=5))
    train_and_evaluate(c, tmp_path)
    rows = logged(tmp_path)
    assert sorted(rows) == [20, 40, 60]
    with Checkpointer(tmp_path / "checkpoints", best_metric="eval/modes_captured", best_mode="max",
                      read_only=True) as ckpt:
        best = ckpt.best_step()
    assert rows[best]["eval/modes_captured"] == max(r["eval/modes_captured"] for r in rows.values())
    gan, variables, _ = load_generator(tmp_path / "checkpoints" / str(best))
    dataset = build_dataset(c.data, seed=c.seed)
    again = evaluate_mixture_samples(make_sample_fn(gan, variables, batch_size=200), num_samples=400, batch_size=200,
                                     seed=0, centres=dataset.modes, std=dataset.mode_std, min_count=5)
    assert again["hq_fraction"] == pytest.approx(rows[best]["eval/hq_fraction"])
    sample_fn = make_sample_fn(gan, variables, batch_size=200)  # the eval block's 400 samples, written out in numpy
    points = np.concatenate([np.asarray(sample_fn(jax.random.fold_in(jax.random.key(0), i), 200)) for i in range(2)])
    modes, hq = mode_coverage_numpy(points, dataset.modes, dataset.mode_std, min_count=5)
    assert (rows[best]["eval/modes_captured"], rows[best]["eval/hq_fraction"]) == pytest.approx((modes, hq))


def test_mode_metrics_of_a_generator_built_by_hand(tmp_path):
    """G(z) = (2, 0) + 0.04 z puts ~68% of its samples within 3 std (0.06) of mode 0; numpy counts the same."""
    c = base_config()
    c.data.name, c.model.output_activation, c.model.z_dim, c.model.mlp.g_hidden = "ring8", "linear", 2, (4,)
    c.eval.update(dict(metrics=("modes",), num_samples=400, batch_size=200, mode_min_count=5))
    dataset = build_dataset(c.data, seed=c.seed)
    gan = build_gan(c, dataset.example_shape)
    state = create_state(gan, dataset.example_shape, seed=0)
    # leaky(u) - leaky(-u) = 1.2 u, so hidden (z1, -z1, z2, -z2) and these output weights give exactly 0.04 z.
    w1 = np.array([[1, -1, 0, 0], [0, 0, 1, -1]], np.float32)
    w2 = 0.04 / 1.2 * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], np.float32)
    params = {"Dense_0": {"kernel": w1, "bias": np.zeros(4, np.float32)},
              "Dense_1": {"kernel": w2, "bias": np.array([2.0, 0.0], np.float32)}}
    assert jax.tree.structure(params) == jax.tree.structure(state.nets["G"].params)
    state = state.with_nets(G=state.nets["G"].replace(params=jax.tree.map(jax.numpy.asarray, params)))
    got = TrainingEvaluator(c, gan, dataset)(state, step=0)
    z = np.concatenate([np.asarray(random_inputs(gan, jax.random.fold_in(jax.random.key(0), i), 200)[0])
                        for i in range(2)])  # the eval block's latents: seed 0, two batches of 200
    modes, hq = mode_coverage_numpy(np.array([2.0, 0.0]) + 0.04 * z, dataset.modes, dataset.mode_std, min_count=5)
    assert modes == 1 and 0.55 < hq < 0.8  # the construction does what it says: chi2(2) gives P(|z| < 1.5) = 0.675
    assert (got["eval/modes_captured"], got["eval/hq_fraction"]) == pytest.approx((modes, hq), abs=1e-6)


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
    ("digits", ("fid",), "", "jaxgan train-classifier --out"),
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
