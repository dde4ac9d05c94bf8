"""`train_and_evaluate`: train any objective (`jaxgan.objectives`) on the shared loop (`jaxgan.run.loop`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ml_collections

from jaxgan.objectives import Objective, objective_of, validate
from jaxgan.run import loop


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path, eval_fn: loop.EvalFn | None = None,
                       config_file: str | None = None, objective: Objective | None = None) -> Any:
    """Train `objective` (default: the one `config.objective` names) in `workdir`, resuming from its checkpoints;
    returns the final state.

    Writes config.json, metrics.jsonl, TensorBoard events, samples/*.png and checkpoints/. `eval_fn(state, step)`,
    when given, replaces the objective's own evaluation every train.eval_every steps; `config_file` is named in
    log.txt's banner. The workdir is locked (one trainer per workdir and process) until this returns or raises.
    """
    objective = objective or objective_of(config)
    validate(config, objective)
    return loop.train_and_evaluate(lambda: objective.build(config, eval_fn), config, workdir, config_file)
