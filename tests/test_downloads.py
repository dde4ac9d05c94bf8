"""Downloads on first use, served on loopback: hash-checked atomic caching, the torch-free .pth reader, FID weights."""

import hashlib
import os
import pickle

import numpy as np
import pytest
import torch
from loopback import closed_port_url, serve

from jaxgan.files.downloads import DownloadError, download
from jaxgan.files.torchfile import UnsafePickleError, load_pth
from jaxgan.metrics import inception_weights
from jaxgan.metrics.extractors import load_extractor
from jaxgan.metrics.inception_convert import flat_to_torch


def listing(folder):
    """Every file name in `folder` (temporary files included)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- download(): all or nothing ------------------------------------------------------------------


def test_download_keeps_the_file_only_when_its_hash_matches(tmp_path):
    body = np.random.default_rng(0).bytes(300_000)
    with serve({"blob.bin": body}) as base:
        target = download(f"{base}/blob.bin", tmp_path / "cache" / "blob.bin", sha256=sha256(body), hint="hint.")
        assert target.read_bytes() == body and listing(tmp_path / "cache") == ["blob.bin"]
        with pytest.raises(DownloadError, match=r"SHA-256 [0-9a-f]{64}, not the expected 00000000.*hint\.$"):
            download(f"{base}/blob.bin", tmp_path / "bad" / "blob.bin", sha256="00000000", hint="hint.")
    assert listing(tmp_path / "bad") == []  # nothing cached, no temporary file left


def test_download_cut_half_way_leaves_nothing(tmp_path):
    body = np.random.default_rng(1).bytes(400_000)
    cut = pytest.raises(DownloadError, match=r"blob\.bin was cut after 200,000 of 400,000 bytes; run again .*hint\.$")
    with serve({"blob.bin": body}, cut=frozenset({"blob.bin"})) as base, cut:
        download(f"{base}/blob.bin", tmp_path / "blob.bin", sha256=sha256(body), hint="hint.")
    assert listing(tmp_path) == []


def test_download_offline_names_the_url_and_the_way_out(tmp_path):
    url = closed_port_url("blob.bin")
    with pytest.raises(DownloadError, match=f"could not download {url} .*put the file here\\.$"):
        download(url, tmp_path / "blob.bin", sha256="0" * 64, hint="put the file here.")
    assert listing(tmp_path) == []


# --- load_pth(): torch files without torch, and without running code --------------------------------


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_load_pth_matches_torch_load(tmp_path, zip_format):
    generator = torch.Generator().manual_seed(0)
    state = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3)).state_dict()
    state["view"] = torch.randn(4, 5, generator=generator).t()[1:]  # strided, with a storage offset
    state["shared"] = state["view"][::2]  # the same storage again
    path = tmp_path / "state.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    loaded = load_pth(path)
    reference = torch.load(path, weights_only=True)
    assert list(loaded) == list(reference)
    for name, tensor in reference.items():
        assert loaded[name].dtype == tensor.numpy().dtype and loaded[name].shape == tuple(tensor.shape), name
        np.testing.assert_array_equal(loaded[name], tensor.numpy(), err_msg=name)


class RunsCode:
    """Unpickling this calls os.system: what a malicious .pth does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_load_pth_refuses_a_pickle_that_runs_code(tmp_path, zip_format):
    path, marker = tmp_path / "evil.pth", tmp_path / "ran"
    torch.save({"weight": torch.zeros(2), "payload": RunsCode(marker)}, path, _use_new_zipfile_serialization=zip_format)
    module, name = RunsCode(marker).__reduce__()[0].__module__, "system"
    with pytest.raises(UnsafePickleError, match=f"asks for the global {module}\\.{name}, which does not rebuild"):
        load_pth(path)
    assert not marker.exists()
    assert isinstance(UnsafePickleError("x"), pickle.UnpicklingError)


# --- FID Inception weights: download, convert, cache ------------------------------------------------


@pytest.fixture(scope="module")
def random_fid_weights(tmp_path_factory):
    """(our flat arrays, the .pth bytes): random weights with pytorch-fid's real names and shapes."""
    rng = np.random.default_rng(0)
    flat = {name: rng.standard_normal(shape, dtype=np.float32)
            for name, shape in inception_weights.expected_shapes().items()}
    path = tmp_path_factory.mktemp("fid") / "random.pth"
    torch.save({k: torch.from_numpy(np.array(v, order="C")) for k, v in flat_to_torch(flat).items()}, path)
    return flat, path.read_bytes()


@pytest.fixture
def fid_env(tmp_path, monkeypatch):
    """Point the cache at a fresh folder; return it."""
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_fid_weights_download_once_then_come_from_the_cache(random_fid_weights, fid_env, monkeypatch):
    flat, body = random_fid_weights
    monkeypatch.setenv("JAXGAN_INCEPTION_SHA256", sha256(body))
    with serve({"w.pth": body}) as base:
        monkeypatch.setenv("JAXGAN_INCEPTION_URL", f"{base}/w.pth")
        extractor = load_extractor("inception")
    npz = fid_env / inception_weights.CONVERTED_NAME
    assert listing(fid_env) == sorted([inception_weights.CONVERTED_NAME, inception_weights.FID_WEIGHTS_NAME])
    with np.load(npz) as cached:
        assert sorted(cached.files) == sorted(flat)
        for name, array in flat.items():
            np.testing.assert_array_equal(cached[name], array, err_msg=name)
    stamp = npz.stat().st_mtime_ns
    again = load_extractor("inception")  # the server is gone: this must come from the cache
    assert again.weights_id == extractor.weights_id and npz.stat().st_mtime_ns == stamp


def test_fid_weights_with_the_wrong_hash_are_not_cached(random_fid_weights, fid_env, monkeypatch):
    _, body = random_fid_weights
    with serve({"w.pth": body}) as base:
        monkeypatch.setenv("JAXGAN_INCEPTION_URL", f"{base}/w.pth")
        with pytest.raises(DownloadError, match=f"not the expected {inception_weights.FID_WEIGHTS_SHA256}"):
            inception_weights.fid_inception_weights()
    assert listing(fid_env) == []


def test_fid_weights_offline_say_where_to_put_the_file(fid_env, monkeypatch):
    url = closed_port_url("w.pth")
    monkeypatch.setenv("JAXGAN_INCEPTION_URL", url)
    pth, npz = fid_env / inception_weights.FID_WEIGHTS_NAME, fid_env / inception_weights.CONVERTED_NAME
    with pytest.raises(DownloadError) as error:
        inception_weights.fid_inception_weights()
    message = str(error.value)
    assert f"could not download {url}" in message and f"at {pth} and run again" in message
    assert f"jaxgan convert-inception {inception_weights.FID_WEIGHTS_NAME} {npz}" in message
    assert listing(fid_env) == []
