"""Host data pipeline on grain (image and 2-D mixture datasets, resumable batches) and the device-side decode."""

from jaxgan.data.build import build_dataset, default_config, register_source, source_names
from jaxgan.data.device import decode_batch, with_decoded_batch
from jaxgan.data.pipeline import Dataset, ImageDataset, MixtureDataset
from jaxgan.data.prefetch import prefetch_to_device, stack_batches

__all__ = [
    "register_source",
    "source_names",
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
