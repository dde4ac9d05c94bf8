"""tfds datasets download on first use: a tfds builder whose data lives on a loopback server the test starts."""

import importlib.util
import io

import numpy as np
import pytest
import tensorflow_datasets as tfds
from loopback import closed_port_url, serve
from PIL import Image

from jaxgan.data import build_dataset, default_config
from jaxgan.data.sources import MissingDependencyError
from jaxgan.errors import JaxganError
from jaxgan.tools import prepare

NUM_EXAMPLES, SIZE, CLASSES = 20, 8, 3


class LoopbackDigits(tfds.core.GeneratorBasedBuilder):
    """Gray 8x8 images and labels from an .npz that `dl_manager.download` fetches from URL (set by each test)."""

    VERSION = tfds.core.Version("1.0.0")
    URL = ""
    ENCODE_PNG = True  # tfds encodes numpy images with TensorFlow; PNG bytes it stores as they are

    def _info(self) -> tfds.core.DatasetInfo:
        features = {"image": tfds.features.Image(shape=(SIZE, SIZE, 1)),
                    "label": tfds.features.ClassLabel(num_classes=CLASSES)}
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(dl_manager.download(self.URL))}

    def _generate_examples(self, path):
        with np.load(path) as data:
            images, labels = data["images"], data["labels"]
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield i, {"image": png_bytes(image) if self.ENCODE_PNG else image, "label": int(label)}


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0]).save(buffer, format="png")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def served_npz():
    """(images, labels, the .npz bytes a server hands out)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (NUM_EXAMPLES, SIZE, SIZE, 1), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, NUM_EXAMPLES)
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)
    return images, labels, buffer.getvalue()


def config(data_dir, **overrides):
    cfg = default_config()
    cfg.update(name="tfds", tfds_name="loopback_digits", data_dir=str(data_dir), **overrides)
    return cfg


def pairs(images, labels):
    """The (image bytes, label) multiset: the same examples in any order compare equal."""
    return sorted((np.asarray(image).tobytes(), int(label)) for image, label in zip(images, labels, strict=True))


def test_first_use_downloads_and_prepares_then_reads_offline(served_npz, tmp_path, monkeypatch, capsys):
    images, labels, body = served_npz
    with serve({"digits.npz": body}) as base:
        monkeypatch.setattr(LoopbackDigits, "URL", f"{base}/digits.npz")
        build_dataset(config(tmp_path), seed=0)
    assert f"downloading and preparing tfds dataset 'loopback_digits' into {tmp_path}" in capsys.readouterr().out
    dataset = build_dataset(config(tmp_path, download=False), seed=0)  # the server is gone: prepared data only
    batch = next(dataset.batches(NUM_EXAMPLES))
    assert (dataset.example_shape, dataset.num_classes, dataset.num_examples) == ((SIZE, SIZE, 1), CLASSES, 20)
    assert pairs(batch["x"], batch["label"]) == pairs(images, labels)


def test_download_false_names_the_ways_to_get_the_data(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        build_dataset(config(tmp_path, download=False), seed=0)
    message = str(error.value)
    assert f"'loopback_digits' split 'train' is not prepared in {tmp_path}" in message
    assert "data.download=True" in message and "data.data_dir" in message and "this machine" not in message
    assert f"jaxgan prepare --source tfds:loopback_digits --data-dir {tmp_path}" in message


def test_offline_download_fails_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(LoopbackDigits, "URL", closed_port_url("digits.npz"))
    monkeypatch.setattr(tfds.core.download.downloader, "MAX_RETRIES", 0)  # tfds retries for minutes otherwise
    with pytest.raises(JaxganError, match="could not download and prepare tfds dataset 'loopback_digits' into "
                                          f"{tmp_path} \\(ConnectionError: .*jaxgan prepare --source"):
        build_dataset(config(tmp_path), seed=0)


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None, reason="TensorFlow is installed")
def test_preparing_without_tensorflow_names_the_package(served_npz, tmp_path, monkeypatch):
    monkeypatch.setattr(LoopbackDigits, "ENCODE_PNG", False)  # numpy images: tfds needs TensorFlow to encode them
    with serve({"digits.npz": served_npz[2]}) as base:
        monkeypatch.setattr(LoopbackDigits, "URL", f"{base}/digits.npz")
        with pytest.raises(MissingDependencyError, match="needs TensorFlow .*`pip install tensorflow`"):
            build_dataset(config(tmp_path), seed=0)


def test_prepare_tool_downloads_unless_told_not_to(served_npz, tmp_path, monkeypatch):
    images, labels, body = served_npz
    with pytest.raises(FileNotFoundError, match="not prepared"):
        prepare.main(["--source", "tfds:loopback_digits", "--data-dir", str(tmp_path / "tfds"), "--no-download",
                      "--out", str(tmp_path / "refused.npz"), "--transform", "none", "--no-progress"])
    assert not (tmp_path / "tfds" / "loopback_digits").exists()
    with serve({"digits.npz": body}) as base:
        monkeypatch.setattr(LoopbackDigits, "URL", f"{base}/digits.npz")
        prepare.main(["--source", "tfds:loopback_digits", "--data-dir", str(tmp_path / "tfds"),
                      "--out", str(tmp_path / "digits.npz"), "--transform", "none", "--no-progress"])
    with np.load(tmp_path / "digits.npz") as out:
        assert pairs(out["images"], out["labels"]) == pairs(images, labels)
