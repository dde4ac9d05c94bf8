"""tfds as an image source: random access through `tfds.data_source`, downloaded and prepared on first use."""

import dataclasses
import logging

import numpy as np

from jaxgan.data.sources import ImageSource, MissingDependencyError
from jaxgan.errors import JaxganError

log = logging.getLogger(__name__)

TFDS_INSTALL_HINT = 'pip install -e ".[tfds]"'


def import_tfds():
    """Import tensorflow_datasets, or raise ImportError naming the extra to install."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise MissingDependencyError(f"data.name='tfds' needs tensorflow-datasets ({error}); install it with "
                          f"`{TFDS_INSTALL_HINT}`.") from None
    return tfds


def _not_prepared_message(name: str, split: str, data_dir: str, error: Exception) -> str:
    """Explain what to do when a tfds dataset is not prepared in `data_dir` and may not be downloaded."""
    where = data_dir or "~/tensorflow_datasets"
    reason = str(error).splitlines()[0] if str(error) else ""
    return (
        f"tfds dataset {name!r} split {split!r} is not prepared in {where} ({type(error).__name__}: {reason}): "
        "allow downloads (data.download=True, or `jaxgan prepare` without --no-download) to download and prepare "
        "it on first use, set data.data_dir to a folder that already holds it, or prepare it where there is "
        f"internet with `jaxgan prepare --source tfds:{name} --data-dir {where} --out OUT` and copy {where} here."
    )


def _needs_tensorflow(error: BaseException) -> bool:
    """True when `error` (or one it was raised from) is a failed import of TensorFlow."""
    while error is not None:
        if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "tensorflow":
            return True
        error = error.__cause__ or error.__context__
    return False


def _prepare_error(name: str, where: str, error: Exception) -> JaxganError:
    """One line for a failed download-and-prepare: TensorFlow missing, or the download itself failed."""
    if _needs_tensorflow(error):
        return MissingDependencyError(
            f"preparing tfds dataset {name!r} needs TensorFlow (tfds encodes its images with it): install it with "
            f"`pip install tensorflow` and run again, or set data.data_dir to a copy prepared elsewhere.")
    first_line = str(error).splitlines()[0] if str(error) else ""
    return JaxganError(
        f"could not download and prepare tfds dataset {name!r} into {where} ({type(error).__name__}: {first_line}): "
        f"check the internet connection and run again, or prepare it where there is internet with `jaxgan prepare "
        f"--source tfds:{name} --data-dir DIR --out OUT` and set data.data_dir to a copy of DIR.")


def download_and_prepare_tfds(name: str, data_dir: str) -> None:
    """Download tfds dataset `name` and prepare it in `data_dir` as array_record (what `tfds.data_source` reads)."""
    tfds = import_tfds()
    builder = tfds.builder(name, data_dir=data_dir or None, file_format="array_record")
    print(f"downloading and preparing tfds dataset {name!r} into {builder.data_dir} (once; data.download=False "
          "forbids downloads)", flush=True)
    try:
        builder.download_and_prepare()
    except Exception as error:  # tfds and requests raise many types; the message keeps the first line
        raise _prepare_error(name, data_dir or "~/tensorflow_datasets", error) from None


@dataclasses.dataclass(eq=False)
class TfdsReader:
    """Reads examples of a prepared tfds split by index; reopens the data source in each worker process."""

    name: str
    split: str
    data_dir: str
    image_key: str
    label_key: str | None

    def __post_init__(self):
        self._source = None

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_source"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _source=None)

    def source(self):
        """The open `tfds.data_source` (opened on first use in this process)."""
        if self._source is None:
            self._source = open_tfds_source(self.name, self.split, self.data_dir)
        return self._source

    def __call__(self, indices: np.ndarray) -> tuple[list[np.ndarray], np.ndarray | None]:
        examples = [self.source()[int(i)] for i in indices]
        images = [np.asarray(e[self.image_key]) for e in examples]
        if self.label_key is None:
            return images, None
        return images, np.array([e[self.label_key] for e in examples], np.int32)


def open_tfds_source(name: str, split: str, data_dir: str, *, download: bool = False):
    """`tfds.data_source(name, split)`; with `download`, a dataset not prepared yet is downloaded and prepared first."""
    tfds = import_tfds()
    try:
        return tfds.data_source(name, split=split, data_dir=data_dir or None, download=False)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"unknown tfds dataset data.tfds_name={name!r}; see tfds.list_builders().") from error
    except Exception as error:  # tfds raises many types when a dataset is not prepared
        if not download:
            raise FileNotFoundError(_not_prepared_message(name, split, data_dir, error)) from None
    download_and_prepare_tfds(name, data_dir)
    return open_tfds_source(name, split, data_dir, download=False)


def load_tfds(name: str, *, split: str, data_dir: str, download: bool = True) -> ImageSource:
    """Open a tfds dataset with `tfds.data_source` (random access, no TensorFlow), preparing it first if allowed."""
    tfds = import_tfds()
    source = open_tfds_source(name, split, data_dir, download=download)
    features = source.dataset_info.features
    image_keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if not image_keys:
        raise ValueError(
            f"tfds dataset {name!r} has no image feature (features: {list(features.keys())}); "
            "choose an image dataset such as mnist or cifar10."
        )
    image_key = "image" if "image" in image_keys else image_keys[0]
    label_keys = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel) and not f.shape]
    label_key = "label" if "label" in label_keys else (label_keys[0] if label_keys else None)
    image_feature = features[image_key]
    dtype = np.dtype(image_feature.np_dtype)
    top = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
    reader = TfdsReader(name, split, data_dir, image_key, label_key)
    reader._source = source
    num_classes = features[label_key].num_classes if label_key else None
    identity = tfds_identity(name, str(source.dataset_info.version), split, len(source))
    return ImageSource(name, len(source), tuple(image_feature.shape), (0.0, top), num_classes, reader, dtype.name,
                       identity)


def tfds_identity(name: str, version: str, split: str, num_examples: int) -> str:
    """A tfds split's identity: its name, version, split and size (tfds versions its data, so these fix it)."""
    return f"tfds:{name}:{version}:{split}:{num_examples}"
