"""Image sources: random access to raw examples from sklearn digits, a folder or an .npz (tfds: `tfds_source`).

Every reader is a small picklable object (no closures, no open file handles in its pickled state), so grain can
ship it to its worker processes (`data.num_workers`), which then decode and resize there.
"""

import dataclasses
import hashlib
import logging
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from jaxgan.data.census import GRAY_MODES, choose_channels, plan_size, take_census
from jaxgan.errors import JaxganError
from jaxgan.files.downloads import file_sha256

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")

Images = np.ndarray | list[np.ndarray]
Reader = Callable[[np.ndarray], tuple[Images, np.ndarray | None]]


class MissingDependencyError(JaxganError, ImportError):
    """An optional package a chosen data source needs is not installed (one line names the extra to install)."""


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """Random access to raw HWC images (values in `value_range`) and optional integer labels."""

    name: str
    num_examples: int
    image_shape: tuple[int | None, int | None, int | None]  # None where it varies or is unknown
    value_range: tuple[float, float]
    num_classes: int | None
    read: Reader  # indices -> (images, int labels or None)
    dtype: str = "uint8"  # the stored pixel type: uint8 pixels cross to the device as uint8
    identity: str = ""  # what the content is (a hash of it, or a versioned name): keys caches built from the data


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayReader:
    """Reads rows of in-memory arrays (one vectorised gather per batch)."""

    images: np.ndarray
    labels: np.ndarray | None

    def __call__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.images[indices], None if self.labels is None else self.labels[indices]


def array_source(
    name: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    value_range: tuple[float, float],
    num_classes: int | None = None,
    identity: str | None = None,
) -> ImageSource:
    """Wrap in-memory NHWC images (and labels) as a source; its identity defaults to a hash of the arrays."""
    if labels is not None and num_classes is None:
        num_classes = int(labels.max()) + 1
    reader = ArrayReader(images, labels)
    identity = identity or arrays_identity(images, labels)
    return ImageSource(name, len(images), images.shape[1:], value_range, num_classes, reader, images.dtype.name,
                       identity)


def arrays_identity(images: np.ndarray, labels: np.ndarray | None) -> str:
    """sha256 of the arrays' dtype, shape and bytes: the identity of in-memory data."""
    digest = hashlib.sha256()
    for array in (images, labels):
        if array is not None:
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return "arrays-sha256:" + digest.hexdigest()


def file_identity(path: str | Path) -> str:
    """sha256 of a file's bytes: the identity of an .npz."""
    return "file-sha256:" + file_sha256(path)


def folder_identity(root: Path, paths: list[Path]) -> str:
    """sha256 of the sorted relative file names and sizes: a folder's identity without reading its images."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path.relative_to(root).as_posix()}\t{path.stat().st_size}\n".encode())
    return "folder-sha256:" + digest.hexdigest()


def load_digits() -> ImageSource:
    """Load sklearn's 1797 8x8 handwritten digits (values 0..16, 10 classes); no download."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = digits.images.astype(np.float32)[..., None]
    return array_source("digits", images, digits.target.astype(np.int32), (0.0, 16.0), 10)


def infer_value_range(images: np.ndarray) -> tuple[float, float]:
    """Guess the value range of stored images: integers and floats above 1 are [0, 255]."""
    if np.issubdtype(images.dtype, np.integer):
        return (0.0, 255.0)
    if images.size and float(images.min()) < 0.0:
        return (-1.0, 1.0)
    if images.size and float(images.max()) <= 1.0:
        return (0.0, 1.0)
    return (0.0, 255.0)


def check_finite(images: np.ndarray, where: str) -> None:
    """Raise ValueError (bad data, not a diverged run) when float images hold NaN or infinity."""
    if not np.issubdtype(images.dtype, np.floating):
        return
    bad = ~np.isfinite(images)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), images.shape)
        raise ValueError(f"bad data: {where} holds {int(bad.sum())} NaN or infinite values (the first at index "
                         f"{tuple(int(i) for i in first)}); clean or regenerate the file before training.")


def _open_npz(path: str) -> np.lib.npyio.NpzFile:
    """np.load an .npz, with a named error for a missing file or one that is not an .npz archive."""
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(
            f"data.path={path!r} is not an existing .npz file; set data.path to an .npz holding "
            "an image array under key 'images' or 'x'."
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not an .npz archive (write one with np.savez(path, images=...)); "
                         "set data.path to an .npz file.")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read {path} as an .npz archive ({error}); rewrite it with np.savez.") from error


def _npz_array(npz: np.lib.npyio.NpzFile, key: str, path: str) -> np.ndarray:
    """One array of an .npz, with a named error for object (pickled) or unreadable arrays."""
    try:
        return npz[key]
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read array {key!r} of {path} ({str(error).splitlines()[0]}); store a plain "
                         "numeric array (no object dtype) with np.savez.") from error


