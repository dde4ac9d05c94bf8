"""The digit classifier's domain metrics, the evaluator and tools/evaluate.py, end to end."""

import functools
import json
import re

import jax
import numpy as np
import pytest
from conftest import load_tool
from numpy_metrics import fid_scipy, gaussian_stats, inception_score_numpy, kid_numpy, precision_recall_numpy
from PIL import Image

from jaxgan.config import base_config
from jaxgan.engine.state import create_state
from jaxgan.metrics.classifier import DigitsExtractor, load_digits_images, split_digits
from jaxgan.metrics.evaluator import (
    compute_reference_stats,
    evaluate_mixture_samples,
    evaluate_samples,
)
from jaxgan.metrics.extractors import extractor_id
from jaxgan.metrics.frechet import frechet_distance_from_features
from jaxgan.metrics.inception_score import inception_score
from jaxgan.metrics.kid import kernel_inception_distance
from jaxgan.metrics.precision_recall import precision_recall
from jaxgan.metrics.protocol import quantise
from jaxgan.objectives.factory import build_gan
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.run_info import run_meta


@pytest.fixture(scope="module")
def digits():
    """((train images, labels), (held-out images, labels)) of the 28x28 digits, as the tool splits."""
    return split_digits(*load_digits_images(28), seed=0)


@pytest.fixture(scope="module")
def extractor(digit_classifier):
    return DigitsExtractor.from_file(digit_classifier[0])


def _features(extractor, images):
    pool, logits = extractor.features(images)
    return np.asarray(pool), np.asarray(logits)


def test_classifier_is_accurate_on_held_out_digits(digit_classifier):
    assert digit_classifier[1] > 0.9


def test_domain_fid_ranks_real_below_noisy_below_noise(extractor, digits):
    (train, _), (held_out, _) = digits
    rng = np.random.default_rng(0)
    noisy = np.clip(held_out + 0.5 * rng.standard_normal(held_out.shape), -1, 1)
    noise = rng.uniform(-1, 1, held_out.shape)
    reference = _features(extractor, train)[0]
    assert np.sqrt(np.mean(reference**2)) == pytest.approx(1.0, rel=1e-4)  # saved feature scale
    fids = [frechet_distance_from_features(reference, _features(extractor, x.astype(np.float32))[0])
            for x in (held_out, noisy, noise)]
    assert fids[0] < fids[1] < fids[2]


def test_extractor_resizes_and_converts_rgb(extractor, digits):
    held_out = digits[1][0][:4]
    rgb = np.repeat(held_out, 3, axis=-1)
    np.testing.assert_allclose(_features(extractor, rgb)[0], _features(extractor, held_out)[0],
                               atol=1e-5)
    assert _features(extractor, np.zeros((2, 8, 8, 1), np.float32))[0].shape == (2, 64)


def test_evaluate_samples_equals_the_metrics_on_all_features(extractor, digits):
    (train, _), (held_out, _) = digits
    reference = compute_reference_stats(
        (train[i : i + 500] for i in range(0, len(train), 500)), extractor)
    pool = jax.numpy.asarray(held_out)

    def sample_fn(key, n):  # a "generator" that draws held-out digits
        return pool[jax.random.randint(key, (n,), 0, len(held_out))]

    got = evaluate_samples(sample_fn, num_samples=250, batch_size=64, seed=3, extractor=extractor,
                           reference_stats=reference, kid_subset_size=200, is_splits=5)
    key = jax.random.key(3)
    images = np.concatenate([np.asarray(sample_fn(jax.random.fold_in(key, i), 64))
                             for i in range(4)])[:250]
    feats, logits = _features(extractor, quantise(images))  # both sets are quantised to 8 bits, as PNGs
    ref_feats = _features(extractor, quantise(train))[0]
    assert got["num_samples"] == 250 and got["extractor"] == "digits"
    assert got["fid"] == pytest.approx(frechet_distance_from_features(feats, ref_feats), rel=1e-4)
    kid_mean, kid_std = kernel_inception_distance(feats, ref_feats, subset_size=200, seed=3)
    assert (got["kid_mean"], got["kid_std"]) == pytest.approx((kid_mean, kid_std), rel=1e-3,
                                                             abs=1e-6)
    assert (got["is_mean"], got["is_std"]) == pytest.approx(inception_score(logits, 5), rel=1e-4)
    assert (got["precision"], got["recall"]) == pytest.approx(precision_recall(ref_feats, feats))
    # An independent reference: numpy/scipy written out from the papers (scipy.linalg.sqrtm for FID).
    assert got["fid"] == pytest.approx(fid_scipy(*gaussian_stats(feats), *gaussian_stats(ref_feats)), rel=1e-5)
    assert (got["kid_mean"], got["kid_std"]) == pytest.approx(kid_numpy(feats, ref_feats, 100, 200, seed=3),
                                                             rel=1e-4, abs=1e-6)
    assert (got["is_mean"], got["is_std"]) == pytest.approx(inception_score_numpy(logits, 5), rel=1e-5)
    assert (got["precision"], got["recall"]) == pytest.approx(precision_recall_numpy(ref_feats, feats, k=3))


