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

_READ_CHUNK = 4096  # examples per read when a source keeps its labels only beside its images


def dataset_labels(dataset: Any) -> np.ndarray | None:
    """Every training example's int label, or None for unlabelled data (read from the source's label array when it
    keeps one, else through its reader in chunks)."""
    source = getattr(dataset, "source", None)
    if source is None or not dataset.num_classes:
        return None
    labels = getattr(source.read, "labels", None)
    if labels is not None:
        return np.asarray(labels, np.int64)
    chunks = [source.read(np.arange(i, min(i + _READ_CHUNK, source.num_examples)))[1]
              for i in range(0, source.num_examples, _READ_CHUNK)]
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
