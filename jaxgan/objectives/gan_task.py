"""The GAN task: what the shared loop (`jaxgan.run.loop`) needs to train a GAN, and `train_and_evaluate` for it.

Samples are drawn with G in inference mode, so BatchNorm uses its running averages (as PyTorch's `netG.eval()`);
that makes a sample depend only on z and the checkpoint, never on the rest of the sample batch. With an EMA, samples
come from the EMA params (with G's running BatchNorm statistics).

Resume, the stop request, K steps per dispatch, the NaN check and checkpoints are the loop's (see `jaxgan.run.loop`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.data import build_dataset, stack_batches, with_decoded_batch
from jaxgan.data.label_distribution import class_probabilities
from jaxgan.engine.multistep import unroll_k_steps
from jaxgan.engine.sharding import replicated
from jaxgan.engine.state import GAN, TrainState
from jaxgan.engine.train_step import sample_latents
from jaxgan.metrics.training_eval import build_eval_fn
from jaxgan.objectives import objective_of
from jaxgan.objectives.gan import GANObjective
from jaxgan.run import loop
from jaxgan.run.dispatch import MultiStepRunner, StepRunner
from jaxgan.run.dispatch import make_step_runner as make_task_runner
from jaxgan.run.loop import EvalFn
from jaxgan.run.run_info import run_meta
from jaxgan.run.transfer import transfer_weights
from jaxgan.sampling.generate import generator_variables
from jaxgan.sampling.images import sample_picture


def host_batches(dataset, config: ml_collections.ConfigDict, start_batch: int) -> Iterator[dict]:
    """This process's rows of the global batches from data position `start_batch`, read by grain."""
    return dataset.batches(config.train.batch_size, start_batch=start_batch,
                           process_index=jax.process_index(), process_count=jax.process_count())


def make_sampler(gan: GAN):
    """A jitted `(state, z, labels=None) -> samples` from the EMA params (with standing BatchNorm stats) if present."""

    @jax.jit
    def sample(state: TrainState, z: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        return gan.generate(generator_variables(state, gan), z, labels)

    return sample


def grid_labels(n: int, num_classes: int | None) -> jax.Array | None:
    """Class labels for a sample grid of n (ceil(sqrt(n)) per row): row r shows class r mod K; None if unconditional."""
    if num_classes is None:
        return None
    return jnp.asarray((np.arange(n) // math.ceil(math.sqrt(n))) % num_classes, jnp.int32)


def state_initializer(config: ml_collections.ConfigDict, gan: GAN, example_shape, mesh,
                      objective: GANObjective | None = None) -> Callable[[], TrainState]:
    """A jitted `() -> state` from `config.seed` (the objective's `init_state`), replicated over the mesh: one
    compile instead of op-by-op init."""
    objective = objective or objective_of(config)
    return jax.jit(objective.initializer(config, gan, example_shape), out_shardings=replicated(mesh))


def initial_state(config: ml_collections.ConfigDict, gan: GAN, example_shape, mesh) -> TrainState:
    """A fresh state from `config.seed`, replicated over the mesh (also the restore target's layout)."""
    return state_initializer(config, gan, example_shape, mesh)()


@dataclasses.dataclass
class GANTask:
    """The GAN as a `jaxgan.run.loop.Task`: n_disc real batches per step, samples of fixed latents, `eval_fn` scores."""

    config: ml_collections.ConfigDict
    gan: GAN
    dataset: Any
    eval_fn: EvalFn | None = None
    objective: GANObjective | None = None  # None: the one config.objective names

    def __post_init__(self):
        c = self.config
        self.objective = self.objective or objective_of(c)
        self.batches_per_step = self.objective.batches_per_step(c)
        self.example_axis = 1  # step batches are (batches_per_step, B, ...)
        self.images_per_step = c.train.batch_size * self.batches_per_step
        self.unroll = unroll_k_steps(c.model.name)
        self.eval_protocol = getattr(self.eval_fn, "protocol", None)
        self._sampler = make_sampler(self.gan)
        self._z = sample_latents(jax.random.PRNGKey(c.seed + 1), c.train.num_samples, self.gan.z_dim)
        self._labels = grid_labels(c.train.num_samples, self.gan.num_classes)

    def initializer(self, mesh) -> Callable[[], TrainState]:
        return state_initializer(self.config, self.gan, self.dataset.example_shape, mesh, self.objective)

    def step(self) -> loop.StepFn:
        label_probs = class_probabilities(self.dataset) if self.gan.num_classes is not None else None
        step_fn = self.objective.train_step(self.config, self.gan, self.dataset.example_shape,
                                            self.dataset.num_examples, label_probs)
        return with_decoded_batch(step_fn, flip=self.config.data.random_flip)

    def step_batches(self, start_batch: int) -> Iterator[dict]:
        """`batches_per_step` real batches stacked per step (image pixels cross as uint8; the step decodes them)."""
        return stack_batches(host_batches(self.dataset, self.config, start_batch), self.batches_per_step)

    def init_from(self, state: TrainState, source: str) -> TrainState:
        """A fresh state with G's, D's and the EMA's weights of the run at `source` (`train.init_from`)."""
        return transfer_weights(state, source)

    def evaluate(self, state: TrainState, step: int) -> dict[str, float] | None:
        return None if self.eval_fn is None else self.eval_fn(state, step)

    def samples(self, state: TrainState, step: int) -> np.ndarray:
        """The sample grid of the fixed latents."""
        samples = np.asarray(jax.device_get(self._sampler(state, self._z, self._labels)))
        return sample_picture(samples, self.dataset.modes)

    def run_meta(self, step: int, data_batches: int) -> dict[str, Any]:
        return run_meta(self.config, step, data_batches, self.dataset.example_shape, self.gan.num_classes)

    def progress_postfix(self, metrics: dict[str, float]) -> dict[str, float]:
        return loop.gan_postfix(metrics)

    def close(self) -> None:
        pass


def build_gan_task(config: ml_collections.ConfigDict, eval_fn: EvalFn | None = None,
                   objective: GANObjective | None = None) -> GANTask:
    """The data, networks and evaluation `config` describes, trained by `objective` (None: config.objective's);
    bad eval settings stop the run here, before any step."""
    objective = objective or objective_of(config)
    dataset = build_dataset(config.data, seed=config.seed)
    gan = objective.networks(config, dataset.example_shape, dataset.num_classes)
    if eval_fn is None:
        eval_fn = build_eval_fn(config, gan, dataset)
    return GANTask(config, gan, dataset, eval_fn, objective)


def make_step_runner(config: ml_collections.ConfigDict, gan: GAN, mesh, dataset, start_batch: int,
                     start_step: int = 0) -> StepRunner | MultiStepRunner:
    """The loop's runner for this GAN (`jaxgan.run.dispatch`), for tools that drive steps themselves."""
    return make_task_runner(GANTask(config, gan, dataset), mesh, start_batch, start_step)


def generate_samples(gan: GAN, state: TrainState, key: jax.Array, n: int,
                     labels: jax.Array | None = None) -> jax.Array:
    """n samples from G (EMA params when present) in inference mode, of classes `labels` for conditional G."""
    z = sample_latents(key, n, gan.z_dim)
    return make_sampler(gan)(state, z.astype(jnp.float32), labels)
