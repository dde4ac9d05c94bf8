"""Saving and restoring runs with orbax: the train state plus a JSON record of the config and data position."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp

from jaxgan.state import GANState


class Checkpointer:
    """Keeps the last `keep` checkpoints of a run under `directory`; saves asynchronously."""

    def __init__(self, directory: str | Path, keep: int = 3, async_save: bool = True):
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=async_save,
                                               create=True)
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(self.directory, options=options,
                                              item_names=("state", "meta"))

    def save(self, step: int, state: GANState, meta: dict[str, Any]) -> None:
        """Start saving `state` and `meta` (JSON) as checkpoint `step`; returns before the disk write ends."""
        self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                         meta=ocp.args.JsonSave(meta)), force=True)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def restore(self, abstract_state: GANState, step: int | None = None) -> tuple[GANState, dict]:
        """Restore checkpoint `step` (default: the latest) into the structure of `abstract_state`."""
        step = self._manager.latest_step() if step is None else step
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
        return restored["state"], restored["meta"]

    def wait(self) -> None:
        """Block until pending saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()
