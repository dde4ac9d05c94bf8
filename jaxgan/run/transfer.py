"""Transfer learning: a new run starts from another run's weights (`train.init_from`).

G's, D's and the EMA's params and collections (BatchNorm statistics, StyleGAN2's w_avg and noise buffers) are read
from the source checkpoint (a workdir's newest readable one, or one step folder such as `W/checkpoints/2000`);
the optimizer states, the step and the RNG key stay those of the new run, so it trains from step 0 with fresh Adam
moments. A source without an EMA gives its G's params to the new run's EMA (as a fresh EMA starts from G). Only
the arrays asked for are read (orbax partial restore), placed as the new run's state is (replicated on its mesh).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jaxgan.engine.state import TrainState
from jaxgan.errors import JaxganError
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.runs import resolve_checkpoint_dir
from jaxgan.run.state_layout import abstract_of, leaf_specs

log = logging.getLogger(__name__)

_MAX_LISTED = 20  # mismatched arrays named in the error


class TransferMismatchError(JaxganError, ValueError):
    """The source run's networks do not have this run's arrays (another model, width or resolution)."""


def weights_item(state: TrainState, source_ema: Iterable[str]) -> dict:
    """The arrays that transfer, in the checkpoint's layout: every net's params and collections, and the EMAs that
    both this run and the source (`source_ema`: the names of its EMA nets) have."""
    nets = {name: {"params": net.params, **({"collections": net.collections} if net.collections else {})}
            for name, net in state.nets.items()}
    ema = {name: params for name, params in state.ema.items() if name in set(source_ema)}
    return {"nets": nets, **({"ema": ema} if ema else {})}


def weight_mismatches(saved: Any, item: dict) -> list[str]:
    """One line per array of `item` that the source lacks or holds in another shape or dtype, and per source array
    of the transferred parts that this run lacks: (path, source shape, run shape)."""
    source, run = leaf_specs(saved), leaf_specs(item)
    prefixes = tuple(f"nets.{name}.{part}." for name in item["nets"] for part in ("params", "collections"))
    prefixes += tuple(f"ema.{name}." for name in item.get("ema", {}))
    spec = lambda s: f"{s[0]} {s[1]}"
    lines = [f"{k}: source {spec(source[k])}, this run {spec(run[k])}" for k in sorted(run.keys() & source.keys())
             if source[k] != run[k]]
    lines += [f"{k}: not in the source (this run has {spec(run[k])})" for k in sorted(run.keys() - source.keys())]
    lines += [f"{k}: in the source ({spec(source[k])}) but not in this run" for k in sorted(source.keys() - run.keys())
              if any(k.startswith(p) for p in prefixes)]
    return lines


def _read_weights(ckpt: Checkpointer, step: int, state: TrainState) -> tuple[int, dict]:
    """(step, the transferable arrays of checkpoint `step`), checked against `state`'s shapes first."""
    saved = ckpt.item_metadata(step)
    item = weights_item(state, source_ema=(saved.get("ema") or {}).keys())
    lines = weight_mismatches(saved, item)
    if lines:
        more = f"\n  ... and {len(lines) - _MAX_LISTED} more" if len(lines) > _MAX_LISTED else ""
        raise TransferMismatchError(
            f"train.init_from={ckpt.directory / str(step)} does not fit this run: {len(lines)} arrays of G, D or "
            f"the EMA differ:\n  " + "\n  ".join(lines[:_MAX_LISTED]) + more +
            "\nTransfer needs the same model, widths and resolution; change this run's config to the source's.")
    return step, ckpt.restore_partial(abstract_of(item), step)


def load_weights(path: str | Path, state: TrainState) -> tuple[int, dict]:
    """(source step, G's, D's and the EMA's arrays) of the run or checkpoint at `path`, laid out as `state`."""
    directory, step = resolve_checkpoint_dir(path)
    with Checkpointer(directory, read_only=True) as ckpt:
        if not ckpt.all_steps():
            raise FileNotFoundError(f"train.init_from={path}: no complete checkpoint in {directory}; pass a run's "
                                    "workdir or one of its checkpoints/<step> folders.")
        read = functools.partial(_read_weights, ckpt, state=state)
        return ckpt.read_with_retries(read, step) if step is not None else ckpt.first_readable(read)


def transfer_weights(state: TrainState, path: str | Path) -> TrainState:
    """`state` with every net's and EMA's weights from the run at `path`; its optimizer states and step kept."""
    step, weights = load_weights(path, state)
    nets = {name: net.replace(params=weights["nets"][name]["params"],
                              collections=weights["nets"][name].get("collections", {}))
            for name, net in state.nets.items()}
    # An EMA the source lacks starts from the source's net.
    ema = {name: weights.get("ema", {}).get(name, nets[name].params) for name in state.ema}
    log.warning("Initialised %s%s from step %d of %s (train.init_from); optimizer states and the step are new.",
                ", ".join(nets), " and the EMA" if ema else "", step, path)
    return state.replace(nets=nets, ema=ema)
