"""Host data pipeline: image and 2-D mixture datasets, resumable batches, device prefetch."""

from jaxgan.data.build import NAMES, build_dataset, default_config
from jaxgan.data.pipeline import Dataset, ImageDataset, MixtureDataset
from jaxgan.data.prefetch import prefetch_to_device, stack_batches

__all__ = [
    "NAMES",
    "Dataset",
    "ImageDataset",
    "MixtureDataset",
    "build_dataset",
    "default_config",
    "prefetch_to_device",
    "stack_batches",
]
