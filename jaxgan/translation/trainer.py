"""The translation training loop: batches in, steps run, metrics, held-out evaluations, samples and checkpoints out.

A run's workdir gets config.json, metrics.jsonl and TensorBoard events (`jaxgan.writers`), samples/step_*.png
(held-out rows: pix2pix A | G(A) | B; CycleGAN A | G_ab(A) | G_ba(G_ab(A)) | B | G_ba(B) | G_ab(G_ba(B))) and
checkpoints/ (orbax, `jaxgan.checkpoint`). Held-out images are translated in inference mode (BatchNorm running
averages, no dropout); `Eval/L1` is pix2pix's held-out |G(A) - B|, `Eval/cycle_*` CycleGAN's held-out cycle errors.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import jax
import ml_collections
import numpy as np

from jaxgan.checkpoint import Checkpointer
from jaxgan.data import prefetch_to_device
from jaxgan.images import image_grid, save_png
from jaxgan.train_step import jit_train_step
from jaxgan.trainer import check_finite
from jaxgan.translation.config import validate
from jaxgan.translation.data import TranslationDataset, build_translation_data
from jaxgan.translation.factory import build_models, build_step
from jaxgan.translation.losses import l1
from jaxgan.translation.state import TranslationModels, TranslationState, create_state, translate
from jaxgan.writers import MetricWriter, Progress

Batch = dict[str, np.ndarray]
log = logging.getLogger(__name__)


def write_config(workdir: Path, config: ml_collections.ConfigDict) -> None:
    """Write the resolved config as JSON beside the run (what tools/translate.py rebuilds the networks from)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")


def restore_or_init(ckpt: Checkpointer, models: TranslationModels, example_shape, seed: int
                    ) -> tuple[TranslationState, int]:
    """Resume from the newest checkpoint in the workdir (without initialising first), or initialise at step 0."""
    if ckpt.latest_step() is None:
        return create_state(models, example_shape, seed), 0
    abstract = jax.eval_shape(lambda: create_state(models, example_shape, seed))
    state, _ = ckpt.restore(abstract)
    log.warning("Resumed from the checkpoint of step %d in %s.", int(state.step), ckpt.directory)
    return state, int(state.step)


def make_evaluator(models: TranslationModels) -> Callable[[TranslationState, Batch], tuple[dict, dict]]:
    """A jitted `(state, held-out batch) -> (Eval/* metrics, translated images)` in inference mode."""

    @jax.jit
    def evaluate(state: TranslationState, batch: Batch) -> tuple[dict, dict]:
        a, b = batch["a"], batch["b"]
        fake_b = translate(models, state, "AtoB", a)
        if models.task == "pix2pix":
            return {"Eval/L1": l1(fake_b, b)}, {"fake_b": fake_b}
        fake_a = translate(models, state, "BtoA", b)
        out = {"fake_b": fake_b, "rec_a": translate(models, state, "BtoA", fake_b),
               "fake_a": fake_a, "rec_b": translate(models, state, "AtoB", fake_a)}
        return {"Eval/cycle_a": l1(out["rec_a"], a), "Eval/cycle_b": l1(out["rec_b"], b)}, out

    return evaluate


def sample_rows(batch: Batch, outputs: dict) -> tuple[np.ndarray, int]:
    """Held-out images and their translations, one example per row: (images, columns)."""
    names = (["a", "fake_b", "b"] if "rec_a" not in outputs
             else ["a", "fake_b", "rec_a", "b", "fake_a", "rec_b"])
    images = {**batch, **outputs}
    columns = [np.asarray(images[n]) for n in names]
    return np.stack(columns, axis=1).reshape(-1, *columns[0].shape[1:]), len(names)


def write_samples(workdir: Path, step: int, batch: Batch, outputs: dict, writer: MetricWriter) -> Path:
    """Save the held-out translations as a PNG grid under samples/ and log it to TensorBoard."""
    images, cols = sample_rows(batch, outputs)
    picture = image_grid(images, cols=cols)
    writer.image(step, "samples", picture)
    return save_png(picture, workdir / "samples" / f"step_{step:07d}.png")


def held_out_batch(config: ml_collections.ConfigDict) -> Batch:
    """The `data.num_eval` held-out (A, B) images every evaluation of the run uses."""
    data = build_translation_data(config.data, paired=config.task == "pix2pix", seed=config.seed, eval_split=True)
    return data.eval_batch(config.data.num_eval)


def _fetch(pending: list[tuple[int, dict]]) -> list[tuple[int, dict[str, float]]]:
    """Bring queued step metrics to the host in one transfer."""
    host = jax.device_get([m for _, m in pending])
    return [(s, {k: float(v) for k, v in m.items()}) for (s, _), m in zip(pending, host, strict=True)]


def progress_postfix(metrics: dict[str, float]) -> dict[str, float]:
    """The few numbers the progress bar shows: G's loss, the mean D loss and images/s."""
    d_losses = [v for k, v in metrics.items() if k.startswith("Loss/D") or k.startswith("Loss/d_")]
    return {"D": float(np.mean(d_losses)), "G": metrics["Loss/G"], "img/s": metrics["images_per_sec"]}


def setup(config: ml_collections.ConfigDict) -> tuple[TranslationDataset, TranslationModels]:
    """The training data and the networks `config` describes (after validating it)."""
    validate(config)
    data = build_translation_data(config.data, paired=config.task == "pix2pix", seed=config.seed)
    return data, build_models(config, data.example_shape)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> TranslationState:
    """Train the pix2pix or CycleGAN model `config` describes, writing everything to `workdir`; resumes if saved."""
    if jax.process_count() > 1:
        raise NotImplementedError("the translation trainer runs in one process (on one device); run it without "
                                  "multi-host initialisation.")
    data, models = setup(config)
    workdir, t = Path(workdir), config.train
    held_out = held_out_batch(config)
    step_fn, evaluate = jit_train_step(build_step(config, models)), make_evaluator(models)
    ckpt = Checkpointer(workdir / "checkpoints", keep=t.keep_checkpoints)
    state, start = restore_or_init(ckpt, models, data.example_shape, config.seed)
    write_config(workdir, config)
    writer = MetricWriter(workdir)
    progress = Progress(t.num_steps, start, enabled=t.progress)
    batches = prefetch_to_device(data.batches(t.batch_size, start_batch=start), size=2)
    pending: list[tuple[int, dict]] = []
    t0 = time.perf_counter()

    def flush() -> None:
        nonlocal t0
        if not pending:
            return
        rows, steps = _fetch(pending), len(pending)
        pending.clear()
        check_finite(rows)
        step, last = rows[-1]
        last["images_per_sec"] = steps * t.batch_size / max(time.perf_counter() - t0, 1e-9)
        writer.scalars(step, last)
        progress.update(steps, progress_postfix(last))
        t0 = time.perf_counter()

    try:
        for step in range(start + 1, t.num_steps + 1):
            state, metrics = step_fn(state, next(batches))
            pending.append((step, metrics))
            last_step = step == t.num_steps
            if step % t.log_every == 0 or last_step:
                flush()
            if step % t.eval_every == 0 or last_step:
                scores, outputs = jax.device_get(evaluate(state, held_out))
                writer.scalars(step, scores)
                write_samples(workdir, step, held_out, outputs, writer)
            if step % t.checkpoint_every == 0 or last_step:
                flush()  # never save a state whose metrics were not checked
                ckpt.save(step, state, {"step": step, "task": config.task,
                                        "config": json.loads(config.to_json_best_effort())})
    finally:
        progress.close()
        writer.close()
        ckpt.close()
    return state
