"""Translation data: folder layouts, tfds cycle_gan (mocked), the paper's jitter on grain (uint8 batches decoded on
the device, workers, resume, process rows), and clear errors."""

import itertools

import jax
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan.data.device import decode_batch
from jaxgan.data.images import resize, to_unit_range
from jaxgan.translation.config import base_config
from jaxgan.translation.data import build_translation_data, load_size_for
from jaxgan.translation.synthetic import write_discs_and_squares, write_inversion_pairs


def data_cfg(**overrides) -> ml_collections.ConfigDict:
    cfg = base_config("pix2pix").data
    cfg.update({"source": "folder", "crop_size": 16, "eval_split": "", **overrides})
    return cfg


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


def random_image(rng, h, w):
    return rng.integers(0, 256, (h, w, 3))


def take(iterator, count):
    return list(itertools.islice(iterator, count))


def write_noise_pairs(root, count, size=16):
    """Side-by-side pairs of uniform noise A and B = 255 - A: any crop or flip mismatch shows everywhere."""
    rng = np.random.default_rng(0)
    for i in range(count):
        a = random_image(rng, size, size)
        save(root / "train" / f"{i:02d}.png", np.concatenate([a, 255 - a], axis=1))
    return root


def test_load_size_scales_the_papers_286_for_256():
    assert load_size_for(256) == 286 and load_size_for(32) == 36 and load_size_for(32, 40) == 40


def test_side_by_side_pairs_get_the_same_crop_and_flip(tmp_path):
    root = write_noise_pairs(tmp_path, 6)
    data = build_translation_data(data_cfg(path=str(root)), paired=True, seed=0)
    assert data.paired and data.sizes == (6, 6) and data.example_shape == (16, 16, 3) and data.load_size == 18
    batches = data.host_batches(4)
    for i in range(5):
        batch = batches[i]
        assert batch["a"].shape == batch["b"].shape == (4, 16, 16, 3) and batch["a"].dtype == np.uint8
        # B is A inverted, and resizing, cropping and flipping commute with inversion; rounding to uint8 may part
        # them by one level. A different crop or flip of noise would part them by ~85 levels on average.
        gap = np.abs(batch["b"].astype(int) - (255 - batch["a"].astype(int)))
        assert gap.max() <= 1


def test_training_images_are_random_crops_and_flips_of_the_resized_image(tmp_path):
    rng = np.random.default_rng(0)
    image = random_image(rng, 20, 40)
    save(tmp_path / "p.png", image)
    data = build_translation_data(data_cfg(path=str(tmp_path)), paired=True, seed=3)
    # The float path: A resized to load_size 18 in float, scaled to [-1, 1], then cropped and flipped.
    left = to_unit_range(resize(image[:, :20].astype(np.float32), 18), (0, 255))
    views = {(t, u, f): (left[t:t + 16, u:u + 16][:, ::-1] if f else left[t:t + 16, u:u + 16])
             for t in range(3) for u in range(3) for f in (False, True)}
    host = take(data.batches(8), 3)
    assert all(b["a"].dtype == np.uint8 for b in host)
    decode = jax.jit(lambda batch: decode_batch(batch, images=("a", "b")))
    decoded = np.concatenate([np.asarray(decode(b)["a"]) for b in host])
    found = []
    for x in decoded:  # uint8 rounding moves a pixel by at most half a level: 1/255 in [-1, 1]
        match = [k for k, v in views.items() if np.abs(x - v).max() <= 1 / 255 + 1e-6]
        assert len(match) == 1
        found.append(match[0])
    assert len(set(found)) > 6 and {f for _, _, f in found} == {False, True}
    # Evaluation images are resized straight to the crop size, unflipped.
    np.testing.assert_allclose(data.eval_batch(1)["a"][0], to_unit_range(resize(image[:, :20].astype(np.float32),
                                                                               16), (0, 255)), atol=1e-5)


