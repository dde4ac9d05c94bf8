"""Resuming a run: its config and metrics files, the newest readable checkpoint or a fresh state, and a warm start
from another run."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import ml_collections

from jaxgan.errors import JaxganError
from jaxgan.run.checkpoint import Checkpointer, NoReadableCheckpointError
from jaxgan.run.distributed import PER_LAUNCH_KEYS

if TYPE_CHECKING:
    from jaxgan.run.loop import Task

log = logging.getLogger(__name__)


class ResumeBeyondEndError(JaxganError):
    """The workdir's checkpoint is past train.num_steps: resuming would do nothing (and rewrite config.json)."""


def write_config(workdir: Path, config: ml_collections.ConfigDict) -> None:
    """Write the resolved config as JSON (machine-readable) beside the run."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")


def trim_metrics(workdir: Path, last_step: int) -> None:
    """Drop metrics.jsonl rows after `last_step`: a resumed run recomputes those steps."""
    path = workdir / "metrics.jsonl"
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= last_step]
    if len(kept) != len(lines):
        path.write_text("".join(kept))


def open_checkpointer(workdir: Path, config: ml_collections.ConfigDict) -> Checkpointer:
    """The run's checkpoints under workdir/checkpoints: last `keep_checkpoints`, plus the best by `best_metric`."""
    train = config.train
    return Checkpointer(workdir / "checkpoints", keep=train.keep_checkpoints, async_save=train.async_checkpoint,
                        best_metric=train.best_metric or None, best_mode=train.best_mode,
                        log_path=workdir / "logs" / "checkpoint.log")


def config_changes(stored: dict, config: ml_collections.ConfigDict) -> list[str]:
    """`key: old -> new` for each config value that differs from the one a checkpoint was written with."""
    old = _flatten(stored)
    new = _flatten(json.loads(config.to_json_best_effort()))
    return [f"{k}: {old[k]!r} -> {new[k]!r}" for k in sorted(old.keys() & new.keys() - PER_LAUNCH_KEYS)
            if old[k] != new[k]]


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def restore_or_init(ckpt: Checkpointer, init: Callable[[], Any], config: ml_collections.ConfigDict,
                    batches_per_step: int = 1) -> tuple[Any, int, int]:
    """(state, step, data position) from the newest readable checkpoint in the workdir, else (init(), 0, 0).

    The restore target is `init`'s abstract output (shapes, dtypes, shardings), so nothing is initialised in vain.
    Raises CheckpointMismatchError (naming the differing arrays) when the checkpoint is of another model,
    NoReadableCheckpointError when no checkpoint can be read (unless `train.restart`: then the unreadable ones are
    moved to checkpoints/unreadable/ and the run starts from step 0), and ResumeBeyondEndError when the checkpoint is
    past `train.num_steps`. Nothing in the workdir is written before these checks. A checkpoint without a data
    position is taken to be at step * `batches_per_step`.
    """
    if ckpt.latest_step() is None:
        return init(), 0, 0
    try:
        state, meta = ckpt.restore(jax.eval_shape(init))
    except NoReadableCheckpointError:
        if not config.train.get("restart", False):
            raise
        kept = ckpt.set_aside_all()
        log.warning("train.restart=True and no checkpoint can be read: starting from step 0. The unreadable "
                    "checkpoints were moved to %s.", kept)
        return init(), 0, 0
    step = int(state.step)
    if step > config.train.num_steps:
        raise ResumeBeyondEndError(
            f"The checkpoint in {ckpt.directory} is at step {step}, past train.num_steps={config.train.num_steps}: "
            f"nothing to train. Pass --config.train.num_steps={step} or more to go on, or use a new --workdir.")
    changes = config_changes(meta.get("config", {}), config)
    if changes:
        log.warning("Resuming with a config that differs from the checkpoint's in: %s", "; ".join(changes))
    log.info("Resumed from the checkpoint of step %d in %s.", step, ckpt.directory)
    return state, step, int(meta.get("data_batches", step * batches_per_step))



def warm_start(task: Task, state: Any, resumed: bool) -> Any:
    """A new run's state with the weights of `train.init_from` (the task's `init_from`); a resumed run keeps its own."""
    source = task.config.train.get("init_from", "")
    if not source:
        return state
    if resumed:
        log.warning("train.init_from=%s is ignored: the run resumes from its own checkpoint.", source)
        return state
    return task.init_from(state, source)
