"""Prepare a dataset once: `jaxgan prepare --source SRC --out DIR --resolution N` (StyleGAN2-ADA's dataset_tool role).

SRC is a folder of images (searched recursively; when every entry is a sub-folder, the sorted sub-folder names are
the class labels), a .zip of images (top-level folders likewise), `tfds:NAME` (with --split, --data-dir; downloaded
and prepared there first when missing, unless --no-download), or an IDX
image file as MNIST ships it (`t10k-images-idx3-ubyte[.gz]`; labels from --labels or the `-labels-idx1-ubyte[.gz]`
file beside it). `--range START:END` keeps only those examples (in source order). Each image is decoded once,
cropped and resized (`--transform`), converted to `--channels` (by default the majority of a folder's or .zip's
files, read from their headers) and stored as uint8 in DIR: images.npy, which the
grain pipeline gathers from memory-mapped without decoding, labels.npy and dataset.json (source, count, resolution,
channels, class names, content hash). Train from it with `--config.data.name=prepared --config.data.path=DIR`.
With an --out ending in .npz, the images (NHWC uint8, key `images`) and labels (`labels`) go into one .npz instead,
for `--config.data.name=npz` and `jaxgan train-classifier --npz`. The summary line counts every conversion
("converted 3 of 120 images from grey to RGB", "center-cropped 40 of 120 non-square images"); nothing is stretched,
and non-square images with `--transform none` are an error. A corrupt image is skipped with a warning naming
it (`--strict` stops at the first); an existing prepared dataset at DIR is replaced only with `--overwrite`, and
only its own three files.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jaxgan.data import prepared
from jaxgan.data.census import CHANNEL_NAMES, Census, conversion_note, take_census
from jaxgan.data.idx import is_idx_path, labels_path_for, read_idx_images
from jaxgan.data.images import TRANSFORMS, transform_uint8
from jaxgan.data.sources import IMAGE_EXTENSIONS, decode_image, labelled_images
from jaxgan.data.tfds_source import open_tfds_source
from jaxgan.tools.parsing import tool_parser

log = logging.getLogger("jaxgan.prepare")

# One source example: (name shown in warnings, decode() -> uint8 HWC, label or None).
Item = tuple[str, Callable[[], np.ndarray], int | None]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = tool_parser("prepare", __doc__)
    parser.add_argument("--source", required=True,
                        help="a folder of images, a .zip of images, tfds:NAME or an .idx3-ubyte[.gz] image file")
    parser.add_argument("--labels", default="", help="IDX labels file (default: the -labels-idx1 file beside it)")
    parser.add_argument("--out", required=True, help="output folder of the prepared dataset, or an .npz file")
    parser.add_argument("--range", default="", help="START:END: keep only source examples START..END-1")
    parser.add_argument("--resolution", type=int, default=0,
                        help="output side in pixels (0: keep the size, only with --transform none)")
    parser.add_argument("--transform", choices=TRANSFORMS, default="center-crop",
                        help="center-crop: central square; center-crop-wide: central 2:1 band; none: no resize")
    parser.add_argument("--channels", type=int, choices=(0, 1, 3), default=0,
                        help="1 (gray) or 3 (RGB); 0: the majority of the source's images")
    parser.add_argument("--max-images", type=int, default=0, help="stop after this many images (0: all)")
    parser.add_argument("--split", default="train", help="tfds split (tfds:NAME sources)")
    parser.add_argument("--data-dir", default="", help="tfds data_dir (tfds:NAME sources)")
    parser.add_argument("--no-download", action="store_true",
                        help="tfds:NAME: fail instead of downloading a dataset not yet prepared in --data-dir")
    parser.add_argument("--strict", action="store_true", help="stop at the first unreadable image")
    parser.add_argument("--overwrite", action="store_true", help="replace a prepared dataset already at --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def folder_items(root: Path) -> tuple[list[Item], list[str]]:
    """The images under a folder (recursive), labelled by class sub-folders when every entry is one."""
    paths, labels, classes = labelled_images(root)
    items = [(str(p), (lambda p=p: decode_image(p, str(p))), None if labels is None else int(labels[i]))
             for i, p in enumerate(paths)]
    return items, classes


def zip_items(path: Path) -> tuple[list[Item], list[str]]:
    """The images in a .zip, labelled by their top-level folder when every image lies in one."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ValueError(f"--source {path} is not a readable .zip archive ({error}).") from None
    names = sorted(n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_EXTENSIONS
                   and not any(part.startswith((".", "__MACOSX")) for part in Path(n).parts))
    tops = [Path(n).parts[0] if len(Path(n).parts) > 1 else None for n in names]
    classes = sorted(set(tops)) if names and None not in tops and len(set(tops)) > 1 else []

    def item(name: str, top: str | None) -> Item:
        decode = lambda: decode_image(archive.read(name), f"{path}:{name}")
        return f"{path}:{name}", decode, classes.index(top) if classes else None

    return [item(n, t) for n, t in zip(names, tops, strict=True)], classes


