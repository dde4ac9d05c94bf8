"""Tests for `jaxgan prepare` (jaxgan/tools/prepare.py) and training data from a prepared dataset."""

import json
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan import cli
from jaxgan.config import base_config
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


def test_prepare_takes_the_majority_of_channels_and_counts_each_conversion(tmp_path, capsys):
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    save_png(tmp_path / "src" / "0_grey.png", grey)  # the first file is grey, the majority RGB
    rgb = [rng.integers(0, 256, (8, 12 if k == 0 else 8, 3), dtype=np.uint8) for k in range(3)]
    for k, image in enumerate(rgb):
        save_png(tmp_path / "src" / f"{k + 1}_rgb.png", image)
    run_prepare("--source", tmp_path / "src", "--out", tmp_path / "out", "--resolution", 8)
    summary = capsys.readouterr().out
    assert "channels 3 (RGB): the majority of the files (3 of 4; --channels 1 for grey)" in summary
    assert "converted 1 of 4 images from grey to RGB" in summary
    assert "center-cropped 1 of 4 non-square images to their central square" in summary
    meta = json.loads((tmp_path / "out" / META_FILE).read_text())
    assert meta["channels"] == 3 and "converted 1 of 4 images from grey to RGB" in meta["conversions"]
    stored = np.load(tmp_path / "out" / "images.npy")
    np.testing.assert_array_equal(stored[0], np.repeat(grey[..., None], 3, -1))
    np.testing.assert_array_equal(stored[1], rgb[0][:, 2:10])  # the central 8x8 of the 8x12 image, not a squeeze
    run_prepare("--source", tmp_path / "src", "--out", tmp_path / "grey.npz", "--resolution", 8, "--channels", 1)
    assert "converted 3 of 4 images from RGB to grey" in capsys.readouterr().out
    run_prepare("--source", tmp_path / "src", "--out", tmp_path / "two.npz", "--resolution", 8, "--channels", 1,
                "--max-images", 2)
    assert "converted 1 of 2 images from RGB to grey" in capsys.readouterr().out  # only the images written count
    with zipfile.ZipFile(tmp_path / "src.zip", "w") as archive:  # a .zip's headers are read the same way
        for path in sorted((tmp_path / "src").iterdir()):
            archive.write(path, path.name)
    run_prepare("--source", tmp_path / "src.zip", "--out", tmp_path / "zipped", "--resolution", 8)
    assert "the majority of the files (3 of 4" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(tmp_path / "zipped" / "images.npy"), stored)


def test_transform_none_refuses_non_square_images_in_one_line(tmp_path, capsys):
    save_png(tmp_path / "src" / "wide.png", np.zeros((6, 9), np.uint8))
    save_png(tmp_path / "src" / "square.png", np.zeros((6, 6), np.uint8))
    code = cli.main(["prepare", "--source", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--transform",
                     "none", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "1 of 2 images are not square" in err and "wide.png is 6x9" in err and "--transform center-crop" in err
    assert not (tmp_path / "out").exists()


def test_prepared_32x32_rgb_with_the_default_config_names_both_values_and_0_takes_dataset_json(tmp_path):
    rng = np.random.default_rng(3)
    for k in range(4):
        save_png(tmp_path / "src" / f"{k}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    out = tmp_path / "p"
    run_prepare("--source", tmp_path / "src", "--out", out, "--resolution", 32)
    data = base_config().data
    data.update(name="prepared", path=str(out))
    with pytest.raises(ValueError, match=r"is 32x32x3 \(its dataset.json\), but the config asks for "
                                         r"data.image_size=28; set --config.data.image_size=32 \(or 0"):
        build_dataset(data, seed=0)
    data.update(image_size=16, channels=1)
    with pytest.raises(ValueError, match=r"asks for data.image_size=16, data.channels=1; set "
                                         r"--config.data.image_size=32 --config.data.channels=3 .* --resolution 16 "
                                         r"--channels 1\."):
        build_dataset(data, seed=0)
    data.update(image_size=0, channels=0)  # 0: the dataset's own, from its dataset.json
    ds = build_dataset(data, seed=0)
    assert ds.example_shape == (32, 32, 3)
    np.testing.assert_array_equal(ds.reader(np.arange(4))["x"], np.load(out / "images.npy"))
    data.update(image_size=32, channels=3)  # equal values are fine too
    assert build_dataset(data, seed=0).example_shape == (32, 32, 3)
    data.update(path=str(tmp_path / "src"))
    with pytest.raises(FileNotFoundError, match="is not a prepared dataset.*jaxgan prepare"):
        build_dataset(data, seed=0)
