"""What image files' headers say (size and mode, without decoding) and the conversions that follow from it.

Training from a folder and `jaxgan prepare` share these rules, so images are never changed silently:
- the channel count left to the data (`data.channels=0`, `--channels 0`) is the MAJORITY of the files' modes (a tie
  goes to RGB, which loses nothing), and the files of the other kind are converted and counted;
- a non-square image is never stretched: resizing one to a square needs a centre crop, else a one-line error;
- every conversion is one counted sentence in the report (e.g. "converted 3 of 120 images from grey to RGB").
The messages name training's keys (`data.*`); `jaxgan prepare` words its own from the census.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

# PIL modes read as one gray channel; every other mode is read as RGB (alpha is dropped).
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
CHANNEL_NAMES = {1: "grey", 3: "RGB"}


@dataclasses.dataclass(frozen=True)
class Census:
    """Each file's name, (height, width) and channel count (1 or 3) as its header gives them."""

    names: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]
    channels: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.names)

    def count_with(self, channels: int) -> int:
        """How many files have `channels` channels."""
        return sum(c == channels for c in self.channels)

    def majority_channels(self) -> int:
        """3 when at least half the files are colour, else 1 (a tie goes to RGB: grey -> RGB loses nothing)."""
        return 3 if 2 * self.count_with(3) >= self.count else 1

    def non_square(self) -> list[int]:
        """Indices of the files whose height and width differ."""
        return [i for i, (h, w) in enumerate(self.sizes) if h != w]

    def common_size(self) -> tuple[int, int] | None:
        """The (height, width) every file shares, or None when they differ."""
        return self.sizes[0] if self.sizes and len(set(self.sizes)) == 1 else None


def channels_of_mode(mode: str) -> int:
    """1 for a gray PIL mode, 3 for every other (as `jaxgan.data.sources.decode_image` reads it)."""
    return 1 if mode in GRAY_MODES else 3


def _read_header(file: Any) -> tuple[tuple[int, int], str]:
    """((height, width), mode) of one image file (a path, or a file object this closes after)."""
    with contextlib.closing(file) if hasattr(file, "close") else contextlib.nullcontext(), Image.open(file) as image:
        return (image.height, image.width), image.mode


def take_census(names: Sequence[str], open_file: Callable[[str], Any] = lambda name: name, *,
                skip_unreadable: bool = False) -> Census:
    """Read the header of each file (`open_file(name)` gives a path or a file object PIL opens lazily).

    An unreadable header raises ValueError naming the file, or, with `skip_unreadable`, leaves the file out (it is
    then skipped, with a warning, when it is decoded).
    """
    kept, sizes, channels = [], [], []
    for name in names:
        try:
            size, mode = _read_header(open_file(name))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            if skip_unreadable:
                continue
            raise ValueError(f"cannot read image {name}: {error}; remove or replace it.") from None
        kept.append(name)
        sizes.append(size)
        channels.append(channels_of_mode(mode))
    return Census(tuple(kept), tuple(sizes), tuple(channels))


def conversion_note(counts: dict[tuple[int, int], int], total: int) -> list[str]:
    """One sentence per (from, to) channel conversion: "converted 3 of 120 images from grey to RGB"."""
    return [f"converted {n} of {total} images from {CHANNEL_NAMES[a]} to {CHANNEL_NAMES[b]}"
            for (a, b), n in sorted(counts.items()) if n]


def choose_channels(found: Census, wanted: int) -> tuple[int, list[str]]:
    """The channel count to train with (data.channels, or the majority when 0) and the sentence reporting it."""
    channels = wanted or found.majority_channels()
    others = found.count - found.count_with(channels)
    if not others:
        return channels, []
    other = 4 - channels  # 1 <-> 3
    (note,) = conversion_note({(other, channels): others}, found.count)
    if wanted:
        return channels, [f"{note} (data.channels={wanted})"]
    return channels, [f"{note} ({CHANNEL_NAMES[channels]} is the majority, {found.count - others} of {found.count}; "
                      f"data.channels={other} for {CHANNEL_NAMES[other]})"]


def plan_size(found: Census, image_size: int, center_crop: bool, where: str) -> list[str]:
    """Sentences reporting the crop and resize to image_size x image_size; ValueError instead of a stretch."""
    non_square = found.non_square()
    if image_size and non_square and not center_crop:
        first = non_square[0]
        height, width = found.sizes[first]
        raise ValueError(f"{len(non_square)} of {found.count} images in {where} are not square (e.g. "
                         f"{found.names[first]} is {height}x{width}, HxW) and resizing them to "
                         f"{image_size}x{image_size} (data.image_size={image_size}) would stretch them; set "
                         "data.center_crop=True to crop each to its central square first.")
    notes = []
    if center_crop and non_square:
        notes.append(f"center-cropped {len(non_square)} of {found.count} non-square images to their central square")
    sides = [min(size) if center_crop else size[0] for size in found.sizes]
    resized = sum(side != image_size for side in sides) if image_size else 0
    if resized:
        notes.append(f"resized {resized} of {found.count} images to {image_size}x{image_size} "
                     f"(data.image_size={image_size}; 0 keeps their size)")
    return notes
