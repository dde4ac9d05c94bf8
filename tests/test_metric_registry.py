"""A metric is one decorated function: defined here, in the test file, `jaxgan evaluate` and the in-training evaluator
both compute it, its options come from the config's eval block, and its declared direction ranks evaluations."""

import dataclasses
import sys

import jax
import numpy as np
import pytest

from jaxgan.config import base_config, validate
from jaxgan.data import build_dataset
from jaxgan.engine.state import create_state
from jaxgan.metrics.classifier import DigitsExtractor, load_digits_images
from jaxgan.metrics.registry import MetricInputs, register_metric, registered_metrics, unregister_metric
from jaxgan.metrics.training_eval import TrainingEvaluator
from jaxgan.objectives.factory import build_gan
from jaxgan.run.run_log import best_evaluation
from jaxgan.sampling.generate import generator_variables, make_sample_fn
from jaxgan.tools import evaluate


@pytest.fixture
def mean_norm():
    """Register `mean_norm` (the mean norm of the generated features) for one test, as a user's file would."""

    @register_metric("mean_norm", keys={"mean_feature_norm": "max"}, needs=("features",))
    def mean_feature_norm(inputs: MetricInputs, *, norm_ord: int = 2) -> dict[str, float]:
        """The mean `norm_ord`-norm of the generated features."""
        return {"mean_feature_norm": float(np.mean(np.linalg.norm(inputs.features, ord=norm_ord, axis=1)))}

    yield mean_feature_norm
    unregister_metric("mean_norm")


def hand_mean_norm(extractor, images_uint8, power, batch_size):
    """The mean feature norm computed here: features of the 8-bit images, then (sum |f|^p)^(1/p) in float64."""
    images = images_uint8.astype(np.float32) / 127.5 - 1.0
    features = np.concatenate([np.asarray(extractor.features(images[i : i + batch_size])[0], np.float64)
                               for i in range(0, len(images), batch_size)])  # the evaluator's batch shape
    return float(np.mean(np.sum(np.abs(features) ** power, axis=1) ** (1 / power)))


def test_jaxgan_evaluate_reports_a_metric_defined_in_a_test_file(mean_norm, digit_classifier, tmp_path):
    images = np.rint((load_digits_images(28)[0][:180] + 1) * 127.5).astype(np.uint8)  # 8 bits: quantising keeps them
    np.savez(tmp_path / "samples.npz", images=images[:60])
    np.savez(tmp_path / "reference.npz", images=images[60:])
    argv = ["--npz", str(tmp_path / "samples.npz"), "--ref-image-npz", str(tmp_path / "reference.npz"),
            "--extractor", "digits", "--classifier", str(digit_classifier[0]), "--batch-size", "60",
            "--metrics", "fid,mean_norm"]
    result = evaluate.main(argv)
    extractor = DigitsExtractor.from_file(digit_classifier[0])
    assert result["mean_feature_norm"] == pytest.approx(hand_mean_norm(extractor, images[:60], 2, 60), rel=1e-5)
    with_option = evaluate.main([*argv, "--metric-option", "norm_ord=1"])
    assert with_option["mean_feature_norm"] == pytest.approx(hand_mean_norm(extractor, images[:60], 1, 60), rel=1e-5)
    with pytest.raises(ValueError, match=r"unknown metric options \['norm_rod'\]"):
        evaluate.main([*argv, "--metric-option", "norm_rod=1"])
    assert result["directions"] == {"fid": "min", "mean_feature_norm": "max"}
    assert result["protocol"]["metrics"] == ["fid", "mean_norm"] and result["fid"] > 0


def digits_config(classifier, cache_dir, metrics):
    """A small MLP G on 8x8 digits whose eval block asks for `metrics` on 48 samples."""
    c = base_config()
    c.data.image_size = 8
    c.model.z_dim = 8
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.train.update(dict(batch_size=16, eval_every=1, num_devices=1, best_metric="eval/mean_feature_norm",
                        best_mode="max"))
    c.eval.update(dict(metrics=metrics, num_samples=48, batch_size=16, classifier=str(classifier),
                       cache_dir=str(cache_dir), reference_samples=32))
    return c


