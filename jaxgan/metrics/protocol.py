"""How a score was computed, so that two FIDs can be compared: the protocol that goes with every number.

An FID depends on more than the images: the feature network and its weights, how images are resized to its input,
whether they were quantised to 8 bits first, and how many generated and reference images were used. jaxgan
quantises every image to uint8 before the extractor, as pytorch-fid does when it reads PNG files, so its FID of a
generator equals pytorch-fid's on the same images saved as PNGs. Two resize modes feed the FID Inception:

- `legacy`: pytorch-fid's bilinear `F.interpolate(..., align_corners=False)` of the [0, 1] image (the default);
- `clean`: clean-fid's `clean` mode, a PIL bicubic resize of each channel of the uint8 image as float32, clipped
  to [0, 255] (Parmar et al., 2022: on the host, so slower), fed to the network as (x - 128) / 128, as clean-fid's
  `InceptionV3W` feeds NVIDIA's TorchScript port of the same 2015-12-05 Inception (the TF graph's own input
  scaling); `legacy` feeds pytorch-fid's 2 * x01 - 1 = (x - 127.5) / 127.5.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxgan.metrics.registry import get_metrics
from jaxgan.sampling.images import unit_range_to_uint8

RESIZE_MODES = ("legacy", "clean")
QUANTISATION = "uint8"
PROTOCOL_FILE = "eval_protocol.json"


def quantise(images: Any) -> jax.Array:
    """[-1, 1] images rounded to 8 bits and mapped back to [-1, 1] (q / 127.5 - 1): what a PNG round trip gives."""
    return unit_range_to_uint8(jnp.asarray(images)).astype(jnp.float32) / 127.5 - 1.0


def clean_resize(images_uint8: np.ndarray, size: int) -> np.ndarray:
    """clean-fid's `clean` resize: each channel as a float32 PIL image, bicubic to size x size, clipped to [0, 255].

    Input (N, H, W, C) uint8; output (N, size, size, C) float32 in [0, 255].
    """
    images = np.asarray(images_uint8)
    out = np.empty((images.shape[0], size, size, images.shape[-1]), np.float32)
    for i, image in enumerate(images):
        for c in range(images.shape[-1]):
            channel = Image.fromarray(image[..., c].astype(np.float32), mode="F")
            out[i, ..., c] = np.asarray(channel.resize((size, size), resample=Image.Resampling.BICUBIC))
    return np.clip(out, 0.0, 255.0)


def clean_input(images_uint8: np.ndarray, size: int) -> np.ndarray:
    """clean-fid's network input: `clean_resize` to size x size, then (x - 128) / 128 (its `InceptionV3W.forward`)."""
    return (clean_resize(images_uint8, size) - 128.0) / 128.0


# How each resize mode scales the network's input, in the id of its statistics: `clean` statistics cached before
# it fed (x - 128) / 128 were computed on (x - 127.5) / 127.5 and must not be reused.
INPUT_SCALING = {"legacy": "", "clean": "-x128"}


def protocol_id(weights_id: str, resize: str) -> str:
    """The id that keys reference statistics: extractor weights, resize mode (with its input scaling), quantisation."""
    return f"{weights_id}-{resize}{INPUT_SCALING.get(resize, '')}-{QUANTISATION}"


def eval_protocol(extractor: Any, *, num_generated: int, num_reference: int, reference: str,
                  metrics: tuple[str, ...]) -> dict[str, Any]:
    """The protocol of one evaluation: what a reader needs to know before comparing its numbers with others."""
    protocol = {
        "extractor": extractor.name,
        "weights": getattr(extractor, "weights_id", None),
        "resize": getattr(extractor, "resize", None),
        "quantisation": QUANTISATION,
        "num_generated": int(num_generated),
        "num_reference": int(num_reference),
        "reference": reference,
        "metrics": list(metrics),
    }
    for metric in get_metrics(metrics):
        protocol.update(metric.describe(extractor) if metric.describe else {})  # e.g. pr's pr_features
    return protocol


def pr_features(extractor: Any) -> str:
    """Which features precision/recall used; Kynkaenniemi et al.'s published numbers use VGG-16 fc2 features."""
    return (f"{extractor.name} features ({getattr(extractor, 'feature_description', 'penultimate layer')}); "
            "not comparable with published precision/recall, which use VGG-16 fc2 features")


def write_protocol(path: str | Path, protocol: dict[str, Any]) -> Path:
    """Write the protocol as JSON (the sidecar of the numbers it describes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(protocol, indent=2, sort_keys=True) + "\n")
    return path
