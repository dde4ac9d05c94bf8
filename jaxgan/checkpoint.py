"""Saving and restoring runs with orbax: the train state plus a JSON record of the config and data position.

A checkpoint is a step directory `<directory>/<step>/` with two orbax items:

- `state`: the `GANState` pytree (OCDBT/zarr), each array stored under its dotted path, e.g. `g.params.Dense_0.kernel`,
  `d.opt_state.0.mu.Dense_0.bias`, `g_ema_params.Dense_0.kernel`.
- `meta`: JSON with `step`, `data_batches` (the data iterator position: batches consumed), the resolved `config`,
  `example_shape` and `num_classes` (what `load_generator` needs to rebuild the GAN without the dataset).

Orbax writes a step into `<step>.orbax-checkpoint-tmp` and renames it only when every item is on disk, so a save killed
half-way leaves no step directory; the writing `Checkpointer` deletes such leftovers when it opens. Retention is one
orbax preservation policy: the last `keep` checkpoints, plus (when `best_metric` is set) the best one by that metric.
Restores compare orbax's stored metadata (paths, shapes, dtypes) with the target before reading any array, and an
unreadable newest checkpoint is moved to `<directory>/corrupt/` with a warning so the run falls back to the one before.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from jaxgan.state import GAN, GANState, create_state

log = logging.getLogger(__name__)

STATE, META = "state", "meta"
CORRUPT_DIR = "corrupt"
BEST_MODES = ("min", "max")
_MAX_LISTED = 20  # leaves named in a mismatch error


class CheckpointMismatchError(ValueError):
    """A checkpoint's arrays do not fit the model being restored (another model, config or shapes)."""


class CheckpointCorruptError(RuntimeError):
    """A checkpoint's files cannot be read (partial write, truncated or deleted files)."""


def leaf_specs(tree: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    """Map each array of `tree` (a state, abstract state or orbax metadata tree) to (shape, dtype) by dotted path."""
    flat = ocp.tree.to_flat_dict(ocp.tree.serialize_tree(tree, keep_empty_nodes=False), sep=".")
    return {k: (tuple(getattr(v, "shape", ())), str(np.dtype(getattr(v, "dtype", np.asarray(v).dtype))))
            for k, v in flat.items()}


def _spec(spec: tuple[tuple[int, ...], str]) -> str:
    return f"{spec[0]} {spec[1]}"


def leaf_differences(saved: Any, target: Any, partial: bool = False) -> list[str]:
    """One line per array that differs between a saved tree and a target (missing, extra, other shape or dtype).

    With `partial`, arrays saved but not asked for are fine (a partial restore reads only the target's leaves).
    """
    saved, target = leaf_specs(saved), leaf_specs(target)
    order = lambda keys: sorted(keys, key=lambda k: ("opt_state" in k, k))  # params first, optimizer moments last
    lines = [f"{k}: checkpoint {_spec(saved[k])}, this model {_spec(target[k])}"
             for k in order(saved.keys() & target.keys()) if saved[k] != target[k]]
    lines += [f"{k}: missing from the checkpoint (this model has {_spec(target[k])})"
              for k in order(target.keys() - saved.keys())]
    if not partial:
        lines += [f"{k}: in the checkpoint ({_spec(saved[k])}) but not in this model"
                  for k in order(saved.keys() - target.keys())]
    return lines


def check_compatible(saved: Any, target: Any, where: str, partial: bool = False) -> None:
    """Raise CheckpointMismatchError naming the differing leaves (paths, shapes, dtypes) if any."""
    lines = leaf_differences(saved, target, partial)
    if not lines:
        return
    shown = "\n  ".join(lines[:_MAX_LISTED])
    more = f"\n  ... and {len(lines) - _MAX_LISTED} more" if len(lines) > _MAX_LISTED else ""
    raise CheckpointMismatchError(
        f"The checkpoint {where} does not fit this model: {len(lines)} arrays differ:\n  {shown}{more}\n"
        "It was written by another model or config. Restore it with the config it was saved with (stored in its "
        "`meta` item and in the run's config.json), or train this config in a fresh --workdir.")


def abstract_of(state: Any) -> Any:
    """The restore target of a state or abstract state: shapes, dtypes and shardings (default: the first device)."""
    default = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def leaf(x):
        sharding = getattr(x, "sharding", None) or default
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)

    return jax.tree.map(leaf, state)


