"""Build a Dataset from the `config.data` block of an experiment config."""

from collections.abc import Callable

import ml_collections

from jaxgan.data import mixtures, prepared, sources, tfds_source
from jaxgan.data.images import check_no_stretch, output_shape
from jaxgan.data.indexing import REMAINDERS
from jaxgan.data.pipeline import Dataset, ImageDataset, MixtureDataset

MIXTURE_NAMES = ("ring8", "grid25")
SourceLoader = Callable[[ml_collections.ConfigDict], sources.ImageSource]
# data.name -> the function that opens that image source from the `data` block; `register_source` adds one.
IMAGE_SOURCES: dict[str, SourceLoader] = {
    "digits": lambda cfg: sources.load_digits(),
    "tfds": lambda cfg: tfds_source.load_tfds(cfg.tfds_name, split=cfg.split, data_dir=cfg.data_dir,
                                              download=cfg.download),
    "folder": lambda cfg: sources.load_folder(cfg.path, image_size=cfg.image_size, channels=cfg.channels,
                                              center_crop=cfg.center_crop),
    "npz": lambda cfg: sources.load_npz(cfg.path),
    "prepared": lambda cfg: prepared.load_prepared(cfg.path, image_size=cfg.image_size, channels=cfg.channels),
}


def register_source(name: str) -> Callable[[SourceLoader], SourceLoader]:
    """Decorator: `data.name=name` opens the image source the decorated `loader(data_block)` returns (a new dataset
    source is one function, e.g. in the config file that uses it)."""

    def register(loader: SourceLoader) -> SourceLoader:
        if name in MIXTURE_NAMES or IMAGE_SOURCES.get(name, loader) is not loader:
            raise ValueError(f"data.name {name!r} is already a source; register yours under another name.")
        IMAGE_SOURCES[name] = loader
        return loader

    return register


def source_names() -> tuple[str, ...]:
    """Every `data.name`: the registered image sources and the 2-D mixtures."""
    return (*IMAGE_SOURCES, *MIXTURE_NAMES)


def default_config() -> ml_collections.ConfigDict:
    """Return a `config.data` block with every field the data pipeline reads."""
    return ml_collections.ConfigDict(
        {
            "name": "digits",  # digits | tfds | folder | npz | prepared | ring8 | grid25, or a registered source
            "tfds_name": "mnist",  # tfds dataset when name="tfds"
            "split": "train",  # tfds split
            "data_dir": "",  # tfds data_dir ("" = tfds default)
            "download": True,  # tfds: download and prepare a dataset not yet in data_dir (False: only read)
            "path": "",  # folder, .npz or prepared-dataset folder for name="folder" / "npz" / "prepared"
            "image_size": 0,  # resize to image_size x image_size (0 = keep)
            "channels": 0,  # 1 or 3 (0 = the data's own; for a folder, the majority of its files)
            "remainder": "drop",  # last partial batch of an epoch: "drop" or "pad"
            "center_crop": False,  # crop to a central square before resizing (non-square images are never stretched)
            "random_flip": False,  # mirror each image left-right with probability 1/2 (on the device, per step)
            "num_workers": 0,  # grain worker processes that read and decode (0 = in the training process)
        }
    )


def _check_config(cfg: ml_collections.ConfigDict, seed: int) -> None:
    """Raise ValueError naming the bad field of `cfg` (or seed)."""
    if cfg.name not in source_names():
        raise ValueError(f"unknown data.name={cfg.name!r}; valid names are {', '.join(source_names())}.")
    if cfg.remainder not in REMAINDERS:
        raise ValueError(f"data.remainder={cfg.remainder!r} is not one of {REMAINDERS}.")
    if cfg.channels not in (0, 1, 3):
        raise ValueError(f"data.channels={cfg.channels} must be 0 (the data's own), 1 or 3.")
    if cfg.image_size < 0:
        raise ValueError(f"data.image_size={cfg.image_size} must be >= 0 (0 keeps the size).")
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0.")
    if not isinstance(cfg.num_workers, int) or cfg.num_workers < 0:
        raise ValueError(f"data.num_workers={cfg.num_workers!r} must be an integer >= 0 (0 reads in this process).")
    if not isinstance(cfg.download, bool):
        raise ValueError(f"data.download={cfg.download!r} must be True (download tfds datasets on first use) or "
                         "False.")
    if cfg.random_flip and cfg.name in MIXTURE_NAMES:
        raise ValueError(f"data.random_flip=True flips images, but data.name={cfg.name!r} is 2-D points; "
                         "set data.random_flip=False.")


def _mixture(name: str, seed: int) -> MixtureDataset:
    """Build the ring8 or grid25 mixture."""
    if name == "ring8":
        modes, std = mixtures.ring_modes(), mixtures.RING8_STD
    else:
        modes, std = mixtures.grid_modes(), mixtures.GRID25_STD
    return MixtureDataset(
        name=name,
        kind="points",
        example_shape=(2,),
        num_classes=None,
        num_examples=None,
        seed=seed,
        modes=modes,
        mode_std=std,
    )


def build_dataset(cfg: ml_collections.ConfigDict, *, seed: int) -> Dataset:
    """Build the dataset `cfg` (the config.data block) describes, shuffled with `seed`."""
    _check_config(cfg, seed)
    if cfg.name in MIXTURE_NAMES:
        return _mixture(cfg.name, seed)
    source = IMAGE_SOURCES[cfg.name](cfg)
    height, width, channels = source.image_shape
    if not cfg.image_size and (height is None or width is None):
        raise ValueError(f"{source.name} images have no fixed size; set data.image_size to resize them.")
    if height and width:
        check_no_stretch((height, width), image_size=cfg.image_size, center_crop=cfg.center_crop, name=source.name)
    shape = output_shape(
        (height, width, channels),
        image_size=cfg.image_size,
        channels=cfg.channels,
        center_crop=cfg.center_crop,
    )
    return ImageDataset(
        name=source.name,
        kind="image",
        example_shape=shape,
        num_classes=source.num_classes,
        num_examples=source.num_examples,
        seed=seed,
        source=source,
        remainder=cfg.remainder,
        image_size=cfg.image_size,
        center_crop=cfg.center_crop,
        num_workers=cfg.num_workers,
    )
