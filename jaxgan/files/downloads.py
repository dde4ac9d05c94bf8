"""Files fetched once on first use: jaxgan's cache folder and a hash-checked, all-or-nothing download.

The cache is `~/.cache/jaxgan` (the environment variable JAXGAN_CACHE_DIR moves it). `download` streams into a
temporary file beside the target, hashes while writing, and renames it into place only when the SHA-256 matches,
so an interrupted or corrupted download never leaves a file that looks finished.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from tqdm import tqdm

from jaxgan.errors import JaxganError

CACHE_ENV = "JAXGAN_CACHE_DIR"
CHUNK_BYTES = 1 << 20
PROGRESS_MIN_BYTES = 1 << 20  # show a progress bar for files at least this big
TIMEOUT_S = 60  # seconds without data before a download is abandoned


class DownloadError(JaxganError):
    """A download failed, was cut short, or did not match its expected hash; nothing was cached."""


def cache_dir() -> Path:
    """jaxgan's cache folder (weights, reference statistics): $JAXGAN_CACHE_DIR, else $XDG_CACHE_HOME/jaxgan, else
    ~/.cache/jaxgan."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "jaxgan"


def file_sha256(path: str | Path) -> str:
    """The hex SHA-256 of the file at `path`."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_matches(actual: str, expected: str) -> bool:
    """True when hex digest `actual` equals `expected`, or starts with it (a prefix of at least 8 hex digits)."""
    expected = expected.strip().lower()
    if len(expected) < 8:
        raise ValueError(f"expected SHA-256 {expected!r} is too short; give the full digest or at least 8 hex digits.")
    return actual.lower().startswith(expected)


def _stream(response, out, digest, total: int | None, label: str) -> int:
    """Copy `response` into `out` and `digest` with a progress bar; return the byte count."""
    count = 0
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, leave=False,
              disable=total is not None and total < PROGRESS_MIN_BYTES) as bar:
        for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
            out.write(chunk)
            digest.update(chunk)
            count += len(chunk)
            bar.update(len(chunk))
    return count


def _fetch_to(url: str, out, label: str, hint: str) -> str:
    """Stream `url` into the open file `out`; return its hex SHA-256, or raise DownloadError when it was cut."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            count = _stream(response, out, digest, total, label)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise DownloadError(f"could not download {url} ({type(error).__name__}: {reason}); {hint}") from None
    if total is not None and count != total:
        raise DownloadError(f"the download of {url} was cut after {count:,} of {total:,} bytes; run again to "
                            f"retry, or {hint}")
    return digest.hexdigest()


def download(url: str, target: str | Path, *, sha256: str, hint: str) -> Path:
    """Download `url` to `target` if its SHA-256 matches `sha256` (full or >= 8-digit prefix); return `target`.

    `hint` ends every error: what the user can do instead (e.g. where to put the file by hand).
    """

    def fetch(out) -> None:
        actual = _fetch_to(url, out, Path(target).name, hint)
        if not hash_matches(actual, sha256):
            raise DownloadError(f"the file downloaded from {url} has SHA-256 {actual}, not the expected {sha256}; "
                                f"nothing was cached. Check the URL (or mirror), or {hint}")

    print(f"downloading {url}\n    -> {target}", flush=True)
    return write_atomically(target, fetch)


def write_atomically(target: str | Path, write) -> Path:
    """Call `write(file)` on a temporary file beside `target`, then rename it to `target` (never half-written)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with partial.open("xb") as out:  # mode 0o666 less the umask, as any file the user writes
            write(out)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
