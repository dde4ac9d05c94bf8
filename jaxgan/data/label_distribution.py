"""The training set's class distribution, and fake labels drawn from it.

StyleGAN2-ADA conditions its fakes on labels drawn from the training set, not on uniform classes: its training loop
draws each `gen_c` as the label of a random training example (independently of the real batch), and its metrics
draw G's `c` the same way (`metrics/metric_utils.py`). On a dataset whose classes are unbalanced the two differ, and
FID against the training set's statistics is measured on the training set's class mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_READ_CHUNK = 1024  # examples per read when a source keeps its labels only beside its images
LABEL_SUBSET = 10_000  # such a source's class shares are estimated from this many examples (a fixed random subset)
_SUBSET_SEED = 0


def dataset_labels(dataset: Any) -> np.ndarray | None:
    """The training examples' int labels (None for unlabelled data): all of them when the source keeps a label
    array, else those of a fixed random subset of LABEL_SUBSET examples read through its reader (reading every
    example of a large tfds split would decode every image)."""
    source = getattr(dataset, "source", None)
    if source is None or not dataset.num_classes:
        return None
    labels = getattr(source.read, "labels", None)
    if labels is not None:
        return np.asarray(labels, np.int64)
    n = source.num_examples
    indices = np.arange(n) if n <= LABEL_SUBSET else np.sort(
        np.random.default_rng(_SUBSET_SEED).choice(n, LABEL_SUBSET, replace=False))
    chunks = [source.read(indices[i:i + _READ_CHUNK])[1] for i in range(0, len(indices), _READ_CHUNK)]
    return None if chunks[0] is None else np.concatenate(chunks).astype(np.int64)


def class_probabilities(dataset: Any) -> tuple[float, ...] | None:
    """Each class's share of the training examples (num_classes entries summing to 1), None when unlabelled."""
    labels = dataset_labels(dataset)
    if labels is None:
        return None
    counts = np.bincount(labels, minlength=dataset.num_classes)[: dataset.num_classes]
    return tuple(float(c) for c in counts / counts.sum())


def draw_labels(key: jax.Array, n: int, probs: Sequence[float]) -> jax.Array:
    """n int32 labels, label i from class distribution `probs` with its own key fold_in(key, i) (so a global batch
    draws the same labels on any device count)."""
    logits = jnp.log(jnp.asarray(probs, jnp.float32))
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))
    return jax.vmap(lambda k: jax.random.categorical(k, logits))(keys).astype(jnp.int32)
