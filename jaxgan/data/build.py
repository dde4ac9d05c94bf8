"""Build a Dataset from the `config.data` block of an experiment config."""

import ml_collections

from jaxgan.data import mixtures, prepared, sources, tfds_source
from jaxgan.data.images import check_no_stretch, output_shape
from jaxgan.data.indexing import REMAINDERS
from jaxgan.data.pipeline import Dataset, ImageDataset, MixtureDataset

IMAGE_NAMES = ("digits", "tfds", "folder", "npz", "prepared")
MIXTURE_NAMES = ("ring8", "grid25")
NAMES = IMAGE_NAMES + MIXTURE_NAMES


def default_config() -> ml_collections.ConfigDict:
    """Return a `config.data` block with every field the data pipeline reads."""
    return ml_collections.ConfigDict(
        {
            "name": "digits",  # one of NAMES
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
    if cfg.name not in NAMES:
        raise ValueError(f"unknown data.name={cfg.name!r}; valid names are {', '.join(NAMES)}.")
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


def _load_source(cfg: ml_collections.ConfigDict) -> sources.ImageSource:
    """Open the image source `cfg.name` names."""
    if cfg.name == "digits":
        return sources.load_digits()
    if cfg.name == "npz":
        return sources.load_npz(cfg.path)
    if cfg.name == "folder":
        return sources.load_folder(cfg.path, image_size=cfg.image_size, channels=cfg.channels,
                                   center_crop=cfg.center_crop)
    if cfg.name == "prepared":
        return prepared.load_prepared(cfg.path, image_size=cfg.image_size, channels=cfg.channels)
    return tfds_source.load_tfds(cfg.tfds_name, split=cfg.split, data_dir=cfg.data_dir, download=cfg.download)


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
    source = _load_source(cfg)
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