def test_evaluate_samples_rejects_out_of_range_images(extractor):
    reference = compute_reference_stats([np.zeros((4, 28, 28, 1), np.float32)], extractor)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        evaluate_samples(lambda key, n: np.full((n, 28, 28, 1), 255.0), num_samples=4,
                         batch_size=4, seed=0, extractor=extractor, reference_stats=reference,
                         metrics=("fid",))


def test_evaluate_mixture_samples_counts_modes():
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])

    def sample_fn(key, n):  # only the first two modes
        which = jax.random.randint(key, (n,), 0, 2)
        return jax.numpy.asarray(centres)[which] + 0.01 * jax.random.normal(key, (n, 2))

    got = evaluate_mixture_samples(sample_fn, num_samples=200, batch_size=64, seed=0,
                                   centres=centres, std=0.02)
    assert got["modes_captured"] == 2.0 and got["hq_fraction"] == 1.0
    assert got["mode_kl"] == pytest.approx(np.log(2), abs=0.02) and got["num_samples"] == 200


def test_evaluate_tool_on_npz_and_folder(digit_classifier, digits, tmp_path):
    held_out = digits[1][0][:200]
    np.savez(tmp_path / "samples.npz", images=held_out)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(np.rint((held_out[..., 0] + 1) * 127.5).astype(np.uint8)):
        Image.fromarray(image).save(folder / f"{i:04d}.png")
    evaluate = load_tool("evaluate")
    common = ["--ref-dataset", "digits", "--cache-dir", str(tmp_path / "cache"), "--kid-subset-size", "100",
              "--extractor", "digits", "--classifier", str(digit_classifier[0]), "--batch-size", "64"]
    from_npz = evaluate.main(["--npz", str(tmp_path / "samples.npz"), "--out",
                              str(tmp_path / "out.json"), *common])
    cached = [p.name for p in (tmp_path / "cache").iterdir()]  # keyed by the classifier's weights too
    assert len(cached) == 1 and re.fullmatch(r"digits-28x28x1-[0-9a-f]{16}_all_28px_digits-.*\.npz", cached[0])
    from_pngs = evaluate.main(["--images", str(folder), *common])  # reuses the cached reference
    assert json.loads((tmp_path / "out.json").read_text()) == from_npz
    assert {"fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall",
            "num_samples", "extractor"} <= from_npz.keys()
    assert from_npz["num_samples"] == from_pngs["num_samples"] == 200
    assert from_pngs["fid"] == pytest.approx(from_npz["fid"], rel=1e-6)  # float images are quantised as PNGs are
    assert from_npz["protocol"] == {
        "extractor": "digits", "weights": extractor_id("digits", classifier=digit_classifier[0]),
        "resize": "bilinear", "quantisation": "uint8", "num_generated": 200, "num_reference": 1797,
        "reference": from_npz["reference"], "metrics": ["fid", "kid", "is", "pr"],
        "pr_features": from_npz["pr_features"]}
    assert from_npz["reference"] == cached[0].split("_")[0] + " (all, 1797 images)"  # every digit
    assert from_npz["pr_features"].startswith("digits features (penultimate layer, 64-d)")
    assert "VGG-16" in from_npz["pr_features"]
    # ...and the same 8-bit images given as an .npz give the PNGs' FID exactly (up to float32 features).
    np.savez(tmp_path / "rounded.npz", images=np.rint((held_out + 1) * 127.5) / 127.5 - 1)
    from_rounded = evaluate.main(["--npz", str(tmp_path / "rounded.npz"), *common])
    assert from_pngs["fid"] == pytest.approx(from_rounded["fid"], rel=1e-6)


