"""Host data pipeline on grain (image and 2-D mixture datasets, resumable batches) and the device-side decode."""

from jaxgan.data.build import NAMES, build_dataset, default_config
from jaxgan.data.device import decode_batch, with_decoded_batch
from jaxgan.data.pipeline import Dataset, ImageDataset, MixtureDataset
from jaxgan.data.prefetch import prefetch_to_device, stack_batches

__all__ = [
    "NAMES",
    "Dataset",
    "ImageDataset",
    "MixtureDataset",
    "build_dataset",
    "decode_batch",
    "default_config",
    "prefetch_to_device",
    "stack_batches",
    "with_decoded_batch",
]