class Checkpointer:
    """The checkpoints of one run under `directory`: async saves, retention, validated restores with fall-back.

    `keep`: the last `keep` checkpoints are kept. `best_metric` (e.g. "eval/fid") with `best_mode` min|max: the
    checkpoint with the best value of that metric (passed to `save(..., metrics=)`) is kept as well. `read_only`:
    never writes, deletes or moves anything (for sampling from a run that may still be training).
    """

    def __init__(self, directory: str | Path, keep: int = 3, async_save: bool = True,
                 best_metric: str | None = None, best_mode: str = "min", read_only: bool = False):
        if best_mode not in BEST_MODES:
            raise ValueError(f"best_mode must be one of {BEST_MODES}, got {best_mode!r}.")
        self.directory = Path(directory).absolute()
        self.best_metric = best_metric or None
        self.best_mode = best_mode
        self.read_only = read_only
        best_fn = None if self.best_metric is None else functools.partial(_metric_value, self.best_metric)
        keep_policies: list = [policies.LatestN(n=keep)]
        if best_fn is not None:
            keep_policies.append(policies.BestN(get_metric_fn=best_fn, reverse=best_mode == "min", n=1,
                                                keep_checkpoints_without_metrics=False))
        options = ocp.CheckpointManagerOptions(
            preservation_policy=None if read_only else policies.AnyPreservationPolicy(keep_policies),
            best_fn=best_fn, best_mode=best_mode, enable_async_checkpointing=async_save,
            save_interval_steps=0 if read_only else 1,
            create=not read_only, cleanup_tmp_directories=not read_only, read_only=read_only)
        self._manager = ocp.CheckpointManager(
            self.directory, options=options,
            item_handlers={STATE: ocp.PyTreeCheckpointHandler(), META: ocp.JsonCheckpointHandler()})

    def save(self, step: int, state: GANState, meta: dict[str, Any],
             metrics: dict[str, float] | None = None) -> None:
        """Start saving `state` and `meta` (JSON) as checkpoint `step`; returns before the disk write ends.

        `metrics` (e.g. evaluation results) rank the checkpoint for `best_metric`; non-finite values are dropped.
        """
        metrics = {k: float(v) for k, v in (metrics or {}).items() if math.isfinite(float(v))} or None
        self._manager.save(step, args=ocp.args.Composite(**{STATE: ocp.args.PyTreeSave(state),
                                                            META: ocp.args.JsonSave(meta)}),
                           metrics=metrics, force=True)

    def latest_step(self) -> int | None:
        """The newest complete checkpoint's step (None when there is none)."""
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        """Steps of the complete checkpoints, oldest first."""
        return sorted(self._manager.all_steps())

    def metrics(self, step: int) -> dict[str, float] | None:
        """The metrics saved with checkpoint `step` (only recorded when `best_metric` is set)."""
        return self._manager.metrics(step)

    def best_step(self) -> int | None:
        """The step of the best checkpoint by `best_metric` (None without a metric or evaluated checkpoint)."""
        if self.best_metric is None:
            return None
        scored = [(m[self.best_metric], s) for s in self.all_steps()
                  if (m := self.metrics(s)) and self.best_metric in m]
        if not scored:
            return None
        pick = min if self.best_mode == "min" else max
        return pick(scored)[1]

    def item_metadata(self, step: int) -> Any:
        """The stored metadata tree of the state (paths, shapes, dtypes), read without reading arrays."""
        try:
            metadata = self._manager.item_metadata(step)[STATE]
        except Exception as error:  # orbax/tensorstore raise many types for unreadable files
            where = self.directory / str(step)
            raise CheckpointCorruptError(f"cannot read the metadata of {where}: {error}") from error
        tree = getattr(metadata, "tree", metadata)
        if not tree:
            raise CheckpointCorruptError(f"{self.directory / str(step)} has no readable state metadata.")
        return tree

    def read_meta(self, step: int) -> dict[str, Any]:
        """The JSON record (config, data position, shapes) saved with checkpoint `step`."""
        try:
            return self._manager.restore(step, args=ocp.args.Composite(**{META: ocp.args.JsonRestore()}))[META]
        except Exception as error:
            raise CheckpointCorruptError(f"cannot read {self.directory / str(step) / META}: {error}") from error

    def restore(self, abstract_state: GANState, step: int | None = None) -> tuple[GANState, dict]:
        """Restore checkpoint `step` (default: the newest readable one) into the structure of `abstract_state`.

        `abstract_state` may be a live state or ShapeDtypeStructs; the arrays come back with its shardings, so a
        checkpoint saved on any device count restores onto this one. Raises CheckpointMismatchError when the
        stored arrays differ from the target. With `step=None`, a newest checkpoint that cannot be read is moved
        to `corrupt/` (unless read-only) with a warning, and the one before is tried.
        """
        target = abstract_of(abstract_state)
        if step is not None:
            return self._restore_step(target, step)
        return self._first_readable(functools.partial(self._restore_step, target))

    def restore_partial(self, item: dict, step: int) -> dict:
        """Read only the arrays named in `item` (a nested dict of ShapeDtypeStructs in the state's layout)."""
        check_compatible(self.item_metadata(step), item, str(self.directory / str(step)), partial=True)
        args = ocp.args.PyTreeRestore(item=item, restore_args=ocp.checkpoint_utils.construct_restore_args(item),
                                      partial_restore=True)
        try:
            return self._manager.restore(step, args=ocp.args.Composite(**{STATE: args}))[STATE]
        except Exception as error:
            raise CheckpointCorruptError(f"cannot read {self.directory / str(step)}: {error}") from error

    def _restore_step(self, target: Any, step: int) -> tuple[GANState, dict]:
        check_compatible(self.item_metadata(step), target, str(self.directory / str(step)))
        args = ocp.args.Composite(**{
            STATE: ocp.args.PyTreeRestore(item=target,
                                          restore_args=ocp.checkpoint_utils.construct_restore_args(target)),
            META: ocp.args.JsonRestore()})
        try:
            restored = self._manager.restore(step, args=args)
        except Exception as error:
            raise CheckpointCorruptError(f"cannot read {self.directory / str(step)}: {error}") from error
        return restored[STATE], restored[META]

    def _first_readable(self, read: Callable[[int], Any]) -> Any:
        """`read(step)` for the newest step that reads; unreadable newer ones are warned about and set aside."""
        steps = self.all_steps()
        if not steps:
            raise FileNotFoundError(f"No complete checkpoint in {self.directory}.")
        for step in reversed(steps):
            try:
                return read(step)
            except CheckpointCorruptError as error:
                log.warning("Checkpoint %d is unreadable, falling back to the one before: %s", step, error)
                self._set_aside(step)
        raise FileNotFoundError(f"None of the checkpoints {steps} in {self.directory} can be read; "
                                "see the warnings above.")

    def _set_aside(self, step: int) -> None:
        """Move an unreadable step to `corrupt/` so the run can save that step again (kept for inspection)."""
        if self.read_only or jax.process_index() != 0:
            return
        destination = self.directory / CORRUPT_DIR / str(step)
        suffix = 0
        while destination.exists():
            suffix += 1
            destination = self.directory / CORRUPT_DIR / f"{step}.{suffix}"
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self.directory / str(step), destination)
        log.warning("Moved the unreadable checkpoint %d to %s.", step, destination)
        self._manager.reload()

    def wait(self) -> None:
        """Block until pending saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Finish pending saves and release orbax's threads."""
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _metric_value(name: str, metrics: dict[str, float]) -> float:
    """The ranking value orbax's BestN reads from a checkpoint's metrics."""
    return float(metrics[name])


