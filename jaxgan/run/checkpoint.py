"""Saving and restoring checkpoints with orbax: a train-state pytree plus a JSON record, checked and retried.

A plain orbax wrapper: it knows pytrees, JSON and files, not configs or models. What a run stores in the record
(`jaxgan.run.runs.run_meta`) and how a run is rebuilt from a checkpoint (`jaxgan.run.runs`) live in `jaxgan.run.runs`.

A checkpoint is a step directory `<directory>/<step>/` with two orbax items:

- `state`: the train-state pytree (OCDBT/zarr), each array stored under its dotted path, e.g. for a `TrainState`
  `nets.G.params.Dense_0.kernel`, `nets.D.opt_state.0.mu.Dense_0.bias`, `ema.G.Dense_0.kernel`.
- `meta`: JSON; a run stores `step`, `data_batches` (the data iterator position: batches consumed), the resolved
  `config`, `example_shape` and `num_classes` there (what `jaxgan.run.runs` needs to rebuild it without the dataset).

Orbax writes a step into `<step>.orbax-checkpoint-tmp` and renames it only when every item is on disk, so a save killed
half-way leaves no step directory; the writing `Checkpointer` deletes such leftovers when it opens. Retention is one
orbax preservation policy: the last `keep` checkpoints, plus (when `best_metric` is set) the best one by that metric.
Restores compare orbax's stored metadata (paths, shapes, dtypes) with the target before reading any array.

Every save records a CRC32 per array (`meta["checksums"]`, computed on the host from the arrays being saved); a restore
recomputes them, so a flipped bit is caught. A checkpoint that cannot be read (after a few retries, for transient I/O
errors) or fails its checksums is skipped with one warning line, its details go to the run's log file, and the one
before is restored. Nothing is moved or deleted at restore time; when no checkpoint can be read, restoring raises
`NoReadableCheckpointError` and every checkpoint stays where it is.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from jaxgan.errors import JaxganError
from jaxgan.run.checkpoint_noise import log_details, quiet_failed_saves, quiet_reads, short_reason
from jaxgan.run.checksums import array_checksums, checksum_mismatches
from jaxgan.run.state_layout import abstract_of, check_compatible

log = logging.getLogger(__name__)

STATE, META = "state", "meta"
CHECKSUMS = "checksums"  # meta key: {dotted array path: "crc32:xxxxxxxx"}
UNREADABLE_DIR = "unreadable"  # where an unreadable step goes only when the run writes that step again
BEST_MODES = ("min", "max")
READ_ATTEMPTS = 3  # tries per checkpoint before it is judged unreadable (transient I/O errors)
RETRY_WAIT_S = 0.2  # wait before the second try; doubles each time


class CheckpointCorruptError(JaxganError, RuntimeError):
    """A checkpoint's files cannot be read (partial write, truncated or deleted files) or fail their checksums."""

    def __init__(self, message: str, short: str | None = None):
        super().__init__(message)
        self.short = short or " ".join(message.split())[:160]  # the reason shown on the one warning line


class NoReadableCheckpointError(JaxganError, FileNotFoundError):
    """Checkpoints exist but none can be read: the run stops instead of silently starting over."""


class CheckpointWriteError(JaxganError):
    """A save failed on the file system (disk full, quota, permissions): the run stops; older checkpoints stay."""


