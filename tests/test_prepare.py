"""Tests for `jaxgan prepare` (jaxgan/tools/prepare.py) and training data from a prepared dataset."""

import json
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan import cli
from jaxgan.data import build_dataset, default_config
from jaxgan.data.prepared import META_FILE
from jaxgan.tools import prepare


def save_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def photo_folder(tmp_path):
    """Two classes of random RGB images of differing sizes, plus a truncated PNG and an empty file."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    images = {}
    for cls, sizes in (("cat", [(20, 30), (25, 18)]), ("dog", [(16, 16), (30, 21)])):
        for k, size in enumerate(sizes):
            images[f"{cls}/{k}.png"] = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            save_png(root / cls / f"{k}.png", images[f"{cls}/{k}.png"])
    full = (root / "dog" / "1.png").read_bytes()
    (root / "dog" / "2_truncated.png").write_bytes(full[: len(full) // 2])
    (root / "cat" / "3_empty.png").write_bytes(b"")
    return root, images


def run_prepare(*args):
    return prepare.main([*map(str, args), "--no-progress"])


def pil_reference(image, size):
    """Centre square crop, then PIL's float bilinear resize per channel, rounded: an independent reference."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[top : top + side, left : left + side].astype(np.float32)
    channels = [np.asarray(Image.fromarray(crop[..., c]).resize((size, size), Image.Resampling.BILINEAR))
                for c in range(crop.shape[-1])]
    return np.clip(np.rint(np.stack(channels, -1)), 0, 255).astype(np.uint8)


def test_prepared_round_trips_pixel_exactly_and_skips_corrupt_files(photo_folder, tmp_path, caplog):
    root, images = photo_folder
    out = tmp_path / "prepared"
    assert run_prepare("--source", root, "--out", out, "--resolution", 8) == 0
    meta = json.loads((out / META_FILE).read_text())
    assert (meta["count"], meta["resolution"], meta["channels"], meta["classes"]) == (4, 8, 3, ["cat", "dog"])
    assert sorted(meta["skipped"]) == sorted([str(root / "cat" / "3_empty.png"), str(root / "dog" / "2_truncated.png")])
    assert "3_empty.png" in caplog.text and "2_truncated.png" in caplog.text and len(meta["sha256"]) == 64
    cfg = default_config()
    cfg.update(name="prepared", path=str(out))
    ds = build_dataset(cfg, seed=0)
    assert (ds.example_shape, ds.num_classes, ds.num_examples) == ((8, 8, 3), 2, 4)
    stored, labels = ds.source.read(np.arange(4))
    assert stored.dtype == np.uint8
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
    for got, name in zip(stored, sorted(images), strict=True):
        assert np.abs(got.astype(int) - pil_reference(images[name], 8)).max() <= 1  # PIL's float rounding
    (root / "cat" / "3_empty.png").unlink()
    (root / "dog" / "2_truncated.png").unlink()
    cfg.update(name="folder", path=str(root), image_size=8, center_crop=True)
    folder = build_dataset(cfg, seed=0)  # training from the folder gives the very same pixels
    np.testing.assert_array_equal(next(folder.batches(4))["x"], next(ds.batches(4))["x"])


def test_strict_stops_at_the_first_bad_image_naming_it(photo_folder, tmp_path, capsys):
    root, _ = photo_folder
    out = tmp_path / "strict"
    code = cli.main(["prepare", "--source", str(root), "--out", str(out), "--resolution", "8", "--strict",
                     "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "3_empty.png" in err and "--strict" in err
    assert not out.exists()


def test_out_is_refused_unless_overwrite_and_nothing_else_is_deleted(photo_folder, tmp_path):
    root, _ = photo_folder
    out = tmp_path / "prepared"
    run_prepare("--source", root, "--out", out, "--resolution", 8, "--max-images", 2)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already holds a prepared dataset; pass --overwrite"):
        run_prepare("--source", root, "--out", out, "--resolution", 4)
    assert json.loads((out / META_FILE).read_text())["count"] == 2  # untouched
    with pytest.raises(ValueError, match="--strict"):  # a failed overwrite keeps the old dataset
        run_prepare("--source", root, "--out", out, "--resolution", 4, "--overwrite", "--strict")
    assert json.loads((out / META_FILE).read_text())["resolution"] == 8
    run_prepare("--source", root, "--out", out, "--resolution", 4, "--overwrite")
    assert json.loads((out / META_FILE).read_text())["resolution"] == 4
    assert (out / "notes.txt").read_text() == "mine"
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a prepared dataset"):
        run_prepare("--source", root, "--out", other, "--resolution", 4, "--overwrite")


def test_zip_source_with_class_folders_and_gray_channels(tmp_path):
    archive = tmp_path / "digits.zip"
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(archive, "w") as zf:
        for cls in ("a", "b"):
            for k in range(2):
                path = tmp_path / "tmp.png"
                Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(path)
                zf.write(path, f"{cls}/{k}.png")
    out = tmp_path / "zipped"
    run_prepare("--source", archive, "--out", out, "--resolution", 6, "--channels", 1, "--transform", "none")
    cfg = default_config()
    cfg.update(name="prepared", path=str(out))
    ds = build_dataset(cfg, seed=0)
    assert (ds.example_shape, ds.num_classes, ds.num_examples) == ((6, 6, 1), 2, 4)


def test_tfds_source_through_mock(tmp_path):
    out = tmp_path / "mnist"
    with tfds.testing.mock_data(num_examples=5, policy=tfds.testing.MockPolicy.USE_CODE):
        run_prepare("--source", "tfds:mnist", "--out", out, "--resolution", 14)
        source = tfds.data_source("mnist", split="train")
        expected_labels = [source[i]["label"] for i in range(5)]
    meta = json.loads((out / META_FILE).read_text())
    assert (meta["count"], meta["channels"], len(meta["classes"])) == (5, 1, 10)
    np.testing.assert_array_equal(np.load(out / "labels.npy"), expected_labels)


def test_center_crop_wide_puts_a_2_to_1_band_between_black_bars(tmp_path):
    save_png(tmp_path / "src" / "wide.png", np.full((10, 40, 3), 200, np.uint8))
    out = tmp_path / "wide"
    run_prepare("--source", tmp_path / "src", "--out", out, "--resolution", 8, "--transform", "center-crop-wide")
    cfg = default_config()
    cfg.update(name="prepared", path=str(out))
    image = build_dataset(cfg, seed=0).source.read(np.arange(1))[0][0]
    np.testing.assert_array_equal(image[2:6], 200)
    np.testing.assert_array_equal(image[:2], 0)
    np.testing.assert_array_equal(image[6:], 0)


def test_config_of_another_resolution_or_channel_count_is_refused(photo_folder, tmp_path):
    root, _ = photo_folder
    out = tmp_path / "p"
    run_prepare("--source", root, "--out", out, "--resolution", 8)
    cfg = default_config()
    cfg.update(name="prepared", path=str(out), image_size=16)
    with pytest.raises(ValueError, match=r"is 8x8, but data.image_size=16; set data.image_size=8"):
        build_dataset(cfg, seed=0)
    cfg.update(image_size=8, channels=1)
    with pytest.raises(ValueError, match="has 3 channels, but data.channels=1"):
        build_dataset(cfg, seed=0)
    cfg.update(path=str(root), channels=0)
    with pytest.raises(FileNotFoundError, match="is not a prepared dataset.*jaxgan prepare"):
        build_dataset(cfg, seed=0)