def tfds_items(name: str, split: str, data_dir: str, download: bool = True) -> tuple[list[Item], list[str]]:
    """The examples of a tfds split, downloaded first if needed and allowed (its "image" and "label" features)."""
    source = open_tfds_source(name, split, data_dir, download=download)
    features = source.dataset_info.features
    label = "label" if "label" in features else None
    classes = list(features[label].names) if label else []

    def item(i: int) -> Item:
        def decode() -> np.ndarray:
            image = np.asarray(source[i]["image"])
            return image[..., None] if image.ndim == 2 else image

        return f"tfds:{name}/{split}[{i}]", decode, int(source[i][label]) if label else None

    return [item(i) for i in range(len(source))], classes


def idx_items(images_file: str, labels_file: str) -> tuple[list[Item], list[str]]:
    """The images of an IDX image file (MNIST's format), labelled by its IDX labels file when there is one."""
    labels_path = labels_file or labels_path_for(images_file)
    images, labels = read_idx_images(images_file, labels_path)

    def item(i: int) -> Item:
        return f"{images_file}[{i}]", (lambda: images[i]), None if labels is None else int(labels[i])

    classes = [str(c) for c in range(int(labels.max()) + 1)] if labels is not None else []
    return [item(i) for i in range(len(images))], classes


def parse_range(text: str, count: int) -> slice:
    """`START:END` (either may be empty) as a slice of `count` examples, with a named error when out of bounds."""
    try:
        start_text, end_text = text.split(":")
        start, end = int(start_text or 0), int(end_text or count)
    except ValueError:
        raise ValueError(f"--range {text!r} is not START:END (e.g. 0:8000).") from None
    if not 0 <= start < end <= count:
        raise ValueError(f"--range {text!r} is outside the source's {count} examples; give 0 <= START < END <= "
                         f"{count}.")
    return slice(start, end)


