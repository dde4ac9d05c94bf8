"""Which arrays a checkpoint holds against the state restored into it: dotted paths, shapes and dtypes, the named
difference when they do not fit, and the layout of runs saved before objectives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

_MAX_LISTED = 20  # leaves named in a mismatch error


class CheckpointMismatchError(ValueError):
    """A checkpoint's arrays do not fit the model being restored (another model, config or shapes)."""


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


def is_pre_objective_layout(tree: Any) -> bool:
    """Whether a saved state tree has the layout of runs before objectives: a GAN's top-level `g`, `d`,
    `g_ema_params` instead of `nets`, `ema`, or CycleGAN's top-level `pools` instead of `aux.pools` (`jaxgan
    upgrade-run` converts it)."""
    return isinstance(tree, dict) and (("g" in tree and "d" in tree and "nets" not in tree) or "pools" in tree)


def check_compatible(saved: Any, target: Any, where: str, partial: bool = False) -> None:
    """Raise CheckpointMismatchError naming the differing leaves (paths, shapes, dtypes) if any."""
    if is_pre_objective_layout(saved):
        run = Path(where).parent.parent
        raise CheckpointMismatchError(
            f"The checkpoint {where} has the state layout of an older jaxgan (g, d, g_ema_params or pools); "
            f"convert the run once with `jaxgan upgrade-run --workdir {run}` (it keeps the old checkpoints beside "
            "the new ones).")
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