def resolve_checkpoint_dir(path: str | Path) -> tuple[Path, int | None]:
    """(checkpoints directory, step or None) from a workdir, its checkpoints/ dir or one step's dir."""
    path = Path(path).absolute()
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; pass a run's workdir, its checkpoints/ folder "
                                "or one checkpoint step folder (checkpoints/<step>).")
    if (path / "checkpoints").is_dir():
        return path / "checkpoints", None
    if path.name.isdigit() and (path / STATE).is_dir():
        return path.parent, int(path.name)
    return path, None


def config_from_json(stored: dict) -> ml_collections.ConfigDict:
    """Rebuild a run's config from its JSON record, over `base_config()` so keys added since keep their defaults."""
    from jaxgan.config import base_config

    config = base_config()
    with config.unlocked():
        _merge(config, stored)
    return config


def _merge(config: ml_collections.ConfigDict, stored: dict) -> None:
    for key, value in stored.items():
        current = config.get(key)
        if isinstance(value, dict) and isinstance(current, ml_collections.ConfigDict):
            _merge(current, value)
        elif isinstance(value, list) and isinstance(current, tuple):
            config[key] = tuple(value)
        elif key in config and current is not None and value is not None and type(current) is not type(value):
            config[key] = type(current)(value)  # JSON loses int/float distinctions (1.0 -> 1)
        elif isinstance(value, dict):
            config[key] = ml_collections.ConfigDict(value)
        else:
            config[key] = value


