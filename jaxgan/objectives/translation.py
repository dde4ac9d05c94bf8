"""The image-translation objectives, pix2pix (paired) and CycleGAN (unpaired), as `jaxgan.objectives` entries.

Their networks, losses and phase tables are in `jaxgan.translation` (pix2pix.py and cyclegan.py hold the tables);
this module gives each its config, checks and task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import ml_collections


@dataclasses.dataclass(frozen=True)
class TranslationObjective:
    """pix2pix or CycleGAN (`name`): the config of `jaxgan.translation.config` and its `TranslationTask`."""

    name: str

    def default_config(self) -> ml_collections.ConfigDict:
        """The papers' 256x256 settings of this objective (`jaxgan.translation.config.base_config`)."""
        from jaxgan.translation.config import base_config

        return base_config(self.name)

    def validate(self, config: ml_collections.ConfigDict) -> None:
        """Translation's checks (`jaxgan.translation.config.validate`)."""
        from jaxgan.translation.config import validate

        validate(config)

    def build(self, config: ml_collections.ConfigDict, eval_fn: Callable | None = None) -> Any:
        """The loop's `TranslationTask`: paired or unpaired data, the networks and the held-out evaluation."""
        from jaxgan.translation.trainer import build_translation_task

        return build_translation_task(config, eval_fn)

    def restore_target(self, config: ml_collections.ConfigDict, meta: dict[str, Any]) -> tuple[Any, Callable]:
        """(the generators and discriminators, the state initializer) at the config's crop size."""
        from jaxgan.translation.factory import build_models
        from jaxgan.translation.state import state_initializer

        shape = (config.data.crop_size, config.data.crop_size, config.data.channels)
        models = build_models(config, shape)
        return models, state_initializer(models, shape, config.seed)
