"""The protocol that goes with every score: 8-bit quantisation, clean-fid's resize, the sidecar, KID's named error."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from jaxgan.config import base_config
from jaxgan.metrics import protocol
from jaxgan.metrics.extractors import InceptionExtractor, extractor_id
from jaxgan.metrics.inception import resize_bilinear
from jaxgan.metrics.kid import KIDSampleError
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.train import train_and_evaluate
from jaxgan.sampling.images import unit_range_to_uint8


def test_quantise_is_a_png_round_trip():
    x = np.array([-1.0, -0.99999, 0.0, 0.00393, 0.5, 0.99, 1.0, 1.0004], np.float32)
    want_uint8 = np.clip(np.rint((x.astype(np.float64) + 1) * 127.5), 0, 255)  # what PIL stores for a PNG
    np.testing.assert_array_equal(np.asarray(unit_range_to_uint8(x)), want_uint8)
    np.testing.assert_allclose(np.asarray(protocol.quantise(x)), want_uint8 / 127.5 - 1, atol=1e-7)


def test_clean_resize_is_pil_bicubic_not_bilinear():
    yy, xx, cc = np.meshgrid(np.arange(12), np.arange(12), np.arange(3), indexing="ij")
    smooth = np.rint(128 + 60 * np.sin(0.5 * xx + 0.3 * yy + cc)).astype(np.uint8)[None]  # no clipping inside PIL
    clean = protocol.clean_resize(smooth, 29)
    assert clean.shape == (1, 29, 29, 3) and clean.dtype == np.float32
    pil_uint8 = np.asarray(Image.fromarray(smooth[0]).resize((29, 29), Image.Resampling.BICUBIC), np.float32)
    assert np.abs(clean[0] - pil_uint8).max() <= 1.0  # PIL's 8-bit bicubic is the float one, rounded
    noise = np.random.default_rng(0).integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)
    clean = protocol.clean_resize(noise, 29)
    assert clean.min() >= 0 and clean.max() <= 255  # bicubic overshoot is clipped, as clean-fid does
    bilinear = 255 * np.asarray(resize_bilinear(noise.astype(np.float32) / 255, 29))
    assert np.abs(clean - bilinear).max() > 5.0  # the legacy resize is another function


def test_clean_mode_feeds_the_network_the_clean_resized_uint8_image():
    extractor = InceptionExtractor({}, resize="clean")
    extractor._apply = lambda variables, x: (x, x)  # the network's input, as the extractor prepares it
    images = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)
    fed, _ = extractor.features(images)
    uint8 = np.repeat(np.asarray(unit_range_to_uint8(images)), 3, axis=-1)
    np.testing.assert_allclose(np.asarray(fed), (protocol.clean_resize(uint8, 299) - 128) / 128, atol=1e-6)
    with pytest.raises(ValueError, match="unknown resize mode 'nearest'"):
        InceptionExtractor({}, resize="nearest")


def test_clean_mode_scales_pixels_as_clean_fid_minus_128_over_128():
    """clean-fid's InceptionV3W feeds (x - 128) / 128: pixel 0 -> -1, 128 -> 0, 255 -> 127/128 (not 1)."""
    extractor = InceptionExtractor({}, resize="clean")
    extractor._apply = lambda variables, x: (x, x)
    pixels = np.array([0, 64, 128, 255], np.float32)
    images = np.broadcast_to(pixels[:, None, None, None] / 127.5 - 1, (4, 299, 299, 3))  # exact uint8 values
    fed, _ = extractor.features(images)
    np.testing.assert_allclose(np.asarray(fed)[:, 150, 150, 0], [-1.0, -0.5, 0.0, 127 / 128], atol=1e-6)
    legacy = InceptionExtractor({}, resize="legacy")
    legacy._apply = lambda variables, x: (x, x)
    fed, _ = legacy.features(images)  # pytorch-fid's 2 * x01 - 1 keeps 255 -> 1
    np.testing.assert_allclose(np.asarray(fed)[:, 150, 150, 0], [-1.0, 64 / 127.5 - 1, 128 / 127.5 - 1, 1.0],
                               atol=1e-6)
    assert protocol.protocol_id("w", "clean") != "w-clean-uint8"  # statistics cached on the old scaling stay apart


def digits_eval_config(classifier, cache_dir, **eval_block):
    c = base_config()
    c.data.image_size = 8
    c.model.z_dim = 8
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.train.update(dict(batch_size=16, num_steps=2, eval_every=2, checkpoint_every=100, log_every=100,
                        sample_every=100, num_samples=4, progress=False, num_devices=1))
    c.eval.update(dict(metrics=("fid", "pr"), num_samples=48, batch_size=16, classifier=str(classifier),
                       cache_dir=str(cache_dir), reference_samples=200, **eval_block))
    return c


def test_training_writes_the_eval_protocol_beside_the_numbers(digit_classifier, tmp_path):
    classifier = digit_classifier[0]
    train_and_evaluate(digits_eval_config(classifier, tmp_path / "cache"), tmp_path / "run")
    written = json.loads((tmp_path / "run" / protocol.PROTOCOL_FILE).read_text())
    assert written == {
        "extractor": "digits", "weights": extractor_id("digits", classifier=classifier), "resize": "bilinear",
        "quantisation": "uint8", "num_generated": 48, "num_reference": 200, "metrics": ["fid", "pr"],
        "reference": written["reference"], "pr_features": written["pr_features"]}
    assert re.fullmatch(r"training data digits-8x8x1-[0-9a-f]{16} \(subset-n200, 200 images\)", written["reference"])
    assert written["pr_features"].startswith("digits features (penultimate layer")
    assert "VGG-16" in written["pr_features"]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(isinstance(v, float | int) for row in rows for k, v in row.items() if k != "checkpoint")  # numbers
    assert {row["checkpoint"] for row in rows if "checkpoint" in row} <= {f"checkpoints/{r['step']}" for r in rows}
    with Checkpointer(tmp_path / "run" / "checkpoints", read_only=True) as ckpt:  # evaluated checkpoints carry it too
        assert ckpt.read_meta(ckpt.latest_step())["eval_protocol"] == written


def test_too_few_samples_for_kid_stop_the_run_before_its_first_step(digit_classifier, tmp_path):
    config = digits_eval_config(digit_classifier[0], tmp_path / "cache", kid_subset_size=100)
    config.eval.metrics = ("kid",)
    with pytest.raises(KIDSampleError, match="subsets of 100 samples from each set, but there are 48 generated"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists() or not any((tmp_path / "run" / "checkpoints").iterdir())