def test_batches_resume_exactly_and_unpaired_domains_shuffle_independently(tmp_path):
    root = write_discs_and_squares(tmp_path, {"train": (5, 7)}, size=16)
    data = build_translation_data(data_cfg(path=str(root)), paired=False, seed=1)
    assert not data.paired and data.sizes == (5, 7) and data.steps_per_epoch(2) == 4
    first = take(data.batches(2), 5)
    resumed = next(data.batches(2, start_batch=3))
    for key in ("a", "b"):
        np.testing.assert_array_equal(resumed[key], first[3][key])
    # Domain A holds red discs, B blue squares: the batches keep the domains apart.
    red_minus_blue = lambda x: float(np.mean(x[..., 0].astype(np.float32) - x[..., 2]))
    assert all(red_minus_blue(b["a"]) > 0 > red_minus_blue(b["b"]) for b in first)
    # Direction BtoA swaps the roles.
    swapped = build_translation_data(data_cfg(path=str(root), direction="BtoA"), paired=False, seed=1)
    assert swapped.sizes == (7, 5) and red_minus_blue(swapped.eval_batch(4)["a"]) < 0


def test_resume_and_process_rows_give_the_uninterrupted_global_stream(tmp_path):
    root = write_discs_and_squares(tmp_path, {"train": (5, 7)}, size=12)
    data = build_translation_data(data_cfg(path=str(root), crop_size=8), paired=False, seed=2)
    straight = take(data.batches(4), 6)  # 24 records: several epochs of A (5) and B (7)
    for start in (1, 4):
        for key in ("a", "b"):
            np.testing.assert_array_equal(next(data.batches(4, start_batch=start))[key], straight[start][key])
    halves = [take(data.batches(4, start_batch=2, process_index=p, process_count=2), 2) for p in (0, 1)]
    for i, (first, second) in enumerate(zip(*halves, strict=True)):
        for key in ("a", "b"):
            np.testing.assert_array_equal(np.concatenate([first[key], second[key]]), straight[2 + i][key])


def test_workers_give_the_batches_read_in_process(tmp_path):
    root = write_discs_and_squares(tmp_path, {"train": (5, 7)}, size=12)
    cfg = lambda workers: data_cfg(path=str(root), crop_size=8, num_workers=workers)
    in_process = take(build_translation_data(cfg(0), paired=False, seed=4).batches(2, start_batch=1), 6)
    workers = build_translation_data(cfg(2), paired=False, seed=4).batches(2, start_batch=1)
    try:
        read = take(workers, 6)
    finally:
        workers.close()
    for a, b in zip(in_process, read, strict=True):
        for key in ("a", "b"):
            assert b[key].dtype == np.uint8
            np.testing.assert_array_equal(a[key], b[key])


