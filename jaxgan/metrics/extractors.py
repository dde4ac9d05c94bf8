"""Feature extractors for the metrics: `.name` and `.features(images) -> (pool, logits)`.

Images are jaxgan's convention, NHWC float in [-1, 1]. `InceptionExtractor` wraps the FID Inception
(weights from a local .npz made by `jaxgan convert-inception`, or pytorch-fid's, downloaded once into the
cache by `inception_weights.py`); the digits classifier's extractor lives in `classifier.py`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.files.npzfile import open_npz
from jaxgan.metrics.classifier import DigitsExtractor
from jaxgan.metrics.inception import FID_RESOLUTION, FIDInceptionV3, fid_preprocess
from jaxgan.metrics.inception_convert import unflatten_variables
from jaxgan.metrics.inception_weights import (  # noqa: F401 (FID_WEIGHTS_* are re-exported)
    FID_WEIGHTS_NAME,
    FID_WEIGHTS_URL,
    check_flat,
    fid_inception_weights,
)
from jaxgan.metrics.protocol import RESIZE_MODES, clean_input
from jaxgan.sampling.images import unit_range_to_uint8


class Extractor(Protocol):
    """What the evaluator needs from a feature network."""

    name: str

    def features(self, images: Any) -> tuple[jax.Array, jax.Array]:
        """Return (pool features (N, D), class logits (N, K)) of NHWC images in [-1, 1]."""
        ...


def _missing_weights_message(path: Path) -> str:
    """Return the error text for a missing FID Inception weights file: where to get and convert."""
    return (
        f"FID Inception weights not found at {path}. Give no weights path to download them once into "
        f"jaxgan's cache, or get pytorch-fid's FID Inception weights {FID_WEIGHTS_NAME} from {FID_WEIGHTS_URL} "
        f"and convert them with\n"
        f"    jaxgan convert-inception {FID_WEIGHTS_NAME} {path}"
    )


def load_inception_variables(path: str | Path) -> dict[str, Any]:
    """Load FID Inception variables from our .npz (`jaxgan convert-inception`) and check them."""
    path = Path(path)
    if path.suffix in (".pth", ".pt"):
        raise ValueError(
            f"{path} is a torch file; convert it first with\n"
            f"    jaxgan convert-inception {path} {path.with_suffix('.npz')}"
        )
    if not path.is_file():
        raise FileNotFoundError(_missing_weights_message(path))
    with open_npz(path, "FID Inception weights", "convert pytorch-fid's .pth with `jaxgan convert-inception`.") as data:
        flat = {name: np.asarray(data[name]) for name in data.files}
    check_flat(flat, path)
    return unflatten_variables({k: jnp.asarray(v, jnp.float32) for k, v in flat.items()})


class InceptionExtractor:
    """FID Inception features: 2048-d pool3 and 1008 logits without fc bias (as the IS code)."""

    name = "inception"
    feature_description = "pool3, 2048-d"

    def __init__(self, variables: dict[str, Any], resize: str = "legacy"):
        """Wrap loaded variables (see `load_inception_variables` / `from_file`); `resize`: legacy | clean."""
        if resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {resize!r}; choose one of {list(RESIZE_MODES)} (legacy: "
                             "pytorch-fid's bilinear, clean: clean-fid's PIL bicubic).")
        self.variables, self.resize = variables, resize
        model = FIDInceptionV3(logits_bias=False)
        self._apply = jax.jit(model.apply)  # the network on its prepared 299x299 input
        self._legacy_input = jax.jit(fid_preprocess)

    @classmethod
    def from_file(cls, path: str | Path, resize: str = "legacy") -> InceptionExtractor:
        """Return the extractor with weights from our .npz file at `path`."""
        return cls(load_inception_variables(path), resize)

    def features(self, images: Any) -> tuple[jax.Array, jax.Array]:
        """Return (pool3 (N, 2048), logits (N, 1008)) of NHWC images in [-1, 1].

        Any size and 1 or 3 channels (gray is repeated to RGB). `legacy` resizes to 299x299 and feeds 2 * x01 - 1
        as pytorch-fid (`fid_preprocess`); `clean` resizes the uint8 image on the host and feeds (x - 128) / 128 as
        clean-fid (`clean_input`).
        """
        images = jnp.asarray(images, jnp.float32)
        if self.resize == "clean":
            uint8 = np.asarray(jax.device_get(unit_range_to_uint8(images)))
            if uint8.shape[-1] == 1:
                uint8 = np.repeat(uint8, 3, axis=-1)  # clean-fid converts to RGB before resizing
            return self._apply(self.variables, jnp.asarray(clean_input(uint8, FID_RESOLUTION)))
        return self._apply(self.variables, self._legacy_input(images))


EXTRACTORS = ("digits", "inception")


def _weights_file(name: str, classifier: str | Path, inception_weights: str | Path) -> str:
    """The weights path that extractor `name` loads ("" for digits without a classifier)."""
    if name not in EXTRACTORS:
        raise ValueError(f"unknown extractor {name!r}; choose one of {list(EXTRACTORS)}.")
    if name == "inception":  # no path: pytorch-fid's weights, downloaded and converted once into the cache
        return str(inception_weights or fid_inception_weights())
    return str(classifier or "")


def load_extractor(name: str, *, classifier: str | Path = "", inception_weights: str | Path = "",
                   resize: str = "legacy") -> Extractor:
    """Return the extractor `name` with its weights from the given local file; `.weights_id` names the weights.

    "digits": the domain classifier of `jaxgan train-classifier` (`classifier`); "inception": the FID
    Inception converted by `jaxgan convert-inception` (`inception_weights`; empty: pytorch-fid's, downloaded and
    converted once into the cache), resizing in mode `resize`.
    """
    weights = _weights_file(name, classifier, inception_weights)
    if name == "inception":
        extractor = InceptionExtractor.from_file(weights, resize)
    else:
        if not weights:
            raise ValueError("the digits extractor needs the path of a classifier file (.npz); train one with\n"
                             "    jaxgan train-classifier --out classifiers/digits28.npz")
        if resize != "legacy":
            raise ValueError(f"resize={resize!r} is for the inception extractor; the digits classifier resizes "
                             "bilinearly to its own input size.")
        extractor = DigitsExtractor.from_file(weights)
    extractor.weights_id = extractor_id(name, classifier=classifier, inception_weights=inception_weights)
    return extractor


def extractor_id(name: str, *, classifier: str | Path = "", inception_weights: str | Path = "") -> str:
    """`<name>-<short SHA-1 of its weights file>` (same arguments as `load_extractor`): the cache key of
    reference statistics names the exact network, so two classifiers never share statistics."""
    digest = hashlib.sha1()
    with Path(_weights_file(name, classifier, inception_weights)).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return f"{name}-{digest.hexdigest()[:10]}"


def check_reference_extractor(stored: str | None, wanted_id: str, path: str | Path) -> None:
    """Raise ValueError when statistics from `path`, keyed with extractor `stored`, are not of `wanted_id`.

    A stored `<name>-<sha>` must equal `wanted_id` (the same weights); a bare stored name (older files) must equal
    its name part; files without a key (pytorch-fid's --save-stats) are accepted.
    """
    if stored is None:
        return
    same = stored == wanted_id if "-" in stored else stored == wanted_id.split("-")[0]
    if not same:
        raise ValueError(f"{path} holds statistics of the extractor {stored!r}, but this evaluation uses "
                         f"{wanted_id!r} (extractor-weights hash-resize-quantisation); point to statistics computed "
                         "with the same extractor, weights and protocol, or let them be computed from the data.")
