"""Read the tensors of a torch `.pth` file (a state dict) as numpy arrays, without torch and without running code.

A `.pth` is a pickle; unpickling can call any importable function, so a file from the internet must not be read
with plain `pickle`. `load_pth` admits only the globals that rebuild tensors (the same idea as torch's
`weights_only=True` loader) and refuses any other by name. Both torch formats are read: the zip format (torch >= 1.6:
`<prefix>/data.pkl` plus one `<prefix>/data/<key>` file per storage) and the legacy one (pickled header, the object
pickle, the storage keys, then each storage as an int64 element count followed by its raw bytes).
"""

from __future__ import annotations

import collections
import dataclasses
import pickle
import zipfile
from pathlib import Path
from typing import IO, Any

import ml_dtypes
import numpy as np

from jaxgan.errors import JaxganError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class UnsafePickleError(JaxganError, pickle.UnpicklingError):
    """The file's pickle asks for a global that does not rebuild tensors (it could run code)."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
    """Stands for `torch.<Name>Storage`: only its element type matters here."""

    dtype: np.dtype


@dataclasses.dataclass
class _Storage:
    """One storage: a flat array, filled when its bytes are read (at once for zip, after the pickle for legacy)."""

    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class _TensorRef:
    """A tensor as the pickle describes it: a strided view of a storage."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None) -> _TensorRef:
    """Stand-in for `torch._utils._rebuild_tensor_v2`: record the view; arrays are built once storages are read."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"a tensor's storage is {type(storage).__name__}, not a storage record.")
    return _TensorRef(storage, int(storage_offset), tuple(int(n) for n in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None) -> Any:
    """Stand-in for `torch._utils._rebuild_parameter`: a parameter is its tensor."""
    return data


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(np.dtype(dtype)) for name, dtype in STORAGE_DTYPES.items()},
}


class _TensorUnpickler(pickle.Unpickler):
    """An unpickler that resolves only tensor-rebuilding globals and hands storage records to `on_storage`."""

    def __init__(self, file: IO[bytes], source: str, on_storage=None):
        super().__init__(file, encoding="utf-8")
        self.source, self.on_storage = source, on_storage

    def find_class(self, module: str, name: str) -> Any:
        """Return our stand-in for an allowed global; refuse every other one by name."""
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to read {self.source}: its pickle asks for the global {module}.{name}, which does not "
                "rebuild tensors (loading it could run code); only files of tensors (state dicts) are read."
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        """Turn a ('storage', type, key, location, numel[, view]) record into a `_Storage`."""
        if self.on_storage is None or not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"{self.source}: unexpected persistent id {pid!r:.80}.")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"{self.source}: storage {key} has no storage type.")
        return self.on_storage(key, storage_type.dtype, numel, pid[5] if len(pid) > 5 else None)


def _materialize(obj: Any, source: str) -> Any:
    """Replace each `_TensorRef` inside dicts, lists and tuples by a numpy array that owns its memory."""
    if isinstance(obj, _TensorRef):
        flat = obj.storage.data
        extent = obj.offset + sum((n - 1) * s for n, s in zip(obj.size, obj.stride, strict=True)) + 1
        if flat is None or (0 not in obj.size and extent > flat.size):
            raise ValueError(f"{source} is truncated or corrupt: a tensor of shape {obj.size} reads past its "
                             "storage; download the file again.")
        strides = tuple(s * flat.itemsize for s in obj.stride)
        return np.array(np.lib.stride_tricks.as_strided(flat[obj.offset:], obj.size, strides))
    if isinstance(obj, dict):
        return type(obj)((key, _materialize(value, source)) for key, value in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_materialize(value, source) for value in obj)
    return obj


def _load_zip(path: Path) -> Any:
    """Read the zip format: `<prefix>/data.pkl` and one raw file per storage under `<prefix>/data/`."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path} is a zip file but not a torch checkpoint (no single data.pkl).")
        prefix = pickles[0][: -len("data.pkl")]
        names = set(archive.namelist())
        order = archive.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in names else "little"
        endian = "<" if order == "little" else ">"

        def on_storage(key: str, dtype: np.dtype, numel: int, view: Any) -> _Storage:
            name = f"{prefix}data/{key}"
            if name not in names:
                raise ValueError(f"{path} is truncated or corrupt: storage {name} is missing.")
            data = np.frombuffer(archive.read(name), dtype.newbyteorder(endian))
            return _Storage(dtype, numel, data.astype(dtype, copy=False))

        with archive.open(pickles[0]) as f:
            return _materialize(_TensorUnpickler(f, str(path), on_storage).load(), str(path))


def _load_legacy(path: Path, f: IO[bytes]) -> Any:
    """Read the legacy format: magic, protocol, sys info, the pickle, the storage keys, then the storages."""
    header = [_TensorUnpickler(f, str(path)).load() for _ in range(3)]
    if header[0] != LEGACY_MAGIC or header[1] != LEGACY_PROTOCOL or not isinstance(header[2], dict):
        raise ValueError(f"{path} is not a torch checkpoint (neither the zip nor the legacy format).")
    endian = "<" if header[2].get("little_endian", True) else ">"
    storages: dict[str, _Storage] = {}

    def on_storage(key: str, dtype: np.dtype, numel: int, view: Any) -> _Storage:
        if view is not None:
            raise ValueError(f"{path} uses legacy storage views; re-save it with a current torch (torch.save).")
        return storages.setdefault(key, _Storage(dtype, numel))

    result = _TensorUnpickler(f, str(path), on_storage).load()
    for key in _TensorUnpickler(f, str(path)).load():
        storage = storages[str(key)]
        count = np.frombuffer(f.read(8), endian + "i8")
        nbytes = storage.numel * storage.dtype.itemsize
        raw = f.read(nbytes)
        if count.size != 1 or int(count[0]) != storage.numel or len(raw) != nbytes:
            raise ValueError(f"{path} is truncated or corrupt at storage {key}; download the file again.")
        storage.data = np.frombuffer(raw, storage.dtype.newbyteorder(endian)).astype(storage.dtype, copy=False)
    return _materialize(result, str(path))


def load_pth(path: str | Path) -> Any:
    """Return the object in torch file `path` with every tensor as a numpy array; refuse code-running pickles."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with path.open("rb") as f:
        try:
            return _load_legacy(path, f)
        except (EOFError, pickle.UnpicklingError) as error:
            if isinstance(error, UnsafePickleError):
                raise
            raise ValueError(f"{path} is not a readable torch checkpoint ({error}).") from None