def test_named_pairs_in_a_and_b_folders_match_by_name(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("x", "y", "z"):
        image = random_image(rng, 16, 16)
        save(tmp_path / "A" / f"{name}.png", image)
        save(tmp_path / "B" / f"{name}.bmp", 255 - image)  # extensions may differ
    data = build_translation_data(data_cfg(path=str(tmp_path), flip=False), paired=True, seed=0)
    batch = data.eval_batch(3)
    np.testing.assert_allclose(batch["b"], -batch["a"], atol=1e-5)
    assert data.sizes == (3, 3)


def test_eval_split_folder_is_used_and_missing_split_is_explained(tmp_path):
    root = write_inversion_pairs(tmp_path, {"train": 3, "test": 2}, size=16)
    data = build_translation_data(data_cfg(path=str(root), eval_split="test"), paired=True, seed=0,
                                  eval_split=True)
    assert data.sizes == (2, 2)
    with pytest.raises(FileNotFoundError, match="eval_split=''"):
        build_translation_data(data_cfg(path=str(root), eval_split="val"), paired=True, seed=0, eval_split=True)


def test_unpaired_folders_given_to_pix2pix_are_rejected(tmp_path):
    root = write_discs_and_squares(tmp_path, {"train": (3, 4)}, size=16)
    with pytest.raises(ValueError, match="pix2pix needs paired images.*task='cyclegan'"):
        build_translation_data(data_cfg(path=str(root)), paired=True, seed=0)


def test_mismatched_image_sizes_are_rejected(tmp_path):
    rng = np.random.default_rng(0)
    save(tmp_path / "pairs" / "A" / "x.png", random_image(rng, 16, 16))
    save(tmp_path / "pairs" / "B" / "x.png", random_image(rng, 16, 12))
    with pytest.raises(ValueError, match="mismatched image sizes.*x.png is 16x16.*16x12"):
        build_translation_data(data_cfg(path=str(tmp_path / "pairs")), paired=True, seed=0)
    save(tmp_path / "odd" / "p.png", random_image(rng, 16, 33))
    with pytest.raises(ValueError, match="mismatched image sizes.*even width"):
        build_translation_data(data_cfg(path=str(tmp_path / "odd")), paired=True, seed=0)


def test_empty_or_missing_domain_folders_are_explained(tmp_path):
    write_discs_and_squares(tmp_path, {"train": (3, 0)}, size=16)
    with pytest.raises(FileNotFoundError, match="trainB holds no images"):
        build_translation_data(data_cfg(path=str(tmp_path)), paired=False, seed=0)
    (tmp_path / "trainB").rmdir()
    with pytest.raises(FileNotFoundError, match="found .*trainA but not .*trainB"):
        build_translation_data(data_cfg(path=str(tmp_path)), paired=False, seed=0)
    with pytest.raises(FileNotFoundError, match="not an existing folder"):
        build_translation_data(data_cfg(path=str(tmp_path / "nope")), paired=False, seed=0)


def test_side_by_side_images_given_to_cyclegan_are_rejected(tmp_path):
    root = write_inversion_pairs(tmp_path, {"train": 2}, size=16)
    with pytest.raises(ValueError, match="CycleGAN needs"):
        build_translation_data(data_cfg(path=str(root)), paired=False, seed=0)


def test_tfds_cycle_gan_through_mock(tmp_path):
    cfg = data_cfg(source="tfds", tfds_name="cycle_gan/horse2zebra", eval_split="test")
    with tfds.testing.mock_data(num_examples=5, policy=tfds.testing.MockPolicy.USE_CODE):
        data = build_translation_data(cfg, paired=False, seed=0)
        held_out = build_translation_data(cfg, paired=False, seed=0, eval_split=True).eval_batch(3)
        raw = tfds.data_source("cycle_gan/horse2zebra", split="testB")[1]["image"]
        batch = next(data.batches(4))
    assert data.sizes == (5, 5)
    assert batch["a"].shape == batch["b"].shape == (4, 16, 16, 3)
    assert batch["a"].dtype == batch["b"].dtype == np.uint8 and batch["a"].max() > batch["a"].min()
    expected = to_unit_range(resize(np.asarray(raw, np.float32), 16), (0, 255))  # mock images vary in size
    np.testing.assert_allclose(held_out["b"][1], expected, atol=1e-5)


def test_tfds_is_unpaired_so_pix2pix_refuses_it():
    with pytest.raises(ValueError, match="unpaired.*data.source='folder'"):
        build_translation_data(data_cfg(source="tfds"), paired=True, seed=0)


@pytest.mark.parametrize("field, value, match", [
    ("source", "hub", "data.source"), ("direction", "AB", "data.direction"), ("channels", 2, "data.channels"),
    ("load_size", 10, "smaller than data.crop_size"), ("num_workers", -1, "data.num_workers"),
])
def test_bad_data_config_names_the_field(tmp_path, field, value, match):
    with pytest.raises(ValueError, match=match):
        build_translation_data(data_cfg(path=str(tmp_path), **{field: value}), paired=True, seed=0)


def test_the_train_step_gets_the_uint8_pairs_decoded_to_the_unit_range(tmp_path, monkeypatch):
    from jaxgan.translation import trainer

    root = write_noise_pairs(tmp_path, 3)
    config = base_config("pix2pix")
    config.data.update(data_cfg(path=str(root)))
    data = build_translation_data(config.data, paired=True, seed=0)
    monkeypatch.setattr(trainer, "build_step", lambda config, models: lambda state, batch: (state, batch))
    step = trainer.TranslationTask(config, data, models=None, held_out={}).step()
    host = data.host_batches(2)[0]
    _, seen = step(None, host)
    for key in ("a", "b"):
        expected = host[key].astype(np.float64) / 127.5 - 1.0
        np.testing.assert_allclose(np.asarray(seen[key]), expected, atol=1e-6)
