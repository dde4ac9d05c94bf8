"""pix2pix and CycleGAN as a task of the shared loop (`jaxgan.run.loop`): batches, held-out evaluation and samples.

The loop gives translation what it gives the GAN: data-parallel steps over the mesh (`train.num_devices`), K steps
per dispatch (`train.steps_per_dispatch`), the NaN check, the SIGTERM-safe save, bit-exact resume and the best
checkpoint (`train.best_metric`). A run's workdir gets config.json, run_info.json, metrics.jsonl and TensorBoard
events, samples/step_*.png (held-out rows: pix2pix A | G(A) | B; CycleGAN A | G_ab(A) | G_ba(G_ab(A)) | B | G_ba(B) |
G_ab(G_ba(B))) and checkpoints/. Held-out images are translated in inference mode (BatchNorm running averages, no
dropout); `eval/L1` is pix2pix's held-out |G(A) - B|, `eval/cycle_a` and `eval/cycle_b` CycleGAN's cycle errors.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxgan.data.device import with_decoded_batch
from jaxgan.engine.multistep import unroll_k_steps
from jaxgan.engine.sharding import replicated
from jaxgan.engine.state import TrainState
from jaxgan.run import loop
from jaxgan.sampling.images import image_grid
from jaxgan.translation.data import TranslationDataset, build_translation_data
from jaxgan.translation.factory import build_models, build_step
from jaxgan.translation.losses import l1
from jaxgan.translation.state import TranslationModels, state_initializer, translate

Batch = dict[str, np.ndarray]


def make_evaluator(models: TranslationModels) -> Callable[[TrainState, Batch], tuple[dict, dict]]:
    """A jitted `(state, held-out batch) -> (eval/* metrics, translated images)` in inference mode."""

    @jax.jit
    def evaluate(state: TrainState, batch: Batch) -> tuple[dict, dict]:
        a, b = batch["a"], batch["b"]
        fake_b = translate(models, state, "AtoB", a)
        if models.task == "pix2pix":
            return {"eval/L1": l1(fake_b, b)}, {"fake_b": fake_b}
        fake_a = translate(models, state, "BtoA", b)
        out = {"fake_b": fake_b, "rec_a": translate(models, state, "BtoA", fake_b),
               "fake_a": fake_a, "rec_b": translate(models, state, "AtoB", fake_a)}
        return {"eval/cycle_a": l1(out["rec_a"], a), "eval/cycle_b": l1(out["rec_b"], b)}, out

    return evaluate


def sample_rows(batch: Batch, outputs: dict) -> tuple[np.ndarray, int]:
    """Held-out images and their translations, one example per row: (images, columns)."""
    names = (["a", "fake_b", "b"] if "rec_a" not in outputs
             else ["a", "fake_b", "rec_a", "b", "fake_a", "rec_b"])
    images = {**batch, **outputs}
    columns = [np.asarray(images[n]) for n in names]
    return np.stack(columns, axis=1).reshape(-1, *columns[0].shape[1:]), len(names)


def held_out_batch(config: ml_collections.ConfigDict) -> Batch:
    """The `data.num_eval` held-out (A, B) images every evaluation of the run uses."""
    data = build_translation_data(config.data, paired=config.objective == "pix2pix", seed=config.seed, eval_split=True)
    return data.eval_batch(config.data.num_eval)


def progress_postfix(metrics: dict[str, float]) -> dict[str, float]:
    """The few numbers the progress bar shows: G's loss and the mean D loss."""
    d_losses = [v for k, v in metrics.items() if k.startswith("Loss/D") or k.startswith("Loss/d_")]
    return {"D": float(np.mean(d_losses)), "G": metrics["Loss/G"]}


@dataclasses.dataclass
class TranslationTask:
    """pix2pix or CycleGAN as a `jaxgan.run.loop.Task`: one (A, B) batch per step, held-out scores and sample rows."""

    config: ml_collections.ConfigDict
    data: TranslationDataset
    models: TranslationModels
    held_out: Batch
    eval_fn: loop.EvalFn | None = None  # replaces the held-out scores when given

    def __post_init__(self):
        self.example_axis, self.batches_per_step = 0, 1  # step batches are {"a": (B, H, W, C), "b": ...}
        self.images_per_step = self.config.train.batch_size
        self.unroll = unroll_k_steps(self.config.model.generator)
        self.eval_protocol = None
        self._evaluator = make_evaluator(self.models)
        self._translated: tuple[int, dict, dict] | None = None  # (step, scores, images) of the last evaluation

    def initializer(self, mesh) -> Callable[[], TrainState]:
        return state_initializer(self.models, self.data.example_shape, self.config.seed, replicated(mesh))

    def step(self) -> loop.StepFn:
        """The train step, taking the host's uint8 (A, B) batches and decoding them on the device first."""
        return with_decoded_batch(build_step(self.config, self.models), images=("a", "b"))

    def step_batches(self, start_batch: int) -> Iterator[Batch]:
        """This process's rows of the uint8 (A, B) batches from data position `start_batch`, read by grain."""
        return self.data.batches(self.config.train.batch_size, start_batch=start_batch,
                                 process_index=jax.process_index(), process_count=jax.process_count())

    def _translate_held_out(self, state: TrainState, step: int) -> tuple[dict, dict]:
        """(held-out scores, translated images) at `step`, computed once per step on the host."""
        if self._translated is None or self._translated[0] != step:
            self._translated = (step, *jax.device_get(self._evaluator(state, self.held_out)))
        return self._translated[1], self._translated[2]

    def evaluate(self, state: TrainState, step: int) -> dict[str, float]:
        if self.eval_fn is not None:
            return self.eval_fn(state, step)
        return self._translate_held_out(state, step)[0]

    def samples(self, state: TrainState, step: int) -> np.ndarray:
        images, cols = sample_rows(self.held_out, self._translate_held_out(state, step)[1])
        return image_grid(images, cols=cols)

    def run_meta(self, step: int, data_batches: int) -> dict[str, Any]:
        return {"step": int(step), "objective": self.config.objective, "data_batches": int(data_batches),
                "config": json.loads(self.config.to_json_best_effort())}

    def progress_postfix(self, metrics: dict[str, float]) -> dict[str, float]:
        return progress_postfix(metrics)

    def close(self) -> None:
        pass


def build_translation_task(config: ml_collections.ConfigDict, eval_fn: loop.EvalFn | None = None
                           ) -> TranslationTask:
    """The training data, networks and held-out images `config` describes."""
    data = build_translation_data(config.data, paired=config.objective == "pix2pix", seed=config.seed)
    return TranslationTask(config, data, build_models(config, data.example_shape), held_out_batch(config), eval_fn)