class Checkpointer:
    """The checkpoints of one run under `directory`: async saves, retention, validated restores with fall-back.

    `keep`: the last `keep` checkpoints are kept. `best_metric` (e.g. "eval/fid") with `best_mode` min|max: the
    checkpoint with the best value of that metric (passed to `save(..., metrics=)`) is kept as well. `read_only`:
    never writes, deletes or moves anything (for sampling from a run that may still be training). `log_path`: where
    the details of unreadable checkpoints go (tracebacks, TensorStore errors); the terminal gets one line each.
    """

    def __init__(self, directory: str | Path, keep: int = 3, async_save: bool = True,
                 best_metric: str | None = None, best_mode: str = "min", read_only: bool = False,
                 log_path: str | Path | None = None, read_attempts: int = READ_ATTEMPTS,
                 retry_wait_s: float = RETRY_WAIT_S):
        if best_mode not in BEST_MODES:
            raise ValueError(f"best_mode must be one of {BEST_MODES}, got {best_mode!r}.")
        self.directory = Path(directory).absolute()
        self.log_path = None if log_path is None else Path(log_path)
        self.read_attempts, self.retry_wait_s = max(1, read_attempts), retry_wait_s
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
        self._saving: int | None = None  # the step of the save in flight
        self._write_failed = False
        if not read_only:
            quiet_failed_saves(self.log_path)
        self._manager = ocp.CheckpointManager(
            self.directory, options=options,
            item_handlers={STATE: ocp.PyTreeCheckpointHandler(), META: ocp.JsonCheckpointHandler()})

    def save(self, step: int, state: Any, meta: dict[str, Any],
             metrics: dict[str, float] | None = None) -> None:
        """Start saving `state` and `meta` (JSON) as checkpoint `step`; returns before the disk write ends.

        `metrics` (e.g. evaluation results) rank the checkpoint for `best_metric`; non-finite values are dropped.
        The CRC32 of every array is computed here, on the host, before the state is handed to the background write
        (the caller may donate its buffers next), and stored in `meta["checksums"]`.
        """
        metrics = {k: float(v) for k, v in (metrics or {}).items() if math.isfinite(float(v))} or None
        meta = {**meta, CHECKSUMS: array_checksums(state)}
        self.wait()  # the previous save's write error, if any, stops the run before this one starts
        if step in self._manager.all_steps():
            self._keep_unreadable_copy(step)
        self._saving = step
        with self._writing():
            self._manager.save(step, args=ocp.args.Composite(**{STATE: ocp.args.PyTreeSave(state),
                                                                META: ocp.args.JsonSave(meta)}),
                               metrics=metrics, force=True)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a file-system error of the save in flight into one CheckpointWriteError (reported once)."""
        try:
            yield
        except Exception as error:
            cause = _os_error_in(error)
            if cause is None or self._write_failed:
                raise
            self._write_failed = True
            log_details(self.log_path, f"checkpoint {self._saving} in {self.directory}: save failed", error)
            last = self.latest_step()
            kept = (f"the last complete checkpoint, {self.directory / str(last)}, is kept and running the same "
                    "command again resumes from it" if last is not None else "no checkpoint was complete yet")
            raise CheckpointWriteError(
                f"could not save checkpoint {self._saving} in {self.directory}: {cause.strerror or cause} "
                f"({cause.filename or self.directory}). Free space on that disk (or fix its permissions) or train "
                f"in another --workdir; {kept}{self._details_hint()}.") from error

    def set_aside_all(self) -> Path:
        """Move every step folder to `unreadable/` (on the explicit request `train.restart=True`); returns that folder.

        Nothing is deleted: each step keeps its files under `unreadable/<step>` (`.1`, `.2`, ... if taken).
        """
        for step in self.all_steps():
            self._keep_unreadable_copy(step, quiet=True)
        return self.directory / UNREADABLE_DIR

    def _keep_unreadable_copy(self, step: int, quiet: bool = False) -> None:
        """Move the unreadable copy of `step` (the run fell back past it and is now at that step again) out of the way.

        It is moved, never deleted, to `unreadable/<step>` (`.1`, `.2`, ... when that exists), so the new save can
        take its name.
        """
        self._manager.wait_until_finished()
        destination = self.directory / UNREADABLE_DIR / str(step)
        suffix = 0
        while destination.exists():
            suffix += 1
            destination = self.directory / UNREADABLE_DIR / f"{step}.{suffix}"
        if jax.process_index() == 0:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(self.directory / str(step), destination)
        if jax.process_index() == 0 and not quiet:
            log.warning("Checkpoint %d was unreadable; the run has reached step %d again, so the unreadable copy "
                        "was kept at %s and the new one takes its place.", step, step, destination)
        if jax.process_count() > 1:  # the others wait for process 0's move before they list the steps again
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(f"jaxgan_unreadable_{step}")
        self._manager.reload()

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
            raise CheckpointCorruptError(f"cannot read the metadata of {where}: {error}",
                                         f"metadata: {short_reason(error)}") from error
        tree = getattr(metadata, "tree", metadata)
        if not tree:
            raise CheckpointCorruptError(f"{self.directory / str(step)} has no readable state metadata.")
        return tree

    def read_meta(self, step: int) -> dict[str, Any]:
        """The JSON record (config, data position, shapes) saved with checkpoint `step`."""
        try:
            return self._manager.restore(step, args=ocp.args.Composite(**{META: ocp.args.JsonRestore()}))[META]
        except Exception as error:
            raise CheckpointCorruptError(f"cannot read {self.directory / str(step) / META}: {error}",
                                         f"meta record: {short_reason(error)}") from error

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restore checkpoint `step` (default: the newest readable one) into the structure of `abstract_state`.

        `abstract_state` may be a live state or ShapeDtypeStructs; the arrays come back with its shardings, so a
        checkpoint saved on any device count restores onto this one. Raises CheckpointMismatchError when the
        stored arrays differ from the target. With `step=None`, a checkpoint that cannot be read or fails its
        checksums is skipped with one warning line (nothing is moved) and the one before is tried;
        NoReadableCheckpointError when none can be read.
        """
        target = abstract_of(abstract_state)
        if step is not None:
            return self._restore_step(target, step)
        return self.first_readable(functools.partial(self._restore_step, target))

    def restore_partial(self, item: dict, step: int) -> dict:
        """Read only the arrays named in `item` (a nested dict of ShapeDtypeStructs in the state's layout)."""
        check_compatible(self.item_metadata(step), item, str(self.directory / str(step)), partial=True)
        args = ocp.args.PyTreeRestore(item=item, restore_args=ocp.checkpoint_utils.construct_restore_args(item),
                                      partial_restore=True)
        try:
            restored = self._manager.restore(step, args=ocp.args.Composite(**{STATE: args}))[STATE]
        except Exception as error:
            raise CheckpointCorruptError(f"cannot read {self.directory / str(step)}: {error}",
                                         short_reason(error)) from error
        self._verify(step, restored, self.read_meta(step))
        return restored

    def _restore_step(self, target: Any, step: int) -> tuple[Any, dict]:
        check_compatible(self.item_metadata(step), target, str(self.directory / str(step)))
        args = ocp.args.Composite(**{
            STATE: ocp.args.PyTreeRestore(item=target,
                                          restore_args=ocp.checkpoint_utils.construct_restore_args(target)),
            META: ocp.args.JsonRestore()})
        try:
            restored = self._manager.restore(step, args=args)
        except Exception as error:
            raise CheckpointCorruptError(f"cannot read {self.directory / str(step)}: {error}",
                                         short_reason(error)) from error
        self._verify(step, restored[STATE], restored[META])
        return restored[STATE], restored[META]

    def _verify(self, step: int, tree: Any, meta: dict) -> int:
        """Compare the restored arrays' CRC32 with those saved; returns how many were checked (0: none recorded)."""
        expected = meta.get(CHECKSUMS) or {}
        bad = checksum_mismatches(tree, expected)
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise CheckpointCorruptError(
                f"{self.directory / str(step)}: checksum mismatch in {', '.join(bad)}: the bytes on disk are not "
                "the ones saved (a flipped bit, or a file overwritten).",
                f"checksum mismatch in array {bad[0]}{more}")
        return len(set(expected) & set(array_checksums(tree)))

    def read_arrays(self, step: int) -> Any:
        """Every array of checkpoint `step` as saved (on the first device), without a model to restore into."""
        target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=_first_device()),
                              self.item_metadata(step), is_leaf=lambda m: hasattr(m, "shape") and hasattr(m, "dtype"))
        args = ocp.args.PyTreeRestore(item=target, restore_args=ocp.checkpoint_utils.construct_restore_args(target))
        try:
            return self._manager.restore(step, args=ocp.args.Composite(**{STATE: args}))[STATE]
        except Exception as error:
            raise CheckpointCorruptError(f"cannot read {self.directory / str(step)}: {error}",
                                         short_reason(error)) from error

    def verify_step(self, step: int) -> str:
        """Read every array of checkpoint `step` and check its CRC32; returns what was checked, raises if bad."""
        meta = self.read_meta(step)
        tree = self.read_arrays(step)
        checked = self._verify(step, tree, meta)
        total = len(array_checksums(tree))
        if not meta.get(CHECKSUMS):
            return f"{total} arrays read; no checksums recorded (saved before checksums existed)"
        return f"{checked} of {total} arrays verified"

    def first_readable(self, read: Callable[[int], Any]) -> Any:
        """`read(step)` for the newest step that reads; each unreadable one costs one warning line, nothing is moved."""
        steps = self.all_steps()
        if not steps:
            raise FileNotFoundError(f"No complete checkpoint in {self.directory}.")
        for step in reversed(steps):
            try:
                return self.read_with_retries(read, step)
            except CheckpointCorruptError as error:
                log_details(self.log_path, f"checkpoint {step} in {self.directory}: skipped", error)
                log.warning("Checkpoint %d is unreadable (%s), falling back to the one before%s.", step, error.short,
                            self._details_hint())
        raise NoReadableCheckpointError(
            f"None of the checkpoints {steps} in {self.directory} can be read{self._details_hint()}; they were all "
            "left in place. Check the disk, run `jaxgan verify --workdir` on the run, then either fix the files, "
            "start over with --config.train.restart=True (the unreadable ones are moved to "
            f"{self.directory / UNREADABLE_DIR}), or use a new --workdir.")

    def read_with_retries(self, read: Callable[[int], Any], step: int) -> Any:
        """`read(step)`, retried with a doubling wait when it fails, so a transient I/O error is not fatal."""
        wait = self.retry_wait_s
        for attempt in range(1, self.read_attempts + 1):
            try:
                with quiet_reads(self.log_path):
                    return read(step)
            except CheckpointCorruptError as error:
                if attempt == self.read_attempts or "checksum mismatch" in error.short:
                    raise
                log_details(self.log_path, f"checkpoint {step} in {self.directory}: attempt {attempt} failed; "
                            f"retrying in {wait:g} s", error)
                time.sleep(wait)
                wait *= 2
                self._manager.reload()
        raise AssertionError("unreachable")

    def _details_hint(self) -> str:
        return f"; details in {self.log_path}" if self.log_path is not None else ""

    def wait(self) -> None:
        """Block until pending saves are on disk; CheckpointWriteError when one failed on the file system."""
        with self._writing():
            self._manager.wait_until_finished()

    def close(self) -> None:
        """Finish pending saves and release orbax's threads (a write error already raised is not raised again)."""
        try:
            self.wait()
        except CheckpointWriteError:
            raise
        except Exception:
            if not self._write_failed:
                raise
        finally:
            self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _os_error_in(error: BaseException) -> OSError | None:
    """The OSError (ENOSPC, EDQUOT, EACCES, ...) that `error` is or was caused by, if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, TimeoutError | ConnectionError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _first_device() -> jax.sharding.Sharding:
    return jax.sharding.SingleDeviceSharding(jax.local_devices()[0])


def _metric_value(name: str, metrics: dict[str, float]) -> float:
    """The ranking value orbax's BestN reads from a checkpoint's metrics."""
    return float(metrics[name])
