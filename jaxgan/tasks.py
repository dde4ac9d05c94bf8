"""Which task a config trains, and `train_and_evaluate` for every one of them on the shared loop (`jaxgan.loop`).

A config's `task` key names it: "gan" (the default when the key is absent), "pix2pix" or "cyclegan"; a config's
`objective` key names an objective of `jaxgan.objectives` ("srgan"). Each task
module gives a `validate(config)` and a `Task` builder; the loop does the rest the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ml_collections

from jaxgan import loop

TASKS = ("gan", "pix2pix", "cyclegan", "srgan")


def task_name(config: ml_collections.ConfigDict) -> str:
    """The config's task; a clear error for an unknown one."""
    name = config.get("objective") or config.get("task", "gan")
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; choose one of {TASKS} (config key `task`, or `objective`).")
    return name


def task_builder(config: ml_collections.ConfigDict, eval_fn: loop.EvalFn | None = None
                 ) -> tuple[Callable[[ml_collections.ConfigDict], None], Callable[[], loop.Task]]:
    """(validate, build): the config check and the `Task` factory of the config's task (imported on demand)."""
    if task_name(config) == "gan":
        from jaxgan.config import validate
        from jaxgan.trainer import build_gan_task as build
    elif task_name(config) == "srgan":
        from jaxgan.objectives.srgan import build, validate
    else:
        from jaxgan.translation.config import validate
        from jaxgan.translation.trainer import build_translation_task as build
    return validate, lambda: build(config, eval_fn)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path,
                       eval_fn: loop.EvalFn | None = None, config_file: str | None = None) -> Any:
    """Train the config's task (a GAN, pix2pix or CycleGAN) in `workdir`, resuming from its checkpoints; returns the
    final state. `eval_fn(state, step)`, when given, replaces the task's own evaluation every train.eval_every;
    `config_file` is named in log.txt's banner."""
    validate, build = task_builder(config, eval_fn)
    validate(config)
    return loop.train_and_evaluate(build, config, workdir, config_file)
