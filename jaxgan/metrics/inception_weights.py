"""pytorch-fid's FID Inception weights on first use: download once, check the SHA-256, convert to our .npz, cache.

With no weights file given, the inception extractor calls `fid_inception_weights()`: it returns the converted
.npz in jaxgan's cache (`jaxgan.files.downloads.cache_dir()`), fetching and converting pytorch-fid's release file the
first time. The environment variables JAXGAN_INCEPTION_URL (a mirror) and JAXGAN_INCEPTION_SHA256 (that mirror's
digest) override the source. No torch is needed: the .pth is read by `jaxgan.files.torchfile.load_pth`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from jaxgan.errors import JaxganError
from jaxgan.files.downloads import cache_dir, download, file_sha256, hash_matches, write_atomically
from jaxgan.files.torchfile import load_pth
from jaxgan.metrics.inception import fid_inception_variables
from jaxgan.metrics.inception_convert import flatten_variables, torch_to_flat

FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FID_WEIGHTS_NAME
# SHA-256 of the release file (95,628,359 bytes); its first 8 digits are the `6726825d` in the file name.
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
CONVERTED_NAME = "fid_inception-2015-12-05-6726825d.npz"
URL_ENV, SHA256_ENV = "JAXGAN_INCEPTION_URL", "JAXGAN_INCEPTION_SHA256"


@functools.cache
def expected_shapes() -> dict[str, tuple[int, ...]]:
    """{flat name: shape} of the FID Inception's variables (traced, not computed)."""
    return {k: tuple(v.shape) for k, v in flatten_variables(fid_inception_variables()).items()}


def check_flat(flat: Mapping[str, np.ndarray], source: str | Path) -> None:
    """Raise ValueError unless `flat` has exactly the FID Inception's variable names and shapes."""
    expected = expected_shapes()
    missing = sorted(set(expected) - set(flat))
    extra = sorted(set(flat) - set(expected))
    wrong = sorted(k for k in expected if k in flat and tuple(flat[k].shape) != expected[k])
    if missing or extra or wrong:
        raise ValueError(f"{source} does not hold pytorch-fid's FID Inception: {len(missing)} weights missing (e.g. "
                         f"{missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]}), {len(wrong)} with wrong "
                         f"shapes (e.g. {wrong[:3]}); convert pytorch-fid's .pth again with "
                         "`jaxgan convert-inception`.")


def convert_pth(source: str | Path, target: str | Path) -> Path:
    """Convert pytorch-fid's .pth state dict at `source` to our .npz at `target` (checked, written atomically)."""
    state = load_pth(source)
    if not isinstance(state, Mapping):
        raise ValueError(f"{source} holds a {type(state).__name__}, not a state dict of tensors.")
    flat = torch_to_flat(state)
    check_flat(flat, source)
    return write_atomically(target, lambda out: np.savez(out, **flat))


def _offline_hint(pth: Path, npz: Path) -> str:
    """What to do without network access: where the file goes, or how to convert it by hand."""
    return (f"put pytorch-fid's {FID_WEIGHTS_NAME} (from {FID_WEIGHTS_URL}) at {pth} and run again, or convert it "
            f"with `jaxgan convert-inception {FID_WEIGHTS_NAME} {npz}`, or pass a converted .npz as "
            f"eval.inception_weights / --inception-weights ({URL_ENV} points at a mirror).")


def fid_inception_weights() -> Path:
    """Path of the converted FID Inception .npz in the cache; download and convert it on first use."""
    folder = cache_dir()
    npz, pth = folder / CONVERTED_NAME, folder / FID_WEIGHTS_NAME
    if npz.is_file():
        return npz
    url = os.environ.get(URL_ENV) or FID_WEIGHTS_URL
    sha256 = os.environ.get(SHA256_ENV) or FID_WEIGHTS_SHA256
    if not pth.is_file():
        print("FID Inception weights are not cached yet: downloading pytorch-fid's (about 96 MB) once.", flush=True)
        download(url, pth, sha256=sha256, hint=_offline_hint(pth, npz))
    elif not hash_matches(actual := file_sha256(pth), sha256):
        raise JaxganError(f"{pth} has SHA-256 {actual}, not pytorch-fid's {sha256}; remove it (it is not the FID "
                          "Inception release file) and run again to download the right one.")
    print(f"converting {pth}\n    -> {npz}", flush=True)
    return convert_pth(pth, npz)
