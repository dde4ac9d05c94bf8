"""A small CNN digit classifier whose penultimate features give a domain FID and logits a domain IS.

For digit-like data the ImageNet Inception is unsuited (and its weights may be unavailable), so
`jaxgan train-classifier` trains this network on scikit-learn's embedded 8x8 digits, upscaled
to 28x28 like jaxgan's default dataset, and saves it to an .npz file that `DigitsExtractor` loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.files.npzfile import open_npz
from jaxgan.metrics.inception_convert import flatten_variables, unflatten_variables

DIGITS_MAX = 16.0  # sklearn digits pixel values lie in [0, 16]
LUMA_601 = np.array([0.299, 0.587, 0.114], np.float32)  # RGB -> gray weights (ITU-R BT.601)


class DigitClassifier(nn.Module):
    """conv-pool-conv-pool-dense CNN: returns (penultimate ReLU features, class logits)."""

    widths: tuple[int, ...] = (32, 64)
    feature_dim: int = 128
    num_classes: int = 10

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Return (features (N, feature_dim), logits (N, num_classes)) of NHWC gray images."""
        for width in self.widths:
            x = nn.relu(nn.Conv(width, (3, 3))(x))
            x = nn.avg_pool(x, (2, 2), (2, 2))
        features = nn.relu(nn.Dense(self.feature_dim)(x.reshape(x.shape[0], -1)))
        return features, nn.Dense(self.num_classes)(features)


def load_digits_images(image_size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Return sklearn's 1797 digits as float32 (N, S, S, 1) in [-1, 1] and int32 labels.

    Upscaled with PIL's bilinear filter from the raw 0..16 values, as jaxgan.data does, then mapped
    affinely from [0, 16] to [-1, 1].
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    raw = digits.images.astype(np.float32)
    if image_size != raw.shape[1]:
        size = (image_size, image_size)
        raw = np.stack([np.asarray(Image.fromarray(im).resize(size, Image.Resampling.BILINEAR))
                        for im in raw])
    images = np.clip(raw / DIGITS_MAX * 2.0 - 1.0, -1.0, 1.0)[..., None]
    return images.astype(np.float32), digits.target.astype(np.int32)


def split_digits(images: np.ndarray, labels: np.ndarray, holdout: float = 0.2, seed: int = 0):
    """Return ((train images, labels), (held-out images, labels)) from a seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(images))
    cut = len(images) - int(round(holdout * len(images)))
    train, test = order[:cut], order[cut:]
    return (images[train], labels[train]), (images[test], labels[test])


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    model: DigitClassifier | None = None,
    steps: int = 300,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    seed: int = 0,
) -> dict[str, Any]:
    """Train `model` with Adam on softmax cross-entropy and return its variables."""
    model = model or DigitClassifier()
    rng = np.random.default_rng(seed)
    variables = model.init(jax.random.key(seed), jnp.asarray(images[:1]))
    optimizer = optax.adam(learning_rate)
    opt_state = optimizer.init(variables)

    @jax.jit
    def step(variables, opt_state, x, y):
        def loss_fn(v):
            _, logits = model.apply(v, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = jax.grad(loss_fn)(variables)
        updates, opt_state = optimizer.update(grads, opt_state)
        return optax.apply_updates(variables, updates), opt_state

    for _ in range(steps):
        idx = rng.choice(len(images), batch_size, replace=False)
        variables, opt_state = step(variables, opt_state, images[idx], labels[idx])
    return variables


def _outputs(model: DigitClassifier, variables: dict[str, Any], images: np.ndarray):
    """Return (features, logits) of `images` as numpy, computed in batches of 1000."""
    apply = jax.jit(model.apply)
    parts = [jax.device_get(apply(variables, jnp.asarray(images[i : i + 1000])))
             for i in range(0, len(images), 1000)]
    return tuple(np.concatenate([np.asarray(p[j]) for p in parts]) for j in (0, 1))


def accuracy(model: DigitClassifier, variables: dict[str, Any], images: np.ndarray,
             labels: np.ndarray) -> float:
    """Return the share of `images` the classifier labels correctly."""
    return float(np.mean(np.argmax(_outputs(model, variables, images)[1], -1) == labels))


def feature_rms(model: DigitClassifier, variables: dict[str, Any], images: np.ndarray) -> float:
    """Return the root-mean-square of the penultimate features over `images`."""
    return float(np.sqrt(np.mean(np.square(_outputs(model, variables, images)[0], dtype=np.float64))))


def save_classifier(path: str | Path, model: DigitClassifier, variables: dict[str, Any],
                    image_size: int, feature_scale: float = 1.0) -> Path:
    """Write the classifier's variables, architecture and feature scale to an .npz file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"widths": list(model.widths), "feature_dim": model.feature_dim,
              "num_classes": model.num_classes, "image_size": image_size,
              "feature_scale": feature_scale}
    flat = {k: np.asarray(v) for k, v in flatten_variables(variables).items()}
    with path.open("wb") as f:
        np.savez(f, __config__=np.asarray(json.dumps(config)), **flat)
    return path


class DigitsExtractor:
    """Domain features of the digit classifier: (penultimate features, logits).

    Images are NHWC in [-1, 1]; RGB is turned to gray (BT.601 luma) and other sizes are resized
    bilinearly to the training resolution. Features are divided by `feature_scale` (their RMS over
    the training images, saved with the classifier) so that they are O(1) like Inception's pool3;
    that keeps KID's kernel (x.y/d + 1)^3 well scaled. FID is in those units.
    """

    name = "digits"
    resize = "bilinear"  # jax.image.resize to the classifier's input size

    def __init__(self, model: DigitClassifier, variables: dict[str, Any], image_size: int,
                 feature_scale: float = 1.0):
        """Wrap a trained classifier that expects image_size x image_size gray inputs."""
        self.model, self.variables, self.image_size = model, variables, image_size
        self.feature_scale = feature_scale
        self.feature_description = f"penultimate layer, {model.feature_dim}-d"
        self._apply = jax.jit(model.apply)

    @classmethod
    def from_file(cls, path: str | Path) -> DigitsExtractor:
        """Load a classifier written by `save_classifier` (`jaxgan train-classifier`)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"digit classifier not found at {path}; train one with\n"
                f"    jaxgan train-classifier --out {path}"
            )
        with open_npz(path, "a digit classifier", f"train one with `jaxgan train-classifier --out {path}`.") as data:
            if "__config__" not in data:
                raise ValueError(f"{path} is not a digit classifier file (no __config__).")
            config = json.loads(str(data["__config__"]))
            flat = {k: jnp.asarray(data[k]) for k in data.files if k != "__config__"}
        model = DigitClassifier(tuple(config["widths"]), config["feature_dim"],
                                config["num_classes"])
        return cls(model, unflatten_variables(flat), int(config["image_size"]),
                   float(config.get("feature_scale", 1.0)))

    def features(self, images: Any) -> tuple[jax.Array, jax.Array]:
        """Return (features (N, feature_dim), logits (N, num_classes)) of NHWC images in [-1, 1]."""
        images = jnp.asarray(images, jnp.float32)
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"expected NHWC images with 1 or 3 channels; got {images.shape}.")
        if images.shape[-1] == 3:
            images = images @ jnp.asarray(LUMA_601)[:, None]
        n, height, width, _ = images.shape
        if (height, width) != (self.image_size, self.image_size):
            images = jax.image.resize(images, (n, self.image_size, self.image_size, 1), "bilinear")
        features, logits = self._apply(self.variables, images)
        return features / self.feature_scale, logits
