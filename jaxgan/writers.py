"""Where a run's numbers go: metrics.jsonl, TensorBoard event files (tensorboardX) and a progress bar."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm


class MetricWriter:
    """Append scalars to `metrics.jsonl` and TensorBoard; images to TensorBoard. No-ops when `enabled` is False."""

    def __init__(self, workdir: str | Path, enabled: bool = True):
        self.enabled = enabled
        self._jsonl = self._tb = None
        if enabled:
            from tensorboardX import SummaryWriter

            workdir = Path(workdir)
            workdir.mkdir(parents=True, exist_ok=True)
            self._jsonl = open(workdir / "metrics.jsonl", "a", buffering=1)  # noqa: SIM115
            self._tb = SummaryWriter(str(workdir / "tensorboard"))

    def scalars(self, step: int, scalars: dict[str, float], fields: dict[str, str] | None = None) -> None:
        """Write one row of scalars at `step`; `fields` (e.g. the checkpoint scored) go to metrics.jsonl only."""
        if not self.enabled:
            return
        row = {"step": int(step), "time": time.time(), **(fields or {}), **{k: float(v) for k, v in scalars.items()}}
        self._jsonl.write(json.dumps(row) + "\n")
        for k, v in scalars.items():
            self._tb.add_scalar(k, float(v), int(step))

    def image(self, step: int, name: str, picture: np.ndarray) -> None:
        """Write an (H, W, C) uint8 picture to TensorBoard."""
        if self.enabled:
            self._tb.add_image(name, picture, int(step), dataformats="HWC")

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
            self._tb.close()


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
