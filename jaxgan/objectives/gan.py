"""The GAN objective: G against D with the toolbox's losses, penalties, augmentations and top-k, as a phase table.

The table is `jaxgan.engine.train_step.gan_phases`: [Dreg], n_disc x Dmain, Gmain, [Greg], G_ema. Its parts come from
the config's blocks: the loss (`loss`, `reg.label_smoothing`, AC-GAN), D's penalties (`reg`), D's input transform
(`augment`, instance noise), top-k (`train.topk_*`) and the EMA (`ema`); `jaxgan.objectives.factory` wires them.

To train an idea of your own, subclass `GANObjective` and override what changes: `init_state` for more networks (a
second D is one more key of `TrainState.nets`), `phases` for another table, `validate` for your keys. Pass an
instance as `train_and_evaluate(config, workdir, objective=...)`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import ml_collections

from jaxgan import config as gan_config
from jaxgan.engine.state import GAN, TrainState, create_state
from jaxgan.engine.train_step import Phase, make_phase_step
from jaxgan.models import ARCHITECTURES
from jaxgan.objectives import factory


class GANObjective:
    """The toolbox GAN: networks from `model`, the phase table from `loss`, `reg`, `augment`, `ema`, `n_disc`."""

    name = "gan"

    def default_config(self) -> ml_collections.ConfigDict:
        """Every key of a GAN run (`jaxgan.config.base_config`)."""
        return gan_config.base_config()

    def validate(self, config: ml_collections.ConfigDict) -> None:
        """The GAN's checks (`jaxgan.config.validate`)."""
        gan_config.validate(config)

    def lazy_ratios(self, config: ml_collections.ConfigDict) -> tuple[float, float]:
        """(G's, D's) lazy-regularisation correction c of Adam's lr and betas (`jaxgan.objectives.factory`)."""
        return 1.0, factory.lazy_regularization_ratio(config)

    def networks(self, config: ml_collections.ConfigDict, example_shape: Sequence[int],
                 num_classes: int | None = None) -> GAN:
        """G, D and their optimizers for examples of `example_shape`."""
        return factory.build_networks(config, example_shape, num_classes, *self.lazy_ratios(config))

    def initial_aux(self, config: ml_collections.ConfigDict) -> dict[str, jax.Array]:
        """The objective's running values at step 0 (`TrainState.aux`): none for the GAN."""
        return {}

    def init_state(self, config: ml_collections.ConfigDict, gan: GAN, example_shape: Sequence[int]) -> TrainState:
        """The state at step 0 from `config.seed`: G, D, G's EMA when `ema` asks for one, and `initial_aux`."""
        return create_state(gan, tuple(example_shape), config.seed, ema=factory.ema_decay(config) > 0,
                            aux=self.initial_aux(config))

    def batches_per_step(self, config: ml_collections.ConfigDict) -> int:
        """Real batches one train step reads: one per D update."""
        return config.n_disc

    def phases(self, config: ml_collections.ConfigDict, gan: GAN, example_shape: Sequence[int] | None = None,
               num_examples: int | None = None, label_probs: Sequence[float] | None = None) -> tuple[Phase, ...]:
        """The step's phase table (`jaxgan.engine.train_step.gan_phases` with the config's parts)."""
        return factory.gan_phase_table(config, gan, example_shape, num_examples)

    def train_step(self, config: ml_collections.ConfigDict, gan: GAN, example_shape: Sequence[int] | None = None,
                   num_examples: int | None = None, label_probs: Sequence[float] | None = None) -> Callable:
        """The un-jitted `(state, batch) -> (state, metrics)` running `phases` once."""
        table = self.phases(config, gan, example_shape, num_examples, label_probs)
        options = ARCHITECTURES[config.model.name].compiler_options(config.model)  # its conv forms' best XLA options
        return make_phase_step(table, self.batches_per_step(config), options)

    def build(self, config: ml_collections.ConfigDict, eval_fn: Callable | None = None) -> Any:
        """The loop's task of this objective: data, networks, phases and evaluation (`jaxgan.objectives.gan_task`)."""
        from jaxgan.objectives.gan_task import build_gan_task

        return build_gan_task(config, eval_fn, objective=self)

    def restore_target(self, config: ml_collections.ConfigDict, meta: dict[str, Any]
                       ) -> tuple[GAN, Callable[[], TrainState]]:
        """(G and D, the state initializer) for the example shape and classes a checkpoint's record names."""
        shape = tuple(meta["example_shape"])
        gan = self.networks(config, shape, meta.get("num_classes"))
        return gan, self.initializer(config, gan, shape)

    def initializer(self, config: ml_collections.ConfigDict, gan: GAN, example_shape: Sequence[int]
                    ) -> Callable[[], TrainState]:
        """`init_state` bound to its arguments (what the trainer jits)."""
        return functools.partial(self.init_state, config, gan, tuple(example_shape))


OBJECTIVE = GANObjective()
