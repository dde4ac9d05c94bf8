"""jaxgan's FID equals pytorch-fid's on the same PNG files and the same (random) FID Inception weights.

The whole pipeline on both sides: PNG files in two folders; pytorch-fid's `calculate_activation_statistics` and
`calculate_frechet_distance` against `jaxgan evaluate --images ... --ref-images ...`. Needs the [torch] extra.
"""

import numpy as np
import pytest
from PIL import Image

parity = pytest.importorskip("test_inception_parity")  # pytorch-fid + torch, or skip with its reason
fid_score = pytest.importorskip("pytorch_fid.fid_score")

from conftest import load_tool  # noqa: E402

NUM_IMAGES = 8
SIZE = 32


def write_pngs(folder, seed, shift):
    """NUM_IMAGES smooth random RGB images (blurred noise plus a colour shift) as PNG files."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 1, (NUM_IMAGES, SIZE // 4, SIZE // 4, 3))
    smooth = noise.repeat(4, axis=1).repeat(4, axis=2) * 0.7 + shift + 0.1 * rng.uniform(0, 1, (NUM_IMAGES,
                                                                                                 SIZE, SIZE, 3))
    for i, image in enumerate(np.clip(np.rint(smooth * 255), 0, 255).astype(np.uint8)):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    return sorted(folder.glob("*.png"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """(the random pytorch-fid network, its weights converted to jaxgan's .npz)."""
    import torch

    net = parity.random_fid_inception(seed=1)
    folder = tmp_path_factory.mktemp("fid_parity")
    torch.save(net.state_dict(), folder / "net.pth")
    load_tool("convert_inception").main([str(folder / "net.pth"), str(folder / "net.npz")])
    return net, folder / "net.npz"


def test_fid_equals_pytorch_fid_on_the_same_png_files(weights, tmp_path, monkeypatch):
    net, npz = weights
    generated = write_pngs(tmp_path / "generated", seed=0, shift=0.0)
    reference = write_pngs(tmp_path / "reference", seed=1, shift=0.15)

    monkeypatch.setattr(parity.pfi, "fid_inception_v3", lambda: net)
    model = parity.pfi.InceptionV3([parity.pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    stats = [fid_score.calculate_activation_statistics([str(p) for p in files], model, batch_size=8, dims=2048,
                                                       device="cpu", num_workers=0)
             for files in (generated, reference)]
    want = fid_score.calculate_frechet_distance(*stats[0], *stats[1])

    got = load_tool("evaluate").main([
        "--images", str(tmp_path / "generated"), "--ref-images", str(tmp_path / "reference"),
        "--extractor", "inception", "--inception-weights", str(npz), "--metrics", "fid",
        "--batch-size", "2"])  # batches of 2 at 32x32: the shape test_inception_parity compiles
    assert want > 1.0  # two different image sets: a score well away from 0
    assert got["fid"] == pytest.approx(want, rel=2e-4)
    assert got["protocol"]["resize"] == "legacy" and got["protocol"]["quantisation"] == "uint8"
    assert got["protocol"]["num_generated"] == got["protocol"]["num_reference"] == NUM_IMAGES
