"""A dataset restricted to some of its examples: held-out splits (SRGAN's evaluation images) and the like."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from jaxgan.data.pipeline import ImageDataset


@dataclasses.dataclass(frozen=True, eq=False)
class SubsetReader:
    """A source's reader restricted to `indices` (picklable, for grain's workers)."""

    read: Callable
    indices: np.ndarray

    def __call__(self, rows: np.ndarray):
        return self.read(self.indices[rows])


def subset(dataset: ImageDataset, indices: np.ndarray, tag: str) -> ImageDataset:
    """The dataset of the examples at `indices` only; `tag` joins its content identity (reference caches)."""
    source = dataset.source
    source = dataclasses.replace(source, num_examples=len(indices), read=SubsetReader(source.read, indices),
                                 identity=f"{source.identity or source.name}|{tag}")
    return dataclasses.replace(dataset, source=source, num_examples=len(indices))
