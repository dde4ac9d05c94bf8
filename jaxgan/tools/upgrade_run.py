"""Convert a run saved before objectives to today's state layout: `jaxgan upgrade-run --workdir DIR`.

Older GAN runs stored the state as `g`, `d`, `g_ema_params` and `aux`, and CycleGAN runs their history pools as
`pools`; today's state is `nets.G`, `nets.D`, `ema.G` and `aux` (`aux.pools`) (`jaxgan.engine.state.TrainState`). Every
checkpoint is read, its arrays renamed, and written again with fresh checksums into a new `checkpoints/`; the old
folder is kept as `checkpoints.pre-objectives/` (delete it yourself once the run resumes). The stored config needs
no change: runs without an `objective` key are read as before.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from jaxgan.engine.state import D, G
from jaxgan.errors import JaxganError
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.state_layout import is_pre_objective_layout
from jaxgan.tools.parsing import tool_parser

KEPT_AS = "checkpoints.pre-objectives"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = tool_parser("upgrade-run", __doc__)
    parser.add_argument("--workdir", required=True, help="the run's workdir (it holds checkpoints/)")
    return parser.parse_args(argv)


def upgraded_state(old: dict[str, Any]) -> dict[str, Any]:
    """A saved state tree of the old layout, renamed to today's (the same arrays)."""
    if "pools" in old:  # CycleGAN: its history pools moved into aux
        return {"step": old["step"], "rng": old["rng"], "nets": old["nets"], "aux": {"pools": old["pools"]}}
    ema = old.get("g_ema_params")
    return {"step": old["step"], "rng": old["rng"], "nets": {G: old["g"], D: old["d"]},
            "ema": {} if ema is None else {G: ema}, "aux": old.get("aux") or {}}


def upgrade(workdir: Path) -> list[int]:
    """Rewrite every checkpoint of `workdir` in today's layout; returns the steps converted."""
    old_dir, new_dir, kept = workdir / "checkpoints", workdir / "checkpoints.upgrading", workdir / KEPT_AS
    if kept.exists():
        raise JaxganError(f"{kept} already exists: this run was upgraded before; move that folder away to redo it.")
    if not old_dir.is_dir():
        raise JaxganError(f"{old_dir} does not exist; pass the --workdir of a run that saved checkpoints.")
    with Checkpointer(old_dir, read_only=True) as source:
        steps = source.all_steps()
        if not steps or not is_pre_objective_layout(source.item_metadata(steps[-1])):
            raise JaxganError(f"{old_dir} holds no checkpoint of the old layout (g, d, g_ema_params); nothing to do.")
        with Checkpointer(new_dir, keep=len(steps), async_save=False) as target:
            for step in steps:
                meta = source.read_meta(step)
                target.save(step, upgraded_state(source.read_arrays(step)), meta, metrics=source.metrics(step))
    old_dir.rename(kept)
    new_dir.rename(old_dir)
    return steps


def main(argv: list[str] | None = None) -> int:
    """Upgrade the run at --workdir; prints the steps converted and where the old checkpoints are."""
    args = parse_args(argv)
    logging.getLogger("absl").setLevel(logging.ERROR)
    workdir = Path(args.workdir)
    steps = upgrade(workdir)
    print(f"upgraded checkpoints {steps} of {workdir}; the old ones are in {workdir / KEPT_AS}")
    return 0