def source_items(args: argparse.Namespace) -> tuple[list[Item], list[str]]:
    """Enumerate --source (a folder, a .zip or tfds:NAME) with a named error when it holds no images."""
    if args.source.startswith("tfds:"):
        items, classes = tfds_items(args.source[len("tfds:"):], args.split, args.data_dir, not args.no_download)
    elif is_idx_path(args.source):
        items, classes = idx_items(args.source, args.labels)
    elif Path(args.source).is_dir():
        items, classes = folder_items(Path(args.source))
    elif Path(args.source).suffix.lower() == ".zip" and Path(args.source).is_file():
        items, classes = zip_items(Path(args.source))
    else:
        raise FileNotFoundError(f"--source {args.source!r} is not a folder, a .zip file, tfds:NAME or an "
                                ".idx3-ubyte[.gz] file.")
    if not items:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) found in {args.source}; "
                                "point --source at a folder or .zip of images.")
    return (items[parse_range(args.range, len(items))] if args.range else items), classes


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse an --out that holds a prepared dataset (unless --overwrite) or any other files."""
    if prepared.is_prepared(out):
        if not overwrite:
            raise FileExistsError(f"--out {out} already holds a prepared dataset; pass --overwrite to replace it, "
                                  "or choose another --out.")
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--out {out} exists and is not a prepared dataset; choose an empty or new folder.")


def source_census(args: argparse.Namespace, items: list[Item]) -> Census | None:
    """The headers of a folder's or .zip's images (no decoding); None for tfds and IDX, whose images are all alike."""
    names = [name for name, _, _ in items[: args.max_images or len(items)]]
    source = Path(args.source)
    if args.source.startswith("tfds:") or is_idx_path(args.source):
        return None
    if source.is_dir():
        return take_census(names, skip_unreadable=True)
    with zipfile.ZipFile(source) as archive:
        return take_census(names, lambda name: archive.open(name[len(f"{source}:"):]), skip_unreadable=True)


def plan(args: argparse.Namespace, items: list[Item]) -> list[str]:
    """Set --channels 0 to the majority of the files and refuse non-square ones with --transform none.

    Returns the sentence that reports the majority, for the summary.
    """
    found = source_census(args, items)
    if found is None or not found.count:
        return []
    non_square = found.non_square()
    if args.transform == "none" and non_square:
        height, width = found.sizes[non_square[0]]
        raise ValueError(f"{len(non_square)} of {found.count} images are not square (e.g. {found.names[non_square[0]]} "
                         f"is {height}x{width}, HxW) and --transform none keeps each image's shape; use --transform "
                         "center-crop (or center-crop-wide).")
    if args.channels:
        return []
    args.channels = found.majority_channels()
    name = CHANNEL_NAMES[args.channels]
    return [f"channels {args.channels} ({name}): the majority of the files ({found.count_with(args.channels)} of "
            f"{found.count}; --channels {4 - args.channels} for {CHANNEL_NAMES[4 - args.channels]})"]


def changes(raw: np.ndarray, fitted: np.ndarray, transform: str) -> list[object]:
    """What fitting changed in one image, as tally keys: (from, to) channels, "cropped" for a cropped non-square."""
    keys: list[object] = []
    if raw.shape[-1] != fitted.shape[-1]:
        keys.append((raw.shape[-1], fitted.shape[-1]))
    if transform == "center-crop" and raw.shape[0] != raw.shape[1]:
        keys.append("cropped")
    return keys


def tally_notes(tally: Counter, count: int) -> list[str]:
    """The summary's sentences for the conversions counted in `tally` over the `count` images written."""
    notes = conversion_note({k: n for k, n in tally.items() if isinstance(k, tuple)}, count)
    if tally["cropped"]:
        notes.append(f"center-cropped {tally['cropped']} of {count} non-square images to their central square")
    return notes


def converted(items: list[Item], args: argparse.Namespace, skipped: list[str],
              tally: Counter | None = None) -> Iterator[tuple[np.ndarray, int]]:
    """Decode and transform each item to uint8; skip (and record) unreadable ones, or raise with --strict.

    Counts each image's channel conversion and crop in `tally` (for the summary).
    """
    channels = args.channels
    tally = Counter() if tally is None else tally
    for name, decode, label in items:
        try:
            raw = decode()
            channels = channels or (1 if raw.shape[-1] == 1 else 3)
            resolution = args.resolution or raw.shape[0]
            image = transform_uint8(raw, resolution=resolution, transform=args.transform, channels=channels)
        except ValueError as error:
            if args.strict:
                raise ValueError(f"{error} (--strict stops at the first bad image)") from None
            log.warning("skipped %s: %s", name, error)
            skipped.append(name)
            continue
        tally.update(changes(raw, image, args.transform))
        yield image, label


