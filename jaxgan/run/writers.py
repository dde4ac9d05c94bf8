"""Where a run's numbers go: the trackers of `train.writers` (metrics.jsonl, TensorBoard, Weights & Biases) and a
progress bar.

`train.writers` picks any of "jsonl" (workdir/metrics.jsonl, which `jaxgan plot` and `jaxgan reproduce` read),
"tensorboard" (tensorboardX event files under workdir/tensorboard) and "wandb" (the `wandb` package, the `[wandb]`
extra: project $WANDB_PROJECT or "jaxgan", run name the workdir's, one W&B run per workdir that a resume continues;
WANDB_MODE=offline keeps it on disk under workdir/wandb).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from jaxgan.errors import JaxganError

WRITERS = ("jsonl", "tensorboard", "wandb")
DEFAULT_WRITERS = ("jsonl", "tensorboard")
WANDB_ID_FILE = "wandb_run_id.txt"  # the workdir's W&B run, continued on resume
log = logging.getLogger(__name__)


def check_writers(names: Any, key: str = "train.writers") -> tuple[str, ...]:
    """`names` as a tuple of known writers; a string, an unknown or a repeated name raises ValueError naming `key`."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ValueError(f"{key} must be a tuple of writers, e.g. ('jsonl', 'tensorboard'), got {names!r}.")
    names = tuple(names)
    for name in names:
        if name not in WRITERS:
            raise ValueError(f"Unknown writer {name!r} in {key}; choose any of {list(WRITERS)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"{key}={names!r} names a writer twice; list each once.")
    return names


class JsonlWriter:
    """One JSON row of scalars per call, appended to workdir/metrics.jsonl."""

    def __init__(self, workdir: Path, config: dict | None = None):
        self._file = open(workdir / "metrics.jsonl", "a", buffering=1)  # noqa: SIM115

    def scalars(self, step: int, scalars: dict[str, float], fields: dict[str, str] | None = None) -> None:
        row = {"step": step, "time": time.time(), **(fields or {}), **scalars}
        self._file.write(json.dumps(row) + "\n")

    def image(self, step: int, name: str, picture: np.ndarray) -> None:
        """Pictures are not written here (samples/*.png holds them)."""

    def close(self) -> None:
        self._file.close()


class TensorBoardWriter:
    """TensorBoard event files (tensorboardX) under workdir/tensorboard."""

    def __init__(self, workdir: Path, config: dict | None = None):
        from tensorboardX import SummaryWriter

        self._tb = SummaryWriter(str(workdir / "tensorboard"))

    def scalars(self, step: int, scalars: dict[str, float], fields: dict[str, str] | None = None) -> None:
        for k, v in scalars.items():
            self._tb.add_scalar(k, v, step)

    def image(self, step: int, name: str, picture: np.ndarray) -> None:
        self._tb.add_image(name, picture, step, dataformats="HWC")

    def close(self) -> None:
        self._tb.close()


def import_wandb() -> Any:
    """The wandb module; a missing package raises one line naming the extra."""
    try:
        import wandb
    except ImportError as error:
        raise JaxganError("train.writers includes 'wandb', but the wandb package is not installed; "
                          "pip install 'jaxgan[wandb]', or drop 'wandb' from train.writers.") from error
    return wandb


class WandbWriter:
    """A Weights & Biases run per workdir (its id kept in the workdir, so a resumed run logs to the same W&B run)."""

    def __init__(self, workdir: Path, config: dict | None = None):
        wandb = import_wandb()
        id_file = workdir / WANDB_ID_FILE
        run_id = id_file.read_text().strip() if id_file.is_file() else secrets.token_hex(4)
        id_file.write_text(run_id + "\n")
        self._wandb = wandb
        self._run = wandb.init(project=os.environ.get("WANDB_PROJECT", "jaxgan"), name=workdir.name, id=run_id,
                               dir=str(workdir), config=config or {}, resume="allow",
                               settings=wandb.Settings(console="off", silent=True))  # log.txt keeps the terminal
        log.info("Weights & Biases: run %s (%s)", run_id, self._run.dir if self._run.offline else self._run.url)

    def scalars(self, step: int, scalars: dict[str, float], fields: dict[str, str] | None = None) -> None:
        self._run.log(scalars, step=step)

    def image(self, step: int, name: str, picture: np.ndarray) -> None:
        self._run.log({name: self._wandb.Image(picture)}, step=step)

    def close(self) -> None:
        self._run.finish()


WRITER_CLASSES = {"jsonl": JsonlWriter, "tensorboard": TensorBoardWriter, "wandb": WandbWriter}


class MetricWriter:
    """Send scalars and pictures to each tracker of `writers` (default: metrics.jsonl and TensorBoard); `config`
    (a JSON-able dict) goes to the trackers that keep one. No-ops when `enabled` is False (processes other than 0)."""

    def __init__(self, workdir: str | Path, enabled: bool = True, writers: Iterable[str] = DEFAULT_WRITERS,
                 config: dict | None = None):
        self.enabled = enabled
        self._writers: list = []
        if enabled:
            workdir = Path(workdir)
            workdir.mkdir(parents=True, exist_ok=True)
            for name in check_writers(writers):
                self._writers.append(WRITER_CLASSES[name](workdir, config))

    def scalars(self, step: int, scalars: dict[str, float], fields: dict[str, str] | None = None) -> None:
        """Write one row of scalars at `step`; `fields` (e.g. the checkpoint scored) go to metrics.jsonl only."""
        scalars = {k: float(v) for k, v in scalars.items()}
        for writer in self._writers:
            writer.scalars(int(step), scalars, fields)

    def image(self, step: int, name: str, picture: np.ndarray) -> None:
        """Write an (H, W, C) uint8 picture."""
        for writer in self._writers:
            writer.image(int(step), name, picture)

    def close(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers = []


class Progress:
    """A progress bar showing the step, the latest losses and images/s."""

    def __init__(self, total: int, initial: int, enabled: bool = True):
        self._bar = tqdm(total=total, initial=initial, disable=not enabled, dynamic_ncols=True,
                         unit="step")

    def update(self, steps: int, postfix: dict[str, float] | None = None) -> None:
        if postfix:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
        self._bar.update(steps)

    def close(self) -> None:
        self._bar.close()