def test_the_training_evaluator_reports_it_with_its_option_from_the_eval_block(mean_norm, digit_classifier, tmp_path):
    config = digits_config(digit_classifier[0], tmp_path / "cache", ("mean_norm", "fid"))
    config.eval.norm_ord = 1  # the metric's own option, set in the eval block by its name
    validate(config)
    dataset = build_dataset(config.data, seed=config.seed)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    state = create_state(gan, dataset.example_shape, seed=0)
    result = TrainingEvaluator(config, gan, dataset)(state, 0)
    assert list(result) == ["eval/mean_feature_norm", "eval/fid"]  # eval.metrics' order, each metric's keys

    sample_fn = make_sample_fn(gan, generator_variables(state, gan), batch_size=16)  # the eval seed 0, 3 batches
    images = np.concatenate([np.asarray(sample_fn(jax.random.fold_in(jax.random.key(0), i), 16)) for i in range(3)])
    images = np.rint((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8)
    extractor = DigitsExtractor.from_file(digit_classifier[0])
    expected = hand_mean_norm(extractor, images, 1, 16)
    assert result["eval/mean_feature_norm"] == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(hand_mean_norm(extractor, images, 2, 16))  # the option made a difference


def test_its_declared_direction_ranks_checkpoints_and_evaluations(mean_norm):
    config = digits_config("digits.npz", "cache", ("mean_norm",))
    config.train.best_mode = "min"
    with pytest.raises(ValueError, match="'eval/mean_feature_norm' is better when higher.*best_mode='max'"):
        validate(config)
    evaluations = [(1, {"eval/mean_feature_norm": 2.0}), (2, {"eval/mean_feature_norm": 5.0}),
                   (3, {"eval/mean_feature_norm": 3.0})]
    assert best_evaluation(evaluations) == ("eval/mean_feature_norm", 5.0, 2)
    assert best_evaluation([(1, {"eval/fid": 2.0}), (2, {"eval/fid": 1.0})]) == ("eval/fid", 1.0, 2)


def test_unknown_metric_names_list_the_registered_ones(mean_norm, tmp_path):
    config = digits_config("digits.npz", "cache", ("fid", "mean_nrom"))
    config.train.best_metric = ""
    with pytest.raises(ValueError, match=r"eval.metrics has unknown \['mean_nrom'\]; choose from \[.*'mean_norm'"):
        validate(config)
    with pytest.raises(ValueError, match=r"--metrics has unknown \['mean_nrom'\]; choose from \[.*'fid'"):
        evaluate.main(["--npz", str(tmp_path / "x.npz"), "--ref-npz", str(tmp_path / "r.npz"),
                       "--metrics", "fid,mean_nrom"])


def test_a_metric_module_named_in_the_config_registers_its_metrics(tmp_path, monkeypatch):
    (tmp_path / "user_logit_metric.py").write_text(
        "from jaxgan.metrics.registry import register_metric\n\n"
        "@register_metric('logit_mean', keys={'logit_mean': None}, needs=('logits',))\n"
        "def logit_mean(inputs):\n"
        "    return {'logit_mean': float(inputs.logits.mean())}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = digits_config("digits.npz", "cache", ("fid", "logit_mean"))
    config.train.best_metric = ""
    with pytest.raises(ValueError, match=r"unknown \['logit_mean'\]"):
        validate(config)
    try:
        config.eval.metric_modules = ("user_logit_metric",)
        validate(config)
        assert registered_metrics()["logit_mean"].needs == {"logits"}
        config.eval.metric_modules = ("no_such_metric_module",)
        with pytest.raises(ValueError, match="eval.metric_modules: cannot import 'no_such_metric_module'"):
            validate(config)
    finally:
        unregister_metric("logit_mean")
        sys.modules.pop("user_logit_metric", None)


def test_a_metric_that_returns_fewer_keys_than_it_declares_is_named(mean_norm):
    broken = dataclasses.replace(registered_metrics()["mean_norm"], keys={"mean_feature_norm": "max", "spread": None})
    with pytest.raises(ValueError, match=r"'mean_norm' declares result keys .* returned no \['spread'\]"):
        broken.run(MetricInputs(features=np.ones((3, 2), np.float32)), {})


def test_the_same_definition_run_again_replaces_itself(mean_norm):
    register_metric("mean_norm", keys={"mean_feature_norm": "min"}, needs=("features",))(mean_norm)  # a re-run file
    assert registered_metrics()["mean_norm"].keys == {"mean_feature_norm": "min"}


@pytest.mark.parametrize("register, message", [
    (lambda: register_metric("fid", keys={"fid": "min"})(lambda inputs: {}), "metric 'fid' is registered twice"),
    (lambda: register_metric("x", keys={"x": "up"}), r"direction 'min', 'max' or None; got \{'x': 'up'\}"),
    (lambda: register_metric("x", keys={"x": "min"}, needs=("pixels",)), r"unknown inputs \['pixels'\]"),
    (lambda: register_metric("x", keys={"x": "min"})(lambda inputs, *, k: {}), r"option\(s\) \['k'\].*default"),
])
def test_a_malformed_registration_is_named(register, message):
    with pytest.raises(ValueError, match=message):
        register()
    assert "x" not in registered_metrics()