def load_npz(path: str) -> ImageSource:
    """Load images under key `images`/`x` (NHW or NHWC) and labels under `labels`/`y` from .npz."""
    with _open_npz(path) as npz:
        keys = list(npz.keys())
        image_key = next((k for k in ("images", "x") if k in npz), None)
        label_key = next((k for k in ("labels", "y") if k in npz), None)
        if image_key is None:
            raise ValueError(f"{path} has no image array: expected key 'images' or 'x', found {keys}.")
        images = _npz_array(npz, image_key, path)
        labels = None if label_key is None else _npz_array(npz, label_key, path)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(
            f"{path}[{image_key!r}] has shape {images.shape}; expected a non-empty NHW or NHWC "
            "array with 1 or 3 channels."
        )
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{path}[{image_key!r}] has dtype {images.dtype}; store uint8 or float images.")
    check_finite(images, f"{path}[{image_key!r}]")
    if labels is not None:
        labels = _check_labels(labels, len(images), f"{path}[{label_key!r}]")
    return array_source(Path(path).stem, images, labels, infer_value_range(images), identity=file_identity(path))


def _check_labels(labels: np.ndarray, count: int, where: str) -> np.ndarray:
    """Return labels as int32 after checking they are non-negative integers, one per image."""
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{where} must be integer labels of shape ({count},); got {labels.dtype} {labels.shape}.")
    if labels.min() < 0:
        raise ValueError(f"{where} has negative labels; use class ids 0..num_classes-1.")
    return labels.astype(np.int32)


def find_images(root: Path) -> list[Path]:
    """List image files under root recursively (by extension, case-insensitive, skipping hidden
    files and folders), sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    )


def decode_image(data: bytes | Path | str, name: str) -> np.ndarray:
    """Decode one image (a path or its bytes) to uint8 HWC: gray modes as 1 channel, else RGB.

    Raises ValueError naming `name` when the file is empty, truncated or not an image.
    """
    import io

    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            image = image.convert("L" if image.mode in GRAY_MODES else "RGB")
            array = np.asarray(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot decode image {name}: {error} (empty, truncated or not an image); remove or "
                         "replace it, or convert the folder with `jaxgan prepare`, which skips such files.") from None
    return array[..., None] if array.ndim == 2 else array


def _read_image(path: Path) -> np.ndarray:
    """Decode one file to uint8 HWC (see decode_image)."""
    return decode_image(path, str(path))


def _check_readable(paths: list[Path]) -> None:
    """Raise ValueError naming the first empty or unreadable file (cheap: no decoding)."""
    for path in paths:
        if path.stat().st_size == 0:
            raise ValueError(f"image file {path} is empty (0 bytes); remove or replace it.")
        if not os.access(path, os.R_OK):
            raise ValueError(f"image file {path} is not readable (permissions); fix its mode or remove it.")


def labelled_images(root: Path) -> tuple[list[Path], np.ndarray | None, list[str]]:
    """(image paths, labels or None, class names): sorted sub-folder names are classes if all children are dirs."""
    children = [c for c in root.iterdir() if not c.name.startswith(".")]
    class_dirs = sorted(c for c in children if c.is_dir())
    if not (children and len(class_dirs) == len(children)):
        return find_images(root), None, []
    per_class = [find_images(d) for d in class_dirs]
    paths = [p for files in per_class for p in files]
    labels = np.concatenate([np.full(len(f), i, np.int32) for i, f in enumerate(per_class)])
    return paths, labels, [d.name for d in class_dirs]


@dataclasses.dataclass(frozen=True, eq=False)
class FolderReader:
    """Decodes image files by index (in a grain worker when data.num_workers > 0)."""

    paths: tuple[str, ...]
    labels: np.ndarray | None

    def __call__(self, indices: np.ndarray) -> tuple[list[np.ndarray], np.ndarray | None]:
        images = [decode_image(self.paths[i], self.paths[i]) for i in indices]
        return images, None if self.labels is None else self.labels[indices]


def load_folder(path: str, *, image_size: int, channels: int, center_crop: bool = False) -> ImageSource:
    """Index a folder of images (recursively); sorted sub-folder names are labels if all are dirs.

    Every file's header is read once (no decoding): the channel count is data.channels, or the files' majority when
    0; images of the other kind are converted, non-square ones are cropped only with data.center_crop (resizing them
    without it is an error, never a stretch), and each conversion is logged once with its count.
    Empty or unreadable files are refused here; a truncated file is named when it is first decoded.
    """
    root = Path(path) if path else None
    if root is None or not root.is_dir():
        raise FileNotFoundError(
            f"data.path={path!r} is not an existing folder; set data.path to a folder of images "
            f"({', '.join(IMAGE_EXTENSIONS)})."
        )
    paths, labels, classes = labelled_images(root)
    if not paths:
        raise FileNotFoundError(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}) found under {root} (searched "
            "recursively); put images there or fix data.path."
        )
    _check_readable(paths)
    found = take_census([str(p) for p in paths])
    size = found.common_size()
    if not image_size and size is None:
        other = next(i for i, s in enumerate(found.sizes) if s != found.sizes[0])
        (h0, w0), (h1, w1) = found.sizes[0], found.sizes[other]
        raise ValueError(f"images have differing sizes: {found.names[0]} is {h0}x{w0} and {found.names[other]} is "
                         f"{h1}x{w1} (HxW); set data.image_size to resize them to one size.")
    channels, notes = choose_channels(found, channels)
    notes += plan_size(found, image_size, center_crop, str(root))
    if notes:
        log.warning("data.path=%s (%d images), as training reads it: %s.", root, found.count, "; ".join(notes))
    height, width = size if size else (None, None)
    reader = FolderReader(tuple(str(p) for p in paths), labels)
    return ImageSource(root.name, len(paths), (height, width, channels), (0.0, 255.0), len(classes) or None, reader,
                       identity=folder_identity(root, paths))
