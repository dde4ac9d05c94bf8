"""Opening .npz files that jaxgan reads (classifiers, weights, statistics, samples) with a named error."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np


def open_npz(path: str | Path, what: str, fix: str) -> np.lib.npyio.NpzFile:
    """np.load `path` without pickles; a file that is no readable .npz raises a ValueError naming `what`, `fix`."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not an .npz archive, so it cannot be {what}; {fix}")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read {path} as {what} ({str(error).splitlines()[0]}); {fix}") from error