def write(items: list[Item], classes: list[str], args: argparse.Namespace, staging: Path,
          notes: Sequence[str] = ()) -> dict:
    """Write the prepared files into `staging`; returns the metadata (with `notes` and the conversions counted)."""
    limit = args.max_images or len(items)
    skipped: list[str] = []
    tally: Counter = Counter()
    writer = None
    with tqdm(total=limit, unit="img", disable=args.no_progress, desc="prepare") as bar:
        for image, label in converted(items, args, skipped, tally):
            writer = writer or prepared.Writer(staging, image.shape)
            if image.shape != writer.shape:
                raise ValueError(f"images of {image.shape} and {writer.shape} cannot share one dataset; use "
                                 "--resolution with --transform center-crop.")
            writer.add(image, label)
            bar.update()
            if writer.count == limit:
                break
    if writer is None:
        raise ValueError(f"none of the {len(items)} images in {args.source} could be read; see the warnings.")
    meta = {"name": Path(args.out).name, "source": args.source, "transform": args.transform, "classes": classes,
            "skipped": skipped, "conversions": [*notes, *tally_notes(tally, writer.count)]}
    return writer.close(meta)


def write_npz(items: list[Item], args: argparse.Namespace, out: Path, notes: Sequence[str] = ()) -> str:
    """Write the converted images (and labels, when every item has one) to one .npz; returns a summary line."""
    skipped: list[str] = []
    tally: Counter = Counter()
    limit = args.max_images or len(items)
    pairs = [pair for _, pair in zip(range(limit), converted(items, args, skipped, tally), strict=False)]
    if not pairs:
        raise ValueError(f"none of the {len(items)} images in {args.source} could be read; see the warnings.")
    if len({image.shape for image, _ in pairs}) > 1:
        raise ValueError("the images differ in size and cannot share one .npz; use --resolution with "
                         "--transform center-crop.")
    arrays = {"images": np.stack([image for image, _ in pairs])}
    if all(label is not None for _, label in pairs):
        arrays["labels"] = np.asarray([label for _, label in pairs], np.int32)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".npz", delete=False) as f:
        np.savez(f, **arrays)
    Path(f.name).chmod(0o644)
    Path(f.name).replace(out)
    shape = "x".join(map(str, arrays["images"].shape[1:]))
    return (f"wrote {len(pairs)} images ({shape}, {'with' if 'labels' in arrays else 'no'} labels) to {out}; "
            f"skipped {len(skipped)} unreadable" + "".join(f"; {n}" for n in [*notes, *tally_notes(tally, len(pairs))]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.resolution < 0 or (args.resolution == 0 and args.transform != "none"):
        raise ValueError(f"--resolution {args.resolution}: give a positive size (0 only with --transform none).")
    if args.max_images < 0:
        raise ValueError(f"--max-images {args.max_images} must be >= 0 (0: all images).")
    out = Path(args.out)
    if out.suffix == ".npz":
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"--out {out} exists; pass --overwrite to replace it, or choose another --out.")
        items = source_items(args)[0]
        print(write_npz(items, args, out, plan(args, items)))
        return 0
    check_out(out, args.overwrite)
    items, classes = source_items(args)
    notes = plan(args, items)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.staging-") as staging:
        meta = write(items, classes, args, Path(staging), notes)
        out.mkdir(exist_ok=True)
        for name in (prepared.IMAGES_FILE, prepared.LABELS_FILE, prepared.META_FILE):  # replace only our files
            (out / name).unlink(missing_ok=True)
            if (Path(staging) / name).exists():
                shutil.move(str(Path(staging) / name), out / name)
    skipped = meta["skipped"]
    print(f"wrote {meta['count']} images ({meta['height']}x{meta['width']}x{meta['channels']}, "
          f"{len(classes) or 'no'} classes) to {out}; skipped {len(skipped)} unreadable"
          + (f": {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}" if skipped else "")
          + "".join(f"; {note}" for note in meta["conversions"]))
    return 0
