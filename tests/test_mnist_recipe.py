"""The MNIST pipeline of docs/results.md on tiny data made here: IDX -> prepare --range -> train-classifier --npz ->
evaluate --ref-image-npz --save-ref -> `jaxgan reproduce mnist_best` with the paths on the command line."""

import contextlib
import gzip
import io
import json
import struct

import numpy as np
import pytest
from conftest import load_experiment_config

from jaxgan.cli import main as cli_main
from jaxgan.metrics.classifier import DigitsExtractor
from jaxgan.metrics.stats import load_reference_stats
from jaxgan.tools import reproduce


def write_idx(path, array):
    """A gzipped uint8 IDX file, encoded by hand."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 28x28 'digits' (a bright square whose position is the class, 3 classes) split 0:40 / 40:60."""
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    images = rng.integers(0, 40, (60, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 4 + 7 * label: 11 + 7 * label, 10:18] = 255
    write_idx(root / "t-images-idx3-ubyte.gz", images)
    write_idx(root / "t-labels-idx1-ubyte.gz", labels)
    for part in ("0:40", "40:60"):
        assert cli_main(["prepare", "--source", str(root / "t-images-idx3-ubyte.gz"), "--range", part,
                         "--out", str(root / f"{part.replace(':', '-')}.npz"), "--transform", "none",
                         "--no-progress"]) == 0
    return root, images


@pytest.fixture(scope="module")
def classifier_and_reference(tiny_mnist):
    """(classifier, reference statistics, the two tools' stdout) from train-classifier --npz and evaluate --save-ref."""
    root, _ = tiny_mnist
    classifier, ref = root / "classifier.npz", root / "ref.npz"
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert cli_main(["train-classifier", "--npz", str(root / "0-40.npz"), "--test-npz", str(root / "40-60.npz"),
                         "--steps", "100", "--batch-size", "16", "--widths", "4", "--feature-dim", "8",
                         "--out", str(classifier)]) == 0
        assert cli_main(["evaluate", "--npz", str(root / "40-60.npz"), "--ref-image-npz", str(root / "40-60.npz"),
                         "--extractor", "digits", "--classifier", str(classifier), "--metrics", "fid",
                         "--save-ref", str(ref)]) == 0
    return classifier, ref, out.getvalue()


def test_classifier_and_saved_reference_from_the_prepared_splits(tiny_mnist, classifier_and_reference):
    _, images = tiny_mnist
    classifier, ref, out = classifier_and_reference
    first, rest = out.split("\n", 1)
    assert first.startswith("held-out accuracy 1.0000 on 20 images")  # the classes are trivially apart
    assert json.loads(rest)["fid"] == pytest.approx(0.0, abs=1e-6)  # a set against itself
    features, _ = DigitsExtractor.from_file(classifier).features(images[40:, ..., None] / 127.5 - 1.0)
    features = np.asarray(features, np.float64)
    stats = load_reference_stats(ref)
    assert stats.count == 20 and stats.key["extractor"].startswith("digits-")
    np.testing.assert_allclose(stats.mu, features.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.sigma, np.cov(features, rowvar=False), rtol=1e-4, atol=1e-6)


def test_reproduce_mnist_best_takes_the_data_classifier_and_reference_paths(tiny_mnist, classifier_and_reference,
                                                                             tmp_path, capsys):
    root, _ = tiny_mnist
    workdir = tmp_path / "run"
    code = cli_main(["reproduce", "mnist_best", "--workdir", str(workdir),
                     f"--config.data.path={root / '0-40.npz'}", f"--config.eval.classifier={root / 'classifier.npz'}",
                     f"--config.eval.reference={root / 'ref.npz'}",
                     "--config.model.dcgan.ngf=4", "--config.model.dcgan.ndf=4",
                     "--config.train.batch_size=8", "--config.train.num_steps=2", "--config.train.eval_every=2",
                     "--config.train.checkpoint_every=2", "--config.train.sample_every=2",
                     "--config.eval.num_samples=40", "--config.ema.decay=0.0"])
    out = capsys.readouterr().out
    assert code == 1, out  # two steps of a 4-wide G cannot reach the band
    config = json.loads((workdir / "config.json").read_text())
    assert config["data"]["path"] == str(root / "0-40.npz")
    assert config["eval"]["reference"] == str(root / "ref.npz")
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    fid = [r["eval/fid"] for r in rows if "eval/fid" in r][-1]
    assert f"reproduce mnist_best: FAIL (workdir {workdir})" in out
    assert f"eval/fid = {fid:.4g} (expected <= " in out


def test_mnist_best_states_its_band_and_needs_its_paths():
    module = load_experiment_config("mnist_best")
    bands = reproduce.expected_bands(reproduce.config_path("mnist_best"))
    assert set(bands) == {"eval/fid", "eval/is_mean"} and bands["eval/fid"][0] == "<="
    assert "jaxgan reproduce mnist_best --config.data.path=" in module.__doc__
    config = module.get_config()
    assert (config.data.name, config.data.path, config.eval.classifier, config.eval.reference) == ("npz", "", "", "")
    assert config.eval.num_samples == 2000
