"""Tests for jaxgan.data: sources, preprocessing, resumable batching, sharding and prefetch."""

import itertools

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image
from sklearn.datasets import load_digits

from jaxgan.config import base_config
from jaxgan.data import build_dataset, default_config, mixtures, prefetch_to_device, stack_batches
from jaxgan.data.images import fit_uint8, preprocess, resize
from jaxgan.data.indexing import batch_indices


def make_cfg(**overrides):
    """Return a data config with `overrides` applied."""
    cfg = default_config()
    cfg.update(overrides)
    return cfg


def take(iterator, count):
    """Return the first `count` items of `iterator` as a list."""
    return list(itertools.islice(iterator, count))


def ids_of(x):
    """Recover example ids from images whose pixels all equal the id (uint8, or uint8 scaled to [-1, 1])."""
    first = x.reshape(len(x), -1)[:, 0]
    return first.astype(int) if x.dtype == np.uint8 else np.rint((first + 1.0) * 127.5).astype(int)


@pytest.fixture
def id_npz(tmp_path):
    """Write an .npz of `n` 2x2 gray uint8 images where image i is constant i, labels i % 3."""

    def write(n):
        path = tmp_path / f"ids{n}.npz"
        images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None], (n, 2, 2))
        np.savez(path, images=images, labels=np.arange(n) % 3)
        return str(path)

    return write


# --- digits -------------------------------------------------------------------------------------


