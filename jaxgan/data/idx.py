"""Read IDX files, the format MNIST ships in (`t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one big-endian uint32
per dimension, then the values in C order, big-endian. Files ending in .gz are read through gzip.
"""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np

from jaxgan.errors import JaxganError

# IDX type code -> numpy dtype (big-endian as the format stores them).
IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IDX_SUFFIX = re.compile(r"[-.]idx\d-ubyte(\.gz)?$")


class IdxFormatError(JaxganError, ValueError):
    """A file given as IDX is not one (bad magic, unknown type code, or a size that does not match its header)."""


def is_idx_path(path: str | Path) -> bool:
    """Whether `path` is named like an IDX file (`*.idx3-ubyte`, `*.idx1-ubyte.gz`, ...)."""
    return bool(IDX_SUFFIX.search(str(path)))


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is a gzip file (by its magic bytes, not its name)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise IdxFormatError(f"{path} is a damaged gzip file ({error}); download it again.") from None
    return data


def read_idx(path: str | Path) -> np.ndarray:
    """Return the array stored in an IDX file (optionally gzipped), in native byte order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist; give the path of an .idx?-ubyte[.gz] file.")
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise IdxFormatError(f"{path} is not an IDX file (header {data[:4].hex() or 'empty'}, expected 0000 then a "
                             f"type code in {sorted(hex(k) for k in IDX_DTYPES)}); give MNIST's "
                             ".idx?-ubyte[.gz] files.")
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(f"{path} is truncated inside its IDX header ({len(data)} bytes); download it again.")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise IdxFormatError(f"{path} holds {len(data) - header} data bytes but its header {shape} needs "
                             f"{expected}; the file is truncated or padded, download it again.")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def labels_path_for(images_path: str | Path) -> Path | None:
    """MNIST's labels file beside an images file (`X-images-idx3-ubyte.gz` -> `X-labels-idx1-ubyte.gz`), if present."""
    images_path = Path(images_path)
    name = images_path.name.replace("images-idx3", "labels-idx1")
    candidate = images_path.with_name(name)
    return candidate if name != images_path.name and candidate.is_file() else None


def read_idx_images(images_path: str | Path, labels_path: str | Path | None = None
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """(uint8 images N x H x W x 1, int32 labels or None) from an IDX image file and its optional labels file."""
    images = read_idx(images_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxFormatError(f"{images_path} holds a {images.dtype} array of shape {images.shape}; an IDX image "
                             "file holds uint8 N x H x W (idx3-ubyte).")
    if labels_path is None:
        return images[..., None], None
    labels = read_idx(labels_path)
    if labels.shape != (len(images),):
        raise IdxFormatError(f"{labels_path} holds labels of shape {labels.shape} but {images_path} has "
                             f"{len(images)} images; pair each images file with its own labels file.")
    return images[..., None], labels.astype(np.int32)
