"""Run metadata: what a result was computed with (package versions, devices, the jaxgan commit), beside the run.

`workdir/run_info.json` is written when a run starts (rewritten on resume, with the step it resumed from); the
trainer adds the step's compile time once it is known. config.json stays the config alone, so a resumed run can
compare it key by key.

`run_meta` is the JSON record saved with every checkpoint (its `meta` item), which `jaxgan.run.runs` reads back.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import ml_collections

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "jaxgan")
GIT_TIMEOUT_S = 5.0
FILENAME = "run_info.json"


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """The installed version of each package (None when it is not installed as a distribution)."""
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(args: list[str], cwd: Path) -> str | None:
    """stdout of `git ARGS` in `cwd`, or None when git is missing, fails or hangs."""
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state(source_dir: Path | None = None) -> dict[str, Any]:
    """The commit of the checkout jaxgan runs from and whether tracked files differ from it (None outside git)."""
    source_dir = source_dir or Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], source_dir)
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], source_dir)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def device_info() -> dict[str, Any]:
    """Backend, device kind and counts (local and global), and process count of this JAX runtime."""
    devices = jax.devices()
    return {"backend": jax.default_backend(), "device_kind": devices[0].device_kind,
            "device_count": jax.device_count(), "local_device_count": jax.local_device_count(),
            "process_count": jax.process_count()}


def run_info(**extra: Any) -> dict[str, Any]:
    """Everything above as one JSON-able dict, plus `extra` (e.g. the step the run starts from)."""
    return {"versions": package_versions(), "devices": device_info(), "git": git_state(), **extra}


def write_run_info(workdir: str | Path, info: dict[str, Any]) -> Path:
    """Write `info` to workdir/run_info.json."""
    path = Path(workdir) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return path


def update_run_info(workdir: str | Path, **fields: Any) -> None:
    """Add `fields` to workdir/run_info.json (written by `write_run_info` at the start of the run)."""
    path = Path(workdir) / FILENAME
    info = json.loads(path.read_text()) if path.exists() else {}
    write_run_info(workdir, {**info, **fields})


def run_meta(config: ml_collections.ConfigDict, step: int, data_batches: int,
             example_shape: Sequence[int], num_classes: int | None) -> dict[str, Any]:
    """The JSON record saved beside the state: what resuming and `jaxgan.run.runs` need besides the arrays."""
    return {"step": int(step), "data_batches": int(data_batches),
            "config": json.loads(config.to_json_best_effort()),
            "example_shape": [int(s) for s in example_shape], "num_classes": num_classes}