def test_digits_values_labels_and_metadata():
    ds = build_dataset(make_cfg(), seed=3)
    digits = load_digits()
    assert (ds.name, ds.kind, ds.example_shape) == ("digits", "image", (8, 8, 1))
    assert (ds.num_classes, ds.num_examples, ds.modes) == (10, 1797, None)
    batch = next(ds.batches(32))
    idx = batch_indices(3, 0, 32, 1797, "drop")
    assert batch["x"].dtype == np.float32 and batch["label"].dtype == np.int32
    np.testing.assert_allclose(batch["x"][..., 0], digits.images[idx] / 8.0 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(batch["label"], digits.target[idx])
    assert batch["x"].min() >= -1.0 and batch["x"].max() <= 1.0


def test_digits_resize_to_28_matches_pil_bilinear():
    ds = build_dataset(make_cfg(image_size=28), seed=0)
    assert ds.example_shape == (28, 28, 1)
    raw = load_digits().images[:5].astype(np.float32)
    expected = [np.asarray(Image.fromarray(im).resize((28, 28), Image.Resampling.BILINEAR)) for im in raw]
    got = ds.all_images()[:5, ..., 0]
    np.testing.assert_allclose(got, np.clip(np.stack(expected) / 8.0 - 1.0, -1, 1), atol=1e-5)


@pytest.mark.parametrize("shape, size", [((30, 20, 3), 8), ((5, 7, 2), 12), ((9, 9, 1), 9)])
def test_resize_matches_pil_float_bilinear(shape, size):
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    expected = [
        np.asarray(Image.fromarray(image[..., c]).resize((size, size), Image.Resampling.BILINEAR))
        for c in range(shape[-1])
    ]
    np.testing.assert_allclose(resize(image, size), np.stack(expected, -1), atol=1e-6)


def test_digits_channels_3_repeats_gray():
    gray = build_dataset(make_cfg(), seed=0).all_images(limit=50)
    rgb = build_dataset(make_cfg(channels=3), seed=0).all_images(limit=50)
    assert rgb.shape == (50, 8, 8, 3)
    np.testing.assert_array_equal(rgb, np.repeat(gray, 3, axis=-1))


# --- tfds (mocked: no download, no TensorFlow) --------------------------------------------------


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_data_source_through_mock(name, shape):
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        ds = build_dataset(make_cfg(name="tfds", tfds_name=name), seed=0)
        source = tfds.data_source(name, split="train")
        assert (ds.example_shape, ds.num_classes, ds.num_examples) == (shape, 10, 12)
        batch = next(ds.batches(8))
        (evaluation,) = take(ds.epoch_batches(12), 1)
    idx = batch_indices(0, 0, 8, 12, "drop")
    raw = np.stack([source[int(i)]["image"] for i in idx])
    assert batch["x"].shape == (8, *shape) and batch["x"].dtype == np.uint8  # uint8 crosses to the device
    np.testing.assert_array_equal(batch["x"], raw)
    np.testing.assert_allclose(evaluation["x"], np.stack([source[i]["image"] for i in range(12)]) / 127.5 - 1.0,
                               atol=1e-6)
    np.testing.assert_array_equal(batch["label"], [source[int(i)]["label"] for i in idx])
    assert evaluation["mask"].all() and evaluation["label"].min() >= 0


def test_tfds_dataset_without_image_feature_is_rejected():
    mock = tfds.testing.mock_data(num_examples=2, policy=tfds.testing.MockPolicy.USE_CODE)
    with mock, pytest.raises(ValueError, match="no image feature"):
        build_dataset(make_cfg(name="tfds", tfds_name="imdb_reviews"), seed=0)


def test_tfds_not_prepared_without_download_explains_the_ways_out(tmp_path):
    cfg = make_cfg(name="tfds", tfds_name="mnist", data_dir=str(tmp_path), download=False)
    with pytest.raises(FileNotFoundError, match="is not prepared in") as info:
        build_dataset(cfg, seed=0)
    message = str(info.value)
    assert f"jaxgan prepare --source tfds:mnist --data-dir {tmp_path}" in message
    assert "data.download=True" in message and "data.data_dir" in message


def test_tfds_unknown_name():
    with pytest.raises(ValueError, match="unknown tfds dataset"):
        build_dataset(make_cfg(name="tfds", tfds_name="no_such_dataset_xyz"), seed=0)


# --- folder -------------------------------------------------------------------------------------


def save_png(path, array):
    """Write `array` (HW or HWC uint8) to `path` as a PNG, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_mixed_gray_and_rgb_unlabelled(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    rgb = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    save_png(tmp_path / "a.png", gray)
    save_png(tmp_path / "sub" / "b.PNG", rgb)  # found recursively, extension case-insensitive
    (tmp_path / "notes.txt").write_text("not an image")
    save_png(tmp_path / ".thumbs" / "hidden.png", gray)  # hidden folders are skipped
    ds = build_dataset(make_cfg(name="folder", path=str(tmp_path)), seed=0)
    assert (ds.example_shape, ds.num_examples, ds.num_classes) == ((5, 6, 3), 2, None)
    (batch,) = take(ds.epoch_batches(2), 1)
    assert "label" not in batch
    expected = np.stack([np.repeat(gray[..., None], 3, -1), rgb]) / 127.5 - 1.0
    np.testing.assert_allclose(batch["x"], expected, atol=1e-6)
    gray_ds = build_dataset(make_cfg(name="folder", path=str(tmp_path), channels=1), seed=0)
    luma = np.rint(rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))  # converted on the host, in uint8
    np.testing.assert_allclose(gray_ds.all_images()[1, ..., 0], luma / 127.5 - 1.0, atol=1e-5)


def test_folder_class_subfolders_give_sorted_labels(tmp_path):
    for label, cls in enumerate(["cat", "dog", "zebra"]):
        for k in range(2):
            value = np.full((4, 4), 10 * label + k, np.uint8)
            save_png(tmp_path / cls / f"{k}.png", value)
    ds = build_dataset(make_cfg(name="folder", path=str(tmp_path)), seed=1)
    assert (ds.num_classes, ds.num_examples, ds.example_shape) == (3, 6, (4, 4, 1))
    batch = next(ds.batches(6))
    np.testing.assert_array_equal(batch["label"], ids_of(batch["x"]) // 10)


def test_folder_differing_sizes_need_image_size(tmp_path):
    save_png(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    save_png(tmp_path / "b.png", np.zeros((6, 5), np.uint8))
    with pytest.raises(ValueError, match="differing sizes.*set data.image_size"):
        build_dataset(make_cfg(name="folder", path=str(tmp_path)), seed=0)
    ds = build_dataset(make_cfg(name="folder", path=str(tmp_path), image_size=3, center_crop=True), seed=0)
    assert next(ds.batches(2))["x"].shape == (2, 3, 3, 1)


def write_channel_mix(root, rgb_count, grey_count):
    """`rgb_count` RGB and `grey_count` grey 6x6 PNGs; a grey file sorts first, so first-file rules show."""
    rng = np.random.default_rng(rgb_count)
    grey = [rng.integers(0, 256, (6, 6), dtype=np.uint8) for _ in range(grey_count)]
    rgb = [rng.integers(0, 256, (6, 6, 3), dtype=np.uint8) for _ in range(rgb_count)]
    for i, image in enumerate(grey):
        save_png(root / f"a_grey{i}.png", image)
    for i, image in enumerate(rgb):
        save_png(root / f"b_rgb{i}.png", image)
    return grey, rgb


def test_folder_channels_are_the_majority_and_each_conversion_is_counted(tmp_path, caplog):
    grey, rgb = write_channel_mix(tmp_path / "colour", rgb_count=3, grey_count=1)
    write_channel_mix(tmp_path / "grey", rgb_count=2, grey_count=3)
    colour = build_dataset(make_cfg(name="folder", path=str(tmp_path / "colour")), seed=0)
    assert colour.example_shape == (6, 6, 3)  # 3 of 4 are RGB, though the first file is grey
    assert "converted 1 of 4 images from grey to RGB (RGB is the majority, 3 of 4; data.channels=1" in caplog.text
    images = colour.all_images()
    np.testing.assert_allclose(images[0], np.repeat(grey[0][..., None], 3, -1) / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_allclose(images[1], rgb[0] / 127.5 - 1.0, atol=1e-6)
    caplog.clear()
    assert build_dataset(make_cfg(name="folder", path=str(tmp_path / "grey")), seed=0).example_shape == (6, 6, 1)
    assert "converted 2 of 5 images from RGB to grey (grey is the majority, 3 of 5; data.channels=3" in caplog.text
    caplog.clear()
    build_dataset(make_cfg(name="folder", path=str(tmp_path / "colour"), channels=1), seed=0)
    assert "converted 3 of 4 images from RGB to grey (data.channels=1)" in caplog.text


def test_the_base_config_keeps_a_colour_folder_in_colour(tmp_path):
    write_channel_mix(tmp_path, rgb_count=2, grey_count=0)
    data = base_config().data
    data.update(name="folder", path=str(tmp_path))
    assert build_dataset(data, seed=0).example_shape == (28, 28, 3)


def marked_image(height, width):
    """A black uint8 RGB image with a 2x2 white marker at its centre and a grey stripe down its left edge."""
    image = np.zeros((height, width, 3), np.uint8)
    image[height // 2 - 1 : height // 2 + 1, width // 2 - 1 : width // 2 + 1] = 255
    image[:, 0] = 100
    return image


def test_non_square_images_are_cropped_when_asked_and_never_stretched(tmp_path, caplog):
    wide = marked_image(8, 12)
    save_png(tmp_path / "wide.png", wide)
    save_png(tmp_path / "square.png", marked_image(8, 8))
    with pytest.raises(ValueError, match=r"1 of 2 images .* are not square \(e.g. .*wide.png is 8x12, HxW\) and "
                                         r"resizing them to 8x8 \(data.image_size=8\) would stretch them; set "
                                         r"data.center_crop=True"):
        build_dataset(make_cfg(name="folder", path=str(tmp_path), image_size=8), seed=0)
    cropped = build_dataset(make_cfg(name="folder", path=str(tmp_path), image_size=8, center_crop=True), seed=0)
    assert "center-cropped 1 of 2 non-square images to their central square" in caplog.text
    got = cropped.all_images()[1]  # sorted: square.png, wide.png
    np.testing.assert_allclose(got, wide[:, 2:10] / 127.5 - 1.0, atol=1e-6)  # the centre 8x8, marker in the middle
    assert got[3:5, 3:5].min() == 1.0 and got[:, 0].max() == -1.0  # the edge stripe was cropped away, not squeezed


def test_sources_of_known_or_per_image_shape_refuse_to_stretch(tmp_path):
    np.savez(tmp_path / "wide.npz", images=np.zeros((2, 4, 6), np.uint8))
    with pytest.raises(ValueError, match=r"wide is 4x6 \(HxW\), not square.*set data.center_crop=True"):
        build_dataset(make_cfg(name="npz", path=str(tmp_path / "wide.npz"), image_size=4), seed=0)
    with pytest.raises(ValueError, match=r"4x6 \(HxW\), not square, and resizing it to 4x4 would stretch it"):
        fit_uint8(np.zeros((4, 6, 1), np.uint8), image_size=4)  # per image (tfds sources of varying size)
    with pytest.raises(ValueError, match="not square"):
        preprocess([np.zeros((4, 6, 1)), np.zeros((4, 4, 1))], value_range=(0.0, 1.0), image_size=4)
    assert fit_uint8(np.zeros((4, 6, 1), np.uint8), image_size=4, center_crop=True).shape == (4, 4, 1)


def test_folder_missing_or_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an existing folder"):
        build_dataset(make_cfg(name="folder", path=str(tmp_path / "nope")), seed=0)
    with pytest.raises(FileNotFoundError, match=r"no image files \(.png.*found under"):
        build_dataset(make_cfg(name="folder", path=str(tmp_path)), seed=0)


# --- npz ----------------------------------------------------------------------------------------


def test_npz_uint8_nhw_and_float_nhwc(tmp_path):
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (6, 4, 5), dtype=np.uint8)
    np.savez(tmp_path / "u8.npz", x=u8, y=np.arange(6) % 4)
    ds = build_dataset(make_cfg(name="npz", path=str(tmp_path / "u8.npz")), seed=0)
    assert (ds.example_shape, ds.num_classes, ds.num_examples) == ((4, 5, 1), 4, 6)
    np.testing.assert_allclose(ds.all_images()[..., 0], u8 / 127.5 - 1.0, atol=1e-6)
    unit = rng.random((3, 4, 4, 3)).astype(np.float32)
    np.savez(tmp_path / "f.npz", images=unit)
    ds = build_dataset(make_cfg(name="npz", path=str(tmp_path / "f.npz")), seed=0)
    assert ds.num_classes is None and "label" not in next(ds.batches(2))
    np.testing.assert_allclose(ds.all_images(), unit * 2.0 - 1.0, atol=1e-6)


def test_npz_center_crop_and_rgb_to_gray(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (2, 4, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "c.npz", images=rgb)
    cfg = make_cfg(name="npz", path=str(tmp_path / "c.npz"), center_crop=True, channels=1)
    ds = build_dataset(cfg, seed=0)
    assert ds.example_shape == (4, 4, 1)
    luma = np.rint(rgb[:, :, 1:5].astype(np.float64) @ np.array([0.299, 0.587, 0.114]))
    np.testing.assert_allclose(ds.all_images()[..., 0], luma / 127.5 - 1.0, atol=1e-5)


def test_npz_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an existing .npz"):
        build_dataset(make_cfg(name="npz", path=str(tmp_path / "missing.npz")), seed=0)
    np.savez(tmp_path / "bad.npz", pixels=np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"no image array: expected key 'images' or 'x'.*pixels"):
        build_dataset(make_cfg(name="npz", path=str(tmp_path / "bad.npz")), seed=0)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown data.name='mnist'.*digits, tfds, folder, npz"):
        build_dataset(make_cfg(name="mnist"), seed=0)


# --- mixtures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, num_modes, std, extent",
    [("ring8", 8, mixtures.RING8_STD, 2.0), ("grid25", 25, mixtures.GRID25_STD, 4.0)],
)
def test_mixture_samples_lie_near_modes_and_hit_all(name, num_modes, std, extent):
    ds = build_dataset(make_cfg(name=name), seed=0)
    assert (ds.kind, ds.example_shape, ds.num_examples, ds.mode_std) == ("points", (2,), None, std)
    assert ds.modes.shape == (num_modes, 2) and np.abs(ds.modes).max() == pytest.approx(extent)
    x = np.concatenate([b["x"] for b in take(ds.batches(500), 4)])
    distances = np.linalg.norm(x[:, None] - ds.modes[None], axis=-1)
    assert distances.min(axis=1).max() < 5 * std
    assert len(np.unique(distances.argmin(axis=1))) == num_modes
    ring_radii = np.linalg.norm(mixtures.ring_modes(), axis=-1)
    np.testing.assert_allclose(ring_radii, 2.0, rtol=1e-6)


def test_mixture_batches_are_seeded_per_index():
    ds = build_dataset(make_cfg(name="ring8"), seed=5)
    rng = np.random.default_rng([5, 3])
    expected = mixtures.sample_mixture(rng, ds.modes, ds.mode_std, 16)
    np.testing.assert_array_equal(next(ds.batches(16, start_batch=3))["x"], expected)
    with pytest.raises(ValueError, match="infinite"):
        ds.epoch_batches(8)
    assert ds.all_images(limit=10).shape == (10, 2)


# --- determinism, epochs, remainder, sharding ---------------------------------------------------


def test_same_seed_same_batches_different_seed_differs():
    first = take(build_dataset(make_cfg(), seed=7).batches(16), 3)
    again = take(build_dataset(make_cfg(), seed=7).batches(16), 3)
    other = take(build_dataset(make_cfg(), seed=8).batches(16), 3)
    for a, b, c in zip(first, again, other, strict=True):
        np.testing.assert_array_equal(a["x"], b["x"])
        assert not np.array_equal(a["label"], c["label"])


@pytest.mark.parametrize("name, remainder", [("npz", "drop"), ("npz", "pad"), ("ring8", "drop")])
def test_resume_from_start_batch_equals_skipping(id_npz, name, remainder):
    ds = build_dataset(make_cfg(name=name, path=id_npz(10), remainder=remainder), seed=2)
    stream = take(ds.batches(4), 9)
    resumed = take(ds.batches(4, start_batch=6), 3)
    for a, b in zip(stream[6:], resumed, strict=True):
        np.testing.assert_array_equal(a["x"], b["x"])


def test_drop_epochs_are_reshuffled_permutations(id_npz):
    ds = build_dataset(make_cfg(name="npz", path=id_npz(12)), seed=0)
    ids = np.concatenate([ids_of(b["x"]) for b in take(ds.batches(4), 9)]).reshape(3, 12)
    for epoch in ids:
        np.testing.assert_array_equal(np.sort(epoch), np.arange(12))
    assert not np.array_equal(ids[0], ids[1]) and not np.array_equal(ids[1], ids[2])
    labels = np.concatenate([b["label"] for b in take(ds.batches(4), 3)])
    np.testing.assert_array_equal(labels, ids[0] % 3)


def test_remainder_drop_vs_pad(id_npz):
    path = id_npz(10)
    drop = build_dataset(make_cfg(name="npz", path=path, remainder="drop"), seed=4)
    perms = [np.random.default_rng([4, e]).permutation(10) for e in range(2)]
    ids = np.concatenate([ids_of(b["x"]) for b in take(drop.batches(4), 4)])
    # 2 batches per epoch; the last 2 examples of each epoch's order are dropped.
    np.testing.assert_array_equal(ids, np.concatenate([perms[0][:8], perms[1][:8]]))
    pad = build_dataset(make_cfg(name="npz", path=path, remainder="pad"), seed=4)
    stream = np.concatenate([ids_of(b["x"]) for b in take(pad.batches(4), 5)])
    # Batch 2 is perms[0][8:] completed by perms[1][:2]; batch 3 continues at perms[1][2:].
    np.testing.assert_array_equal(stream, np.concatenate(perms))
    assert all(len(b["x"]) == 4 for b in take(pad.batches(4), 5))
    with pytest.raises(ValueError, match="exceeds the 10 examples with data.remainder='drop'"):
        drop.batches(11)
    assert next(pad.batches(11))["x"].shape == (11, 2, 2, 1)


def test_process_shards_union_equals_global_batch(id_npz):
    ds = build_dataset(make_cfg(name="npz", path=id_npz(20)), seed=9)
    for start in (0, 5):
        full = next(ds.batches(8, start_batch=start))
        parts = [next(ds.batches(8, start_batch=start, process_index=p, process_count=4)) for p in range(4)]
        for key in ("x", "label"):
            np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), full[key])
    ring = build_dataset(make_cfg(name="ring8"), seed=0)
    halves = [next(ring.batches(6, process_index=p, process_count=2))["x"] for p in range(2)]
    np.testing.assert_array_equal(np.concatenate(halves), next(ring.batches(6))["x"])
    with pytest.raises(ValueError, match="not divisible by process_count=3"):
        ds.batches(8, process_count=3)


def test_epoch_batches_pad_with_mask_in_storage_order(id_npz):
    ds = build_dataset(make_cfg(name="npz", path=id_npz(10)), seed=0)
    batches = list(ds.epoch_batches(4))
    assert [b["mask"].sum() for b in batches] == [4, 4, 2]
    last = batches[-1]
    np.testing.assert_array_equal(ids_of(last["x"][:2]), [8, 9])
    assert np.all(last["x"][2:] == 0) and np.all(last["label"][2:] == 0)
    ids = np.concatenate([ids_of(b["x"])[b["mask"]] for b in batches])
    np.testing.assert_array_equal(ids, np.arange(10))
    subset = ds.all_images(limit=4)
    assert subset.shape == (4, 2, 2, 1) and len(set(ids_of(subset))) == 4


# --- prefetch and stacking ----------------------------------------------------------------------


def test_prefetch_to_device_matches_host_iterator():
    ds = build_dataset(make_cfg(), seed=0)
    host = take(ds.batches(8), 4)
    devices = np.array(jax.devices())
    mesh = jax.sharding.Mesh(devices, ("data",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    for shard in (None, sharding):
        fetched = take(prefetch_to_device(ds.batches(8), size=2, sharding=shard), 4)
        for h, d in zip(host, fetched, strict=True):
            assert isinstance(d["x"], jax.Array)
            np.testing.assert_array_equal(np.asarray(d["x"]), h["x"])
            np.testing.assert_array_equal(np.asarray(d["label"]), h["label"])
        if shard is not None:
            assert fetched[0]["x"].sharding == sharding
    finite = list(prefetch_to_device(iter([{"a": np.ones(2)}] * 3), size=1))
    assert len(finite) == 3


def test_prefetch_reraises_producer_errors():
    def failing():
        yield {"x": np.zeros(2)}
        raise RuntimeError("broken source")

    fetched = prefetch_to_device(failing())
    np.testing.assert_array_equal(np.asarray(next(fetched)["x"]), np.zeros(2))
    with pytest.raises(RuntimeError, match="broken source"):
        next(fetched)


def test_stack_batches_adds_leading_axis():
    ds = build_dataset(make_cfg(), seed=0)
    host = take(ds.batches(8), 6)
    stacked = take(stack_batches(ds.batches(8), 3), 2)
    assert stacked[0]["x"].shape == (3, 8, 8, 8, 1) and stacked[0]["label"].shape == (3, 8)
    np.testing.assert_array_equal(stacked[1]["x"][2], host[5]["x"])
    assert len(list(stack_batches(iter(host[:5]), 2))) == 2  # trailing partial group dropped
    with pytest.raises(ValueError, match="k must be >= 1"):
        stack_batches(iter(host), 0)


# --- bad input: one named error at load time ----------------------------------------------------


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_npz_with_nan_or_inf_is_bad_data_naming_file_and_array(tmp_path, value):
    images = np.zeros((4, 3, 3), np.float32)
    images[2, 1, 1] = value
    np.savez(tmp_path / "nan.npz", images=images)
    with pytest.raises(ValueError, match=r"bad data: .*nan.npz\['images'\] holds 1 NaN or infinite values.*\(2, 1, 1"):
        build_dataset(make_cfg(name="npz", path=str(tmp_path / "nan.npz")), seed=0)


def test_file_that_is_not_an_npz(tmp_path):
    (tmp_path / "text.npz").write_text("not a zip archive")
    with pytest.raises(ValueError, match=r"text.npz is not an .npz archive"):
        build_dataset(make_cfg(name="npz", path=str(tmp_path / "text.npz")), seed=0)
    np.savez(tmp_path / "objects.npz", images=np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match=r"cannot read array 'images' of .*objects.npz.*no object dtype"):
        build_dataset(make_cfg(name="npz", path=str(tmp_path / "objects.npz")), seed=0)


def test_zero_byte_and_garbage_images_are_named_at_load(tmp_path):
    save_png(tmp_path / "good.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"image file .*empty.png is empty \(0 bytes\)"):
        build_dataset(make_cfg(name="folder", path=str(tmp_path)), seed=0)
    (tmp_path / "empty.png").write_bytes(b"garbage, not a PNG")
    with pytest.raises(ValueError, match=r"cannot read image .*empty.png"):
        build_dataset(make_cfg(name="folder", path=str(tmp_path)), seed=0)


def test_truncated_png_is_named_when_decoded(tmp_path):
    save_png(tmp_path / "a.png", np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8))
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(data[: len(data) // 2])
    ds = build_dataset(make_cfg(name="folder", path=str(tmp_path), image_size=4, channels=1), seed=0)
    with pytest.raises(ValueError, match=r"cannot decode image .*a.png: .*truncated"):
        ds.all_images()


def test_tfds_import_failure_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tfds(name, *args, **kwargs):
        if name == "tensorflow_datasets":
            raise ImportError("No module named 'tensorflow_datasets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tfds)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[tfds\]"'):
        build_dataset(make_cfg(name="tfds"), seed=0)


def test_a_source_registered_in_a_test_file_trains_like_a_builtin():
    """A new dataset source is one decorated function: `data.name` then opens it, values rescaled to [-1, 1]."""
    from jaxgan.data import register_source, source_names
    from jaxgan.data.sources import array_source

    images = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2, 1) * 10  # values 0..150 of a 0..255 range

    @register_source("tiny_ramp")
    def tiny_ramp(cfg):
        return array_source("tiny_ramp", images, None, (0.0, 255.0))

    assert "tiny_ramp" in source_names()
    ds = build_dataset(make_cfg(name="tiny_ramp"), seed=0)
    assert ds.example_shape == (2, 2, 1) and ds.num_examples == 4
    np.testing.assert_allclose(np.sort(ds.all_images().ravel()), np.sort(images.ravel() / 127.5 - 1.0), atol=1e-6)
    with pytest.raises(ValueError, match="already a source"):
        register_source("folder")(tiny_ramp)