def generator_item(abstract: GANState, ema: bool) -> dict:
    """The partial-restore target holding only what sampling needs: G's params (EMA ones if `ema`) and collections."""
    g = {} if ema else {"params": abstract.g.params}
    if abstract.g.collections:
        g["collections"] = abstract.g.collections
    item = {"g": g} if g else {}
    if ema:
        item["g_ema_params"] = abstract.g.params
    return item


def load_generator(path: str | Path, step: int | None = None
                   ) -> tuple[GAN, dict, ml_collections.ConfigDict]:
    """(gan, G's variables, config) from a workdir or checkpoint dir, reading only G's arrays.

    Reads G's EMA params when the run kept an EMA (else G's params) and G's collections (e.g. BatchNorm running
    stats), never D or the optimizer states (orbax partial restore). `step=None` takes the newest readable
    checkpoint. The GAN is rebuilt from the stored config with `jaxgan.factory.build_gan`.
    """
    directory, path_step = resolve_checkpoint_dir(path)
    step = path_step if step is None else step
    with Checkpointer(directory, read_only=True) as ckpt:
        if not ckpt.all_steps():
            raise FileNotFoundError(f"No complete checkpoint in {directory}; train first (experiments/train.py) or "
                                    "pass a workdir that has checkpoints/.")
        read = functools.partial(_read_generator, ckpt)
        return read(step) if step is not None else ckpt._first_readable(read)


def _read_generator(ckpt: Checkpointer, step: int) -> tuple[GAN, dict, ml_collections.ConfigDict]:
    from jaxgan.factory import build_gan

    meta = ckpt.read_meta(step)
    config = config_from_json(meta["config"])
    shape = tuple(meta["example_shape"])
    gan = build_gan(config, shape, meta.get("num_classes"))
    ema = ckpt.item_metadata(step).get("g_ema_params") is not None
    abstract = jax.eval_shape(functools.partial(create_state, gan, shape, 0, ema=False))
    item = abstract_of(generator_item(abstract, ema))
    restored = ckpt.restore_partial(item, step)
    g = restored.get("g", {})
    params = restored["g_ema_params"] if ema else g["params"]
    return gan, {"params": params, **g.get("collections", {})}, config


def run_meta(config: ml_collections.ConfigDict, step: int, data_batches: int,
             example_shape: Sequence[int], num_classes: int | None) -> dict[str, Any]:
    """The JSON record saved beside the state: what resuming and `load_generator` need besides the arrays."""
    return {"step": int(step), "data_batches": int(data_batches),
            "config": json.loads(config.to_json_best_effort()),
            "example_shape": [int(s) for s in example_shape], "num_classes": num_classes}