def test_evaluate_tool_takes_its_cached_statistics_as_ref_npz_only_with_the_same_weights(digit_classifier, digits,
                                                                                         tmp_path):
    evaluate = load_tool("evaluate")
    np.savez(tmp_path / "samples.npz", images=digits[1][0][:100])
    weights = ["--extractor", "digits", "--classifier", str(digit_classifier[0]), "--batch-size", "50",
               "--kid-subset-size", "50"]
    first = evaluate.main(["--npz", str(tmp_path / "samples.npz"), "--ref-dataset", "digits",
                           "--cache-dir", str(tmp_path / "cache"), *weights])
    [cached] = (tmp_path / "cache").iterdir()
    again = evaluate.main(["--npz", str(tmp_path / "samples.npz"), "--ref-npz", str(cached), *weights])
    assert again["fid"] == pytest.approx(first["fid"])
    other = tmp_path / "other_classifier.npz"  # the same network with other bytes: another extractor id
    other.write_bytes(digit_classifier[0].read_bytes() + b"\0")
    with pytest.raises(ValueError, match="holds statistics of the extractor 'digits-.*but this evaluation uses"):
        evaluate.main(["--npz", str(tmp_path / "samples.npz"), "--ref-npz", str(cached), "--extractor", "digits",
                       "--classifier", str(other)])


def test_evaluate_tool_rejects_wrong_range_and_mixed_sizes(digit_classifier, tmp_path):
    evaluate = load_tool("evaluate")
    common = ["--ref-dataset", "digits", "--cache-dir", str(tmp_path),
              "--extractor", "digits", "--classifier", str(digit_classifier[0])]
    np.savez(tmp_path / "bytes_as_float.npz", x=np.full((4, 28, 28, 1), 200.0))
    with pytest.raises(ValueError, match="--value-range"):
        evaluate.main(["--npz", str(tmp_path / "bytes_as_float.npz"), *common])
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / "a.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(folder / "b.png")
    with pytest.raises(ValueError, match="--resolution"):
        evaluate.main(["--images", str(folder), *common])
    with pytest.raises(FileNotFoundError, match="pass a run's workdir"):
        evaluate.main(["--checkpoint", str(tmp_path / "ckpt"), *common])


def test_missing_classifier_says_how_to_train_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="jaxgan train-classifier --out"):
        DigitsExtractor.from_file(tmp_path / "none.npz")


def test_kid_with_too_few_samples_is_a_named_error(extractor, digits):
    from jaxgan.metrics.kid import KIDSampleError

    reference = compute_reference_stats([digits[0][0][:300]], extractor)
    with pytest.raises(KIDSampleError, match="KID draws subsets of 1000 samples from each set, but there are 50 "
                                             "generated and 300 reference"):
        evaluate_samples(lambda key, n: np.zeros((n, 28, 28, 1), np.float32), num_samples=50, batch_size=50,
                         seed=0, extractor=extractor, reference_stats=reference, metrics=("kid",))


@pytest.mark.parametrize("flag", ["--classifier", "--npz"])
def test_evaluate_names_a_file_that_is_not_an_npz_in_one_line(tmp_path, capsys, flag):
    """A text file given as the classifier or the samples: one `error:` line naming the file, exit 2."""
    from jaxgan.cli import main

    bad = tmp_path / "not.npz"
    bad.write_text("hello\n")
    good = tmp_path / "samples.npz"
    np.savez(good, images=np.zeros((4, 28, 28, 1), np.float32))
    args = {"--classifier": str(bad), "--npz": str(good)}
    args[flag] = str(bad)
    code = main(["evaluate", "--npz", args["--npz"], "--ref-dataset", "digits", "--extractor", "digits",
                 "--classifier", args["--classifier"], "--num-samples", "4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {bad} is not an .npz archive") and "pickled" not in err[0]


def test_evaluate_tool_scores_drs_samples_of_a_saved_run(digit_classifier, tmp_path):
    shape = (28, 28, 1)
    config = base_config()
    config.model.z_dim, config.data.image_size = 8, 28
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (16,)
    gan = build_gan(config, shape)
    state = jax.jit(functools.partial(create_state, gan, shape, 0))()
    with Checkpointer(tmp_path / "run" / "checkpoints") as ckpt:
        ckpt.save(1, state, run_meta(config, 1, 1, shape, None))
    evaluate = load_tool("evaluate")
    common = ["--workdir", str(tmp_path / "run"), "--ref-dataset", "digits", "--cache-dir", str(tmp_path / "cache"),
              "--extractor", "digits", "--classifier", str(digit_classifier[0]), "--metrics", "fid",
              "--num-samples", "200", "--batch-size", "100", "--drs-burn-in", "200"]
    plain = evaluate.main([*common, "--out", str(tmp_path / "plain.json")])
    drs = evaluate.main([*common, "--drs", "--drs-percentile", "90", "--out", str(tmp_path / "drs.json")])
    assert "drs_acceptance" not in plain and 0 < drs["drs_acceptance"] < 0.5
    assert drs["fid"] != plain["fid"]  # other samples: those D's ratio kept
    with pytest.raises(ValueError, match="--drs samples a trained run"):
        evaluate.main(["--npz", str(tmp_path / "x.npz"), *common[2:], "--drs"])
