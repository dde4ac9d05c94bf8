"""Reference statistics of a named dataset, computed once and cached by the data's content.

The protocol is StyleGAN2-ADA's and clean-fid's: the reference is ALL the training images (not a sample), each
quantised to uint8 before the extractor, resized to its input by the chosen mode (`legacy` or `clean`,
`jaxgan.metrics.protocol`). The cache key holds the protocol id (extractor weights, resize, quantisation) and a hash
of the data's content identity (`ImageDataset.content_identity`: a prepared dataset's content hash, a folder's file
names and sizes, a tfds split's name, version and size, an .npz's bytes, plus the resize and crop applied), so two
datasets of the same name and shape never share a reference. `jaxgan evaluate --ref-dataset` and the in-training
evaluator (`jaxgan.metrics.training_eval`) both come here, so a run and a later evaluation read the same cached file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import ml_collections
import numpy as np

from jaxgan.data import build_dataset
from jaxgan.data import default_config as data_config
from jaxgan.data.pipeline import ImageDataset
from jaxgan.data.prepared import is_prepared
from jaxgan.metrics.evaluator import cached_reference_stats
from jaxgan.metrics.extractors import Extractor
from jaxgan.metrics.protocol import protocol_id
from jaxgan.metrics.stats import ReferenceStats

ALL = "all"  # the split label of a reference built from every image


def reference_key(dataset: ImageDataset, count: int) -> tuple[str, str]:
    """(dataset, split) of the cache key: the name, shape and content hash; `all` or the size of the subset."""
    height, width, channels = dataset.example_shape
    digest = hashlib.sha256(dataset.content_identity.encode()).hexdigest()[:16]
    split = ALL if count >= dataset.num_examples else f"subset-n{count}"
    return f"{dataset.name}-{height}x{width}x{channels}-{digest}", split


def reference_batches(dataset: ImageDataset, count: int, batch_size: int) -> Iterator[np.ndarray]:
    """The reference images in [-1, 1], batch by batch: all in storage order, or `all_images`' fixed subset."""
    if count >= dataset.num_examples:
        for batch in dataset.epoch_batches(batch_size):
            yield batch["x"][batch["mask"]]
        return
    images = dataset.all_images(limit=count)
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


def dataset_reference_stats(dataset: ImageDataset, extractor: Extractor, *, cache_dir: str | Path,
                            batch_size: int, count: int | None = None) -> tuple[ReferenceStats, str]:
    """(reference statistics, a description) of `count` images of `dataset` (default all), cached by content."""
    count = dataset.num_examples if count is None else min(count, dataset.num_examples)
    name, split = reference_key(dataset, count)
    stats = cached_reference_stats(cache_dir, lambda: reference_batches(dataset, count, batch_size), extractor,
                                   dataset=name, split=split, resolution=dataset.example_shape[0],
                                   extractor_id=protocol_id(extractor.weights_id, extractor.resize))
    return stats, f"{name} ({split}, {count} images)"


def reference_data_config(spec: str, *, image_size: int = 0, split: str = "train",
                          data_dir: str = "") -> ml_collections.ConfigDict:
    """The `data` block `--ref-dataset SPEC` names: digits, a prepared dataset, a folder, an .npz or a tfds name
    (with its config, e.g. `imagenet_resized/32x32`)."""
    cfg = data_config()
    cfg.image_size = image_size
    path = Path(spec)
    if spec == "digits":
        cfg.name = "digits"
    elif path.is_dir():
        cfg.name, cfg.path = ("prepared" if is_prepared(path) else "folder"), str(path)
    elif path.suffix == ".npz":
        cfg.name, cfg.path = "npz", str(path)
    elif spec.startswith(("/", ".", "~")):
        raise FileNotFoundError(f"--ref-dataset {spec!r} is neither digits, an existing folder or .npz, nor a tfds "
                                "dataset name; fix the path or name a tfds dataset such as cifar10.")
    else:
        cfg.name, cfg.tfds_name, cfg.split, cfg.data_dir = "tfds", spec, split, data_dir
    return cfg


def named_reference_stats(spec: str, extractor: Extractor, *, cache_dir: str | Path, batch_size: int,
                          image_size: int = 0, split: str = "train", data_dir: str = ""
                          ) -> tuple[ReferenceStats, str]:
    """(statistics, description) of ALL the images of the dataset `spec` names, from the cache when there."""
    cfg = reference_data_config(spec, image_size=image_size, split=split, data_dir=data_dir)
    dataset = build_dataset(cfg, seed=0)
    if not isinstance(dataset, ImageDataset):
        raise ValueError(f"--ref-dataset {spec!r} is not an image dataset.")
    return dataset_reference_stats(dataset, extractor, cache_dir=cache_dir, batch_size=batch_size)
