"""The prepared dataset format `jaxgan prepare` writes: pre-resized uint8 images grain reads without decoding.

A prepared dataset is a folder holding
- `images.npy`: every image, uint8 (N, H, W, C), read memory-mapped (random access, no decoding, no copy of the file
  into memory; the page cache keeps the hot part);
- `labels.npy`: int32 class ids (only for labelled datasets);
- `dataset.json`: the metadata (format, source, count, resolution, channels, class names, content hash).

Why not ArrayRecord (grain's own record format, tried first): its reader costs several times the CPU per image of a
gather from a memory-mapped array, which runs at the speed of an in-memory .npz; docs/notes.md has the measurement.
"""

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from jaxgan.data.sources import ImageSource, file_identity

FORMAT = "jaxgan-prepared-v1"
IMAGES_FILE = "images.npy"
LABELS_FILE = "labels.npy"
META_FILE = "dataset.json"
# Images copied at a time from the staging file into images.npy.
_COPY_CHUNK = 4096


def is_prepared(path: Path) -> bool:
    """Whether `path` is a folder holding a prepared dataset."""
    return (Path(path) / META_FILE).is_file()


class Writer:
    """Appends uint8 images of one shape to a new prepared dataset; `close` writes the arrays and the metadata."""

    def __init__(self, out: Path, shape: tuple[int, int, int]):
        self.out, self.shape = Path(out), tuple(shape)
        self.out.mkdir(parents=True, exist_ok=True)
        # raw pixels, closed in close(): the count (in the .npy header) is known only at the end
        self._staging = tempfile.TemporaryFile(dir=self.out)  # noqa: SIM115
        self._hash = hashlib.sha256()
        self._labels: list[int] = []
        self.count = 0

    def add(self, image: np.ndarray, label: int | None = None) -> None:
        """Append one uint8 HWC image (and its label)."""
        if image.shape != self.shape or image.dtype != np.uint8:
            raise ValueError(f"prepared images must be uint8 {self.shape}, got {image.dtype} {image.shape}.")
        data = np.ascontiguousarray(image).tobytes()
        self._staging.write(data)
        self._hash.update(data)
        if label is not None:
            self._labels.append(label)
        self.count += 1

    def _write_images(self) -> None:
        """Copy the staged pixels into images.npy (an .npy header needs the count up front)."""
        images = np.lib.format.open_memmap(self.out / IMAGES_FILE, mode="w+", dtype=np.uint8,
                                           shape=(self.count, *self.shape))
        self._staging.seek(0)
        for start in range(0, self.count, _COPY_CHUNK):
            n = min(_COPY_CHUNK, self.count - start)
            images[start : start + n] = np.fromfile(self._staging, np.uint8, n * images[0].size).reshape(n, *self.shape)
        images.flush()
        del images
        self._staging.close()

    def close(self, meta: dict) -> dict:
        """Finish the files and write dataset.json with `meta` plus the count, shape and content hash."""
        self._write_images()
        if self._labels:
            labels = np.asarray(self._labels, np.int32)
            np.save(self.out / LABELS_FILE, labels)
            self._hash.update(labels.tobytes())
        height, width, channels = self.shape
        meta = {"format": FORMAT, **meta, "count": self.count, "resolution": height, "height": height,
                "width": width, "channels": channels, "labelled": bool(self._labels),
                "sha256": self._hash.hexdigest()}
        (self.out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return meta


@dataclasses.dataclass(eq=False)
class PreparedReader:
    """Gathers images by index from the memory-mapped images.npy; each grain worker maps the file itself."""

    path: str
    labels: np.ndarray | None

    def __post_init__(self):
        self._images = None

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_images"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _images=None)

    def __call__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self._images is None:
            self._images = np.load(self.path, mmap_mode="r")
        return self._images[indices], None if self.labels is None else self.labels[indices]


def read_meta(path: str) -> dict:
    """dataset.json of the prepared dataset at `path`, with a named error when there is none."""
    meta_path = Path(path) / META_FILE if path else None
    if meta_path is None or not meta_path.is_file():
        raise FileNotFoundError(f"data.path={path!r} is not a prepared dataset (no {META_FILE}); make one with "
                                "`jaxgan prepare --source IMAGES --out DIR --resolution N` and set data.path=DIR.")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path} is format {meta.get('format')!r}, not {FORMAT!r}; prepare it again.")
    return meta


def check_matches(meta: dict, path: str, image_size: int, channels: int) -> None:
    """Raise one ValueError naming every value the config sets that differs from the prepared dataset's."""
    wanted = {"data.image_size": (image_size, meta["resolution"], "--resolution"),
              "data.channels": (channels, meta["channels"], "--channels")}
    wrong = {key: (asked, held, flag) for key, (asked, held, flag) in wanted.items() if asked and asked != held}
    if not wrong:
        return
    held = f"{meta['resolution']}x{meta['resolution']}x{meta['channels']}"
    asked = ", ".join(f"{key}={a}" for key, (a, _, _) in wrong.items())
    fix = " ".join(f"--config.{key}={h}" for key, (_, h, _) in wrong.items())
    again = " ".join(f"{flag} {a}" for a, _, flag in wrong.values())
    raise ValueError(f"the prepared dataset {path} is {held} (its {META_FILE}), but the config asks for {asked}; "
                     f"set {fix} (or 0, which takes them from {META_FILE}), or prepare it again with {again}.")


def load_prepared(path: str, *, image_size: int = 0, channels: int = 0) -> ImageSource:
    """Open a prepared dataset as an ImageSource of uint8 images (checked against data.image_size/channels)."""
    meta = read_meta(path)
    check_matches(meta, path, image_size, channels)
    shape = (meta["height"], meta["width"], meta["channels"])
    labels = np.load(Path(path) / LABELS_FILE) if meta["labelled"] else None
    num_classes = (len(meta.get("classes") or []) or int(labels.max()) + 1) if labels is not None else None
    reader = PreparedReader(str(Path(path) / IMAGES_FILE), labels)
    name = meta.get("name") or Path(path).name
    return ImageSource(name, meta["count"], shape, (0.0, 255.0), num_classes, reader, "uint8",
                       prepared_identity(meta, path))


def prepared_identity(meta: dict, path: str) -> str:
    """The content hash `jaxgan prepare` stored (pixels and labels); the images file's own hash when there is none."""
    if meta.get("sha256"):
        return "prepared-sha256:" + meta["sha256"]
    return file_identity(Path(path) / IMAGES_FILE)
