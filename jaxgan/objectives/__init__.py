"""Objectives: what a run trains, one module per family, named by the config's `objective` key.

An objective owns its config (`default_config()`: every key its runs read, so any other key is an unknown key),
its checks (`validate`), its networks' roles and its phase table, and builds the `jaxgan.run.loop.Task` the shared loop
trains (`build`). The families: `gan` (the toolbox GAN: MLP, DCGAN, ResNet, any loss and regulariser), `stylegan2`
(StyleGAN2-ADA's objective), `pix2pix` and `cyclegan` (image translation) and `srgan` (super-resolution). A
researcher's own objective is any object with the same four members, passed to `train_and_evaluate(...,
objective=...)`; no registry edit is needed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

import ml_collections

from jaxgan.errors import JaxganError

# objective name -> the module that defines it (imported on demand, so a GAN run never imports translation code).
OBJECTIVES = {
    "gan": "jaxgan.objectives.gan",
    "stylegan2": "jaxgan.objectives.stylegan2",
    "pix2pix": "jaxgan.objectives.pix2pix",
    "cyclegan": "jaxgan.objectives.cyclegan",
    "srgan": "jaxgan.objectives.srgan",
}


class Objective(Protocol):
    """What the loop needs from a family of models: its config, its checks and the task it trains."""

    name: str

    def default_config(self) -> ml_collections.ConfigDict:
        """Every key this objective's runs read, with its default (and `objective` = `name`)."""

    def validate(self, config: ml_collections.ConfigDict) -> None:
        """Raise a one-line error naming the key when `config` asks for something this objective cannot train."""

    def build(self, config: ml_collections.ConfigDict, eval_fn: Callable | None = None) -> Any:
        """The `jaxgan.run.loop.Task` (data, networks, phases, evaluation) that `config` describes."""

    def restore_target(self, config: ml_collections.ConfigDict, meta: dict[str, Any]) -> tuple[Any, Callable]:
        """(the networks, a `() -> state` of the saved run's shapes) from a checkpoint's config and JSON record, so
        `jaxgan.run.runs.load_run` restores any objective's run without its data."""


def get_objective(name: str) -> Objective:
    """The built-in objective called `name`; one clear line for an unknown one."""
    if name not in OBJECTIVES:
        raise JaxganError(f"Unknown objective {name!r}; choose one of {sorted(OBJECTIVES)} (config key `objective`), "
                          "or pass your own to train_and_evaluate(..., objective=...).")
    return importlib.import_module(OBJECTIVES[name]).OBJECTIVE


def objective_of(config: ml_collections.ConfigDict) -> Objective:
    """The objective `config.objective` names."""
    if "objective" not in config:
        raise JaxganError("The config has no `objective` key; start it from an objective's default_config(), e.g. "
                          "jaxgan.config.base_config() (objective 'gan').")
    return get_objective(config.objective)


def stored_objective_name(stored: dict[str, Any]) -> str:
    """The objective of a config saved by a run (config.json), also by runs written before the `objective` key:
    those said `task` for translation and trained StyleGAN2's objective whenever `model.name` was stylegan2."""
    if "objective" in stored:
        return stored["objective"]
    if stored.get("task", "gan") != "gan":
        return stored["task"]
    return "stylegan2" if stored.get("model", {}).get("name") == "stylegan2" else "gan"


def validate(config: ml_collections.ConfigDict, objective: Objective | None = None) -> None:
    """Check `config` for `objective` (default: config.objective's): a key its default config lacks is an unknown
    key (e.g. `loss` under StyleGAN2, which has its own), then the objective's own checks."""
    from jaxgan.config_file import unknown_key_message, unknown_keys

    objective = objective or objective_of(config)
    unknown, known = unknown_keys(config, objective.default_config())
    if unknown:
        raise JaxganError(unknown_key_message(unknown[0], known, f"not a key of the {objective.name} objective"))
    objective.validate(config)
