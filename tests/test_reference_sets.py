"""Named reference sets: statistics of ALL a dataset's images, cached by the data's content, shared by the trainer's
evaluator and `jaxgan evaluate --ref-dataset`."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config
from jaxgan.data import build_dataset
from jaxgan.data.prepared import Writer
from jaxgan.data.sources import load_folder
from jaxgan.metrics import evaluator
from jaxgan.metrics.reference_sets import dataset_reference_stats, reference_data_config
from jaxgan.metrics.stats import load_reference_stats
from jaxgan.metrics.training_eval import TrainingEvaluator
from jaxgan.objectives.factory import build_gan

SHAPE = (4, 4, 1)


class PixelExtractor:
    """Features = the pixels themselves, so the reference's mean is the data's mean image (checkable by hand)."""

    name, weights_id, resize = "pixels", "pixels-v1", "legacy"

    def __init__(self):
        self.calls = 0

    def features(self, images):
        self.calls += 1
        images = jnp.asarray(images, jnp.float32)
        return images.reshape(len(images), -1), images.reshape(len(images), -1)[:, :2]


def prepared(path, seed, count=12):
    """A prepared dataset of `count` random uint8 images of SHAPE; returns (path, the images)."""
    images = np.random.default_rng(seed).integers(0, 256, (count, *SHAPE), dtype=np.uint8)
    writer = Writer(path, SHAPE)
    for image in images:
        writer.add(image)
    writer.close({"name": "same-name"})
    return path, images


def dataset_of(path):
    return build_dataset(reference_data_config(str(path)), seed=0)


def test_two_prepared_datasets_of_one_shape_get_two_references_and_each_is_cached(tmp_path, monkeypatch):
    (a, images_a), (b, images_b) = prepared(tmp_path / "a", 0), prepared(tmp_path / "b", 1)
    extractor, cache = PixelExtractor(), tmp_path / "cache"
    first, _ = dataset_reference_stats(dataset_of(a), extractor, cache_dir=cache, batch_size=5)
    second, described = dataset_reference_stats(dataset_of(b), extractor, cache_dir=cache, batch_size=5)
    # all images, quantised as uint8 (they already are): the mean feature is the mean image in [-1, 1]
    for stats, images in ((first, images_a), (second, images_b)):
        assert stats.count == len(images)
        np.testing.assert_allclose(stats.mu, (images / 127.5 - 1).reshape(len(images), -1).mean(0), atol=1e-5)
    assert "all, 12 images" in described and len(list(cache.iterdir())) == 2

    monkeypatch.setattr(evaluator, "compute_reference_stats", pytest.fail)  # the same data reads its cached file
    again, _ = dataset_reference_stats(dataset_of(b), extractor, cache_dir=cache, batch_size=5)
    np.testing.assert_array_equal(again.mu, second.mu)


def test_the_trainer_and_evaluate_share_one_cached_reference(tmp_path, monkeypatch):
    path, _ = prepared(tmp_path / "data", 2)
    config = base_config()
    config.data.update(name="prepared", path=str(path), image_size=0, channels=0)
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (8,)
    config.eval.update(metrics=("fid",), cache_dir=str(tmp_path / "cache"), reference_samples=10_000, batch_size=4)
    dataset = build_dataset(config.data, seed=0)
    monkeypatch.setattr("jaxgan.metrics.training_eval.load_extractor", lambda *a, **k: PixelExtractor())
    trained = TrainingEvaluator(config, build_gan(config, dataset.example_shape, None), dataset)
    [cached] = (tmp_path / "cache").iterdir()
    assert load_reference_stats(cached).key["split"] == "all" and "pixels-v1-legacy-uint8" in cached.name

    monkeypatch.setattr(evaluator, "compute_reference_stats", pytest.fail)
    later, _ = dataset_reference_stats(dataset_of(path), PixelExtractor(), cache_dir=tmp_path / "cache",
                                       batch_size=7)
    np.testing.assert_array_equal(later.mu, trained.reference.mu)


def test_content_identities_follow_the_content_not_the_name(tmp_path):
    from PIL import Image

    for name, value in (("one", 10), ("two", 20)):
        (tmp_path / name).mkdir()
        Image.fromarray(np.full((4, 4), value, np.uint8)).save(tmp_path / name / "x.png")
        Image.fromarray(np.full((4, 4), 0, np.uint8)).save(tmp_path / name / "y.png")
    (tmp_path / "two" / "y.png").write_bytes((tmp_path / "two" / "y.png").read_bytes() + b"\0")  # another size
    one, two = (load_folder(str(tmp_path / n), image_size=4, channels=1).identity for n in ("one", "two"))
    assert one != two
    (a, _), (b, _), (c, _) = (prepared(tmp_path / n, s) for n, s in (("p", 0), ("q", 1), ("r", 0)))
    ids = [dataset_of(p).content_identity for p in (a, b, c)]
    assert ids[0] != ids[1] and ids[0] == ids[2]  # the same pixels in another folder are the same data


def test_a_ref_dataset_name_that_is_no_dataset_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="--ref-dataset .*missing/x"):
        reference_data_config(str(tmp_path / "missing" / "x"))
    assert reference_data_config("cifar10").tfds_name == "cifar10"
    assert reference_data_config("imagenet_resized/32x32").name == "tfds"  # a tfds name with its config
