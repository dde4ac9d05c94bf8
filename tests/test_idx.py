"""IDX files (MNIST's format): the reader, `jaxgan prepare` from IDX to an .npz with --range, and its consumers."""

import gzip
import struct

import numpy as np
import pytest

from jaxgan import cli
from jaxgan.data import build_dataset, default_config
from jaxgan.data.idx import IdxFormatError, labels_path_for, read_idx, read_idx_images
from jaxgan.tools import prepare, train_classifier


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """The IDX encoding written out by hand: 0, 0, type code, ndim, big-endian uint32 dims, big-endian values."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def tiny_mnist(tmp_path):
    """Five 4x4 uint8 images and their labels, as MNIST names and gzips them."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 4, 4), dtype=np.uint8)
    labels = np.array([3, 0, 9, 1, 3], np.uint8)
    images_path = tmp_path / "tiny-images-idx3-ubyte.gz"
    images_path.write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    (tmp_path / "tiny-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels, 0x08)))
    return images_path, images, labels


def test_read_idx_decodes_gzipped_and_plain_files_of_every_byte_order(tiny_mnist, tmp_path):
    images_path, images, labels = tiny_mnist
    np.testing.assert_array_equal(read_idx(images_path), images)
    floats = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5  # big-endian floats must come back native
    (tmp_path / "f.idx2-ubyte").write_bytes(idx_bytes(floats, 0x0D))
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx2-ubyte"), floats)
    got_images, got_labels = read_idx_images(images_path, labels_path_for(images_path))
    np.testing.assert_array_equal(got_images, images[..., None])
    np.testing.assert_array_equal(got_labels, labels)


def test_read_idx_names_a_non_idx_file_a_truncated_one_and_mismatched_labels(tiny_mnist, tmp_path):
    images_path, images, _ = tiny_mnist
    png = tmp_path / "photo-images-idx3-ubyte"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(IdxFormatError, match="is not an IDX file"):
        read_idx(png)
    cut = tmp_path / "cut-images-idx3-ubyte"
    cut.write_bytes(idx_bytes(images, 0x08)[:-1])
    with pytest.raises(IdxFormatError, match="holds 79 data bytes but its header"):
        read_idx(cut)
    few = tmp_path / "few-labels-idx1-ubyte"
    few.write_bytes(idx_bytes(np.zeros(4, np.uint8), 0x08))
    with pytest.raises(IdxFormatError, match="labels of shape"):
        read_idx_images(images_path, few)


def test_prepare_writes_the_range_of_an_idx_source_to_an_npz_the_trainer_reads(tiny_mnist, tmp_path, capsys):
    images_path, images, labels = tiny_mnist
    out = tmp_path / "part.npz"
    assert prepare.main(["--source", str(images_path), "--out", str(out), "--range", "1:4", "--transform", "none",
                         "--no-progress"]) == 0
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["images"], images[1:4, ..., None])
        np.testing.assert_array_equal(saved["labels"], labels[1:4])
    assert "wrote 3 images (4x4x1, with labels)" in capsys.readouterr().out
    data = default_config()
    data.update(name="npz", path=str(out))
    dataset = build_dataset(data, seed=0)
    assert (dataset.num_examples, dataset.example_shape) == (3, (4, 4, 1))
    x, y = train_classifier.load_labelled_npz(out)  # uint8 [0, 255] -> [-1, 1], labels kept
    np.testing.assert_allclose(x, images[1:4, ..., None] / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(y, labels[1:4])


@pytest.mark.parametrize("bad_range, words", [("3:9", "outside the source's 5 examples"), ("2-4", "is not START:END"),
                                              ("4:2", "outside the source's 5 examples")])
def test_prepare_refuses_a_bad_range_in_one_line(tiny_mnist, tmp_path, capsys, bad_range, words):
    code = cli.main(["prepare", "--source", str(tiny_mnist[0]), "--out", str(tmp_path / "x.npz"),
                     "--range", bad_range, "--transform", "none", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and words in err[0], err
    assert not (tmp_path / "x.npz").exists()


def test_prepare_names_a_file_that_is_not_idx_in_one_line(tmp_path, capsys):
    fake = tmp_path / "train-images-idx3-ubyte.gz"
    fake.write_bytes(gzip.compress(b"<html>not found</html>"))
    code = cli.main(["prepare", "--source", str(fake), "--out", str(tmp_path / "x.npz"), "--transform", "none",
                     "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and f"{fake} is not an IDX file (header 3c68746d" in err[0]
