"""SRGAN (Ledig et al. 2017): super-resolution by a pixel loss plus an adversarial loss, with an optional feature loss.

G (SRResNet, `jaxgan.models.srresnet`) upsamples a low-resolution (LR) image `srgan.scale` times; D tells real
high-resolution (HR) images from G's. The LR input is made inside the step from each HR batch (`downsample`: bicubic
with antialiasing, as the paper's MATLAB `imresize`, or box averaging), so any image dataset trains it. One train
step is two phases, in order:
- `Dmain`: one D update on -log D(HR) - log(1 - D(G(LR))), G(LR) held constant;
- `Gmain`: one G update through the D just updated, on
      pixel_weight * pixel(G(LR), HR)            # mean squared error (the paper's SRResNet) or mean absolute error
    + adv_weight * -log D(G(LR))                 # the non-saturating term (the paper: 1e-3)
    + feature_weight * |phi(G(LR)) - phi(HR)|^2  # phi: the frozen domain classifier (the paper's VGG); 0 = off
  D runs in training mode there too; its BatchNorm averages from that pass are dropped (D is never run in inference).

Evaluation (every train.eval_every steps) upsamples the LR of a fixed held-out set of HR images (eval.num_images, the
same for every seed and kept out of training) with G (BatchNorm in inference mode) and with bicubic interpolation,
and logs the PSNR of each on [0, 1] images (eval/psnr, eval/psnr_bicubic: the mean over images of 10 log10(1 / MSE))
and, given eval.classifier, the domain FID of each against the training images (eval/fid, eval/fid_bicubic), with
eval/fid_hr, the held-out HR images' own FID: the floor at that sample size.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgan import data
from jaxgan.config import train_config, validate_train
from jaxgan.data.pipeline import ImageDataset
from jaxgan.data.subsets import subset
from jaxgan.engine import optim
from jaxgan.engine.grad_norms import grad_norm
from jaxgan.engine.multistep import unroll_k_steps
from jaxgan.engine.sharding import replicated
from jaxgan.engine.state import TrainState, apply_train, init_net, update_net
from jaxgan.engine.train_step import KeyStreams, Phase, make_phase_step
from jaxgan.errors import check_choice
from jaxgan.metrics.evaluator import evaluate_batches
from jaxgan.metrics.extractors import load_extractor
from jaxgan.metrics.reference_sets import dataset_reference_stats
from jaxgan.metrics.stats import default_cache_dir
from jaxgan.models import srresnet
from jaxgan.run import distributed, loop
from jaxgan.sampling.images import image_grid
from jaxgan.terms.losses import bce_d_loss, non_saturating_g_loss

DOWNSAMPLERS = ("bicubic", "box")
PIXEL_LOSSES = ("l2", "l1")
HELD_OUT_SEED = 0  # the held-out images do not depend on config.seed: every run is scored on the same set
NUM_SAMPLE_COLUMNS = 8  # held-out images in the sample picture
Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


def default_config() -> ml_collections.ConfigDict:
    """Every key of an SRGAN run with its default: the paper's networks and weights, 4x on the 28x28 digits."""
    c = ml_collections.ConfigDict()
    c.objective = "srgan"  # this file: jaxgan/objectives/srgan.py
    c.seed = 0  # seeds params, data order and the RNG stream of the run
    c.srgan = ml_collections.ConfigDict(dict(
        scale=4,            # upsampling factor, a power of two (the paper: 4)
        downsample="bicubic",  # how LR is made from HR: bicubic (antialiased, the paper's) | box (area average)
        pixel_loss="l2",    # l2 (mean squared error, the paper's SRResNet) | l1 (mean absolute error)
        pixel_weight=1.0,   # weight of the pixel loss in G's loss
        adv_weight=1e-3,    # weight of G's non-saturating adversarial loss (the paper: 1e-3; 0 = SRResNet alone)
        feature_weight=0.0,  # weight of the loss on eval.classifier's features (the paper's VGG loss; 0 = off)
    ))
    c.model = srresnet.default_config()  # G (SRResNet) and D sizes: jaxgan/models/srresnet.py
    c.data = data.default_config()  # HR images: see jaxgan/data/build.py for every field
    c.data.image_size = 28  # the 8x8 digits upscaled to 28x28 (MNIST's size): LR is 7x7 at scale 4
    c.optim = ml_collections.ConfigDict(dict(g=optim.default_config(lr=1e-4, b1=0.9),   # the paper: Adam 1e-4,
                                             d=optim.default_config(lr=1e-4, b1=0.9)))  # beta1 0.9
    c.eval = ml_collections.ConfigDict(dict(
        num_images=360,     # held-out HR images (a fixed random subset, kept out of training) that eval/* scores
        batch_size=250,     # images per G / classifier call in evaluation
        classifier="",      # domain classifier .npz (`jaxgan train-classifier`) of FID and the feature loss; "" = off
        reference_samples=10_000,  # training images of FID's reference statistics (>= the data's size: all)
        cache_dir="",       # cache of the reference statistics ("" = jaxgan's cache dir/ref_stats)
    ))
    c.train = train_config(batch_size=16, eval_every=1000)  # the loop's keys (`jaxgan.run.loop`); the paper's batch
    c.parallel = distributed.default_config()  # multi-process jobs: how the processes find each other
    return c


def result_keys(config: ml_collections.ConfigDict) -> list[str]:
    """The eval/* names an evaluation logs: PSNR always, FID with a classifier."""
    fid = ["eval/fid", "eval/fid_bicubic", "eval/fid_hr"] if config.eval.classifier else []
    return ["eval/psnr", "eval/psnr_bicubic", *fid]


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key of a value out of range (`jaxgan.objectives.validate` rejects unknown keys
    first)."""
    s = config.srgan
    srresnet.upsampling_stages(s.scale)
    check_choice(s.downsample, DOWNSAMPLERS, "srgan.downsample")
    check_choice(s.pixel_loss, PIXEL_LOSSES, "srgan.pixel_loss")
    for key in ("pixel_weight", "adv_weight", "feature_weight"):
        if s[key] < 0:
            raise ValueError(f"srgan.{key} must be >= 0, got {s[key]}.")
    if s.feature_weight > 0 and not config.eval.classifier:
        raise ValueError(f"srgan.feature_weight={s.feature_weight} needs a feature network: set eval.classifier to "
                         "a classifier from `jaxgan train-classifier`, or srgan.feature_weight=0.")
    srresnet.validate(config.model)
    for net in ("g", "d"):
        optim.validate(config.optim[net], f"optim.{net}")
    _validate_run(config)


def _validate_run(config: ml_collections.ConfigDict) -> None:
    """The eval, train and parallel blocks: counts, the best metric."""
    for key in ("num_images", "batch_size", "reference_samples"):
        if config.eval[key] < 1:
            raise ValueError(f"eval.{key} must be >= 1, got {config.eval[key]}.")
    validate_train(config.train)
    best = config.train.best_metric
    if best and best not in result_keys(config):
        raise ValueError(f"train.best_metric={best!r} is not logged; choose one of {result_keys(config)} (FID needs "
                         "eval.classifier) or \"\" for none.")
    distributed.validate(config.parallel)


def downsample(hr: jax.Array, scale: int, method: str = "bicubic") -> jax.Array:
    """HR images (..., H, W, C) -> LR (..., H / scale, W / scale, C): antialiased bicubic, or box (area) averages."""
    *lead, h, w, c = hr.shape
    if h % scale or w % scale:
        raise ValueError(f"HR images of {h}x{w} do not divide by srgan.scale={scale}; set data.image_size to a "
                         f"multiple of {scale}.")
    if method == "box":
        return hr.reshape(*lead, h // scale, scale, w // scale, scale, c).mean(axis=(-4, -2))
    return jax.image.resize(hr, (*lead, h // scale, w // scale, c), "bicubic", antialias=True)


def bicubic_upsample(lr: jax.Array, scale: int) -> jax.Array:
    """The baseline: LR (B, h, w, C) upsampled `scale` times by bicubic interpolation, clipped to [-1, 1]."""
    b, h, w, c = lr.shape
    return jnp.clip(jax.image.resize(lr, (b, h * scale, w * scale, c), "bicubic"), -1.0, 1.0)


def psnr(images: jax.Array, reference: jax.Array) -> jax.Array:
    """Per-image PSNR in dB, 10 log10(1 / MSE), of [-1, 1] images read as [0, 1] images (clipped to it)."""
    to_unit = lambda x: (jnp.clip(x.astype(jnp.float32), -1.0, 1.0) + 1.0) / 2.0
    mse = jnp.mean(jnp.square(to_unit(images) - to_unit(reference)), axis=(1, 2, 3))
    return -10.0 * jnp.log10(jnp.maximum(mse, 1e-10))


@dataclasses.dataclass(frozen=True)
class SRSpec:
    """What SRGAN's phases need besides the state: the networks, their optimizers and the loss weights."""

    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    scale: int = 4
    downsample: str = "bicubic"
    pixel_loss: str = "l2"
    pixel_weight: float = 1.0
    adv_weight: float = 1e-3
    feature_weight: float = 0.0
    features: Callable[[jax.Array], jax.Array] | None = None  # the frozen feature network phi


def pixel_loss(kind: str, sr: jax.Array, hr: jax.Array) -> jax.Array:
    """Mean squared (l2) or mean absolute (l1) error."""
    diff = sr.astype(jnp.float32) - hr.astype(jnp.float32)
    return jnp.mean(jnp.square(diff)) if kind == "l2" else jnp.mean(jnp.abs(diff))


def d_main(spec: SRSpec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Dmain: one D update, HR images as real and G(LR) (held constant) as fake."""
    hr, lr = batch["x"][0], batch["lr"][0]
    d = state.nets["D"]
    fake, _ = apply_train(spec.generator, state.nets["G"], lr)  # G's statistics are Gmain's to update
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(params):
        net = d.replace(params=params)
        real_logits, coll = apply_train(spec.discriminator, net, hr)
        fake_logits, coll = apply_train(spec.discriminator, net.replace(collections=coll), fake)
        value = jnp.mean(bce_d_loss(real_logits, fake_logits))  # the losses are per example
        return value, (coll, {"Loss/D": value, "D/real": jnp.mean(real_logits), "D/fake": jnp.mean(fake_logits)})

    grads, (coll, metrics) = jax.grad(loss_fn, has_aux=True)(d.params)
    metrics["Grad/D_norm"] = grad_norm(grads)
    d = update_net(spec.d_tx, d.replace(collections=coll), grads)
    return state.replace(nets={**state.nets, "D": d}), metrics


def g_main(spec: SRSpec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Gmain: one G update on the weighted pixel, adversarial and feature losses, through the current D."""
    hr, lr = batch["x"][0], batch["lr"][0]
    g, d = state.nets["G"], state.nets["D"]

    def loss_fn(params):
        sr, coll = apply_train(spec.generator, g, lr, params=params)
        logits, _ = apply_train(spec.discriminator, d, sr)
        terms = {"Loss/G_pixel": pixel_loss(spec.pixel_loss, sr, hr),
                 "Loss/G_adv": jnp.mean(non_saturating_g_loss(logits))}
        total = spec.pixel_weight * terms["Loss/G_pixel"] + spec.adv_weight * terms["Loss/G_adv"]
        if spec.feature_weight > 0:
            terms["Loss/G_feature"] = jnp.mean(jnp.square(spec.features(sr) - spec.features(hr)))
            total = total + spec.feature_weight * terms["Loss/G_feature"]
        return total, (coll, {"Loss/G": total, **terms})

    grads, (coll, metrics) = jax.grad(loss_fn, has_aux=True)(g.params)
    metrics["Grad/G_norm"] = grad_norm(grads)
    g = update_net(spec.g_tx, g.replace(collections=coll), grads)
    return state.replace(nets={**state.nets, "G": g}), metrics


def srgan_phases(spec: SRSpec) -> tuple[Phase, ...]:
    """SRGAN's table: Dmain, then Gmain."""
    return (Phase("Dmain", functools.partial(d_main, spec)), Phase("Gmain", functools.partial(g_main, spec)))


def make_srgan_step(spec: SRSpec) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """The un-jitted step `(state, {"x": HR (1, B, H, W, C)}) -> (state, metrics)`: LR from HR, then the phases."""
    run = make_phase_step(srgan_phases(spec), n_disc=1)

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        return run(state, {**batch, "lr": downsample(batch["x"], spec.scale, spec.downsample)})

    return train_step


def init_state(spec: SRSpec, example_shape: tuple[int, int, int], seed: int) -> TrainState:
    """G, D and their optimizer states from `seed`, for HR examples of `example_shape`."""
    g_key, d_key, run_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    h, w, c = example_shape
    lr = jnp.zeros((1, h // spec.scale, w // spec.scale, c), jnp.float32)
    nets = {"G": init_net(spec.generator, spec.g_tx, g_key, lr),
            "D": init_net(spec.discriminator, spec.d_tx, d_key, jnp.zeros((1, h, w, c), jnp.float32))}
    return TrainState(step=jnp.zeros((), jnp.int32), rng=run_key, nets=nets)


def upscale(spec: SRSpec, state: TrainState, hr: jax.Array) -> dict[str, jax.Array]:
    """LR, bicubic and G's upsampling (inference mode) of HR images."""
    lr = downsample(hr, spec.scale, spec.downsample)
    sr = spec.generator.apply(state.nets["G"].variables(), lr, train=False)
    return {"lr": lr, "bicubic": bicubic_upsample(lr, spec.scale), "sr": sr}


def split_held_out(dataset: ImageDataset, count: int) -> tuple[ImageDataset, np.ndarray]:
    """(the training dataset, `count` held-out HR images in [-1, 1]): a fixed random subset, kept out of training."""
    n = dataset.num_examples
    if count >= n:
        raise ValueError(f"eval.num_images={count} would hold out all {n} images of data.name={dataset.name!r}; "
                         "lower it.")
    order = np.random.default_rng(HELD_OUT_SEED).permutation(n)
    held, kept = np.sort(order[:count]), np.sort(order[count:])
    train = subset(dataset, kept, f"srgan-train-without-{count}")
    return train, subset(dataset, held, f"srgan-held-out-{count}").all_images()


class SREvaluator:
    """`evaluator(state) -> eval/*`: PSNR, and FID when there is a classifier, of G and of bicubic upsampling."""

    def __init__(self, spec: SRSpec, held_out: np.ndarray, cfg: ml_collections.ConfigDict,
                 train: ImageDataset, extractor: Any = None):
        self.spec, self.held_out, self.batch_size, self.extractor = spec, held_out, cfg.batch_size, extractor
        self._upscale = jax.jit(functools.partial(upscale, spec))
        self.reference = self.fid_hr = None
        if extractor is not None:  # load or compute the reference before the first step
            self.reference, _ = dataset_reference_stats(train, extractor, cache_dir=cfg.cache_dir or
                                                        default_cache_dir(), batch_size=cfg.batch_size,
                                                        count=cfg.reference_samples)
            self.fid_hr = self.fid(self.held_out)

    def upscaled(self, state: TrainState, count: int | None = None) -> dict[str, np.ndarray]:
        """lr, bicubic and sr of the first `count` (default all) held-out images, `eval.batch_size` at a time."""
        images = self.held_out[:count]
        parts = [jax.device_get(self._upscale(state, images[i:i + self.batch_size]))
                 for i in range(0, len(images), self.batch_size)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def fid(self, images: np.ndarray) -> float:
        """Domain FID of images against the training images' reference statistics."""
        batches = (images[i:i + self.batch_size] for i in range(0, len(images), self.batch_size))
        return float(evaluate_batches(batches, extractor=self.extractor, reference_stats=self.reference,
                                      metrics=("fid",))["fid"])

    def __call__(self, state: TrainState) -> dict[str, float]:
        out = self.upscaled(state)
        values = {"eval/psnr": float(np.mean(psnr(out["sr"], self.held_out))),
                  "eval/psnr_bicubic": float(np.mean(psnr(out["bicubic"], self.held_out)))}
        if self.extractor is not None:
            values.update({"eval/fid": self.fid(out["sr"]), "eval/fid_bicubic": self.fid(out["bicubic"]),
                           "eval/fid_hr": self.fid_hr})
        return values


def sample_picture(evaluator: SREvaluator, state: TrainState) -> np.ndarray:
    """Rows of held-out images: LR (nearest-neighbour enlarged), bicubic, G's and the HR original."""
    out = evaluator.upscaled(state, NUM_SAMPLE_COLUMNS)
    scale = evaluator.spec.scale
    nearest = np.repeat(np.repeat(out["lr"], scale, axis=1), scale, axis=2)
    rows = [nearest, out["bicubic"], out["sr"], evaluator.held_out[:NUM_SAMPLE_COLUMNS]]
    return image_grid(np.concatenate(rows), cols=len(nearest))


@dataclasses.dataclass
class SRTask:
    """SRGAN as a `jaxgan.run.loop.Task`: one HR batch per step, held-out PSNR / FID and sample rows."""

    config: ml_collections.ConfigDict
    dataset: ImageDataset
    spec: SRSpec
    evaluator: SREvaluator
    eval_fn: loop.EvalFn | None = None  # replaces the evaluator's scores when given

    def __post_init__(self):
        self.example_axis, self.batches_per_step = 1, 1  # step batches are {"x": (1, B, H, W, C)}
        self.images_per_step = self.config.train.batch_size
        self.unroll = unroll_k_steps("srresnet")
        self.eval_protocol = None

    def initializer(self, mesh) -> Callable[[], TrainState]:
        init = functools.partial(init_state, self.spec, tuple(self.dataset.example_shape), self.config.seed)
        return jax.jit(init, out_shardings=replicated(mesh))

    def step(self) -> loop.StepFn:
        return data.with_decoded_batch(make_srgan_step(self.spec), flip=self.config.data.random_flip)

    def step_batches(self, start_batch: int) -> Iterator[dict]:
        batches = self.dataset.batches(self.config.train.batch_size, start_batch=start_batch,
                                       process_index=jax.process_index(), process_count=jax.process_count())
        return data.stack_batches(batches, 1)

    def evaluate(self, state: TrainState, step: int) -> dict[str, float]:
        return self.eval_fn(state, step) if self.eval_fn is not None else self.evaluator(state)

    def samples(self, state: TrainState, step: int) -> np.ndarray:
        return sample_picture(self.evaluator, state)

    def run_meta(self, step: int, data_batches: int) -> dict[str, Any]:
        return {"step": int(step), "objective": "srgan", "data_batches": int(data_batches),
                "example_shape": list(self.dataset.example_shape),
                "config": json.loads(self.config.to_json_best_effort())}

    def progress_postfix(self, metrics: dict[str, float]) -> dict[str, float]:
        return loop.gan_postfix(metrics)

    def close(self) -> None:
        pass


def build_spec(config: ml_collections.ConfigDict, example_shape: tuple[int, ...], extractor: Any = None) -> SRSpec:
    """The networks, optimizers and loss weights of `config` for HR examples of `example_shape`."""
    s = config.srgan
    g, d = srresnet.build(config.model, s.scale, example_shape[-1])
    tx = {net: optim.build_optimizer(config.optim[net], config.train.num_steps) for net in ("g", "d")}
    features = (lambda x: extractor.features(x)[0]) if extractor is not None else None
    return SRSpec(g, d, tx["g"], tx["d"], s.scale, s.downsample, s.pixel_loss, s.pixel_weight, s.adv_weight,
                  s.feature_weight, features)


def build(config: ml_collections.ConfigDict, eval_fn: loop.EvalFn | None = None) -> SRTask:
    """The HR data (less the held-out images), networks and evaluation `config` describes."""
    full = data.build_dataset(config.data, seed=config.seed)
    if not isinstance(full, ImageDataset):
        raise ValueError(f"srgan upsamples images, but data.name={config.data.name!r} is 2-D points; use an image "
                         "dataset (digits, tfds, folder, npz, prepared).")
    h, w, _ = full.example_shape
    if h % config.srgan.scale or w % config.srgan.scale:
        raise ValueError(f"HR images of {h}x{w} do not divide by srgan.scale={config.srgan.scale}; set "
                         f"data.image_size to a multiple of {config.srgan.scale}.")
    train, held_out = split_held_out(full, config.eval.num_images)
    extractor = load_extractor("digits", classifier=config.eval.classifier) if config.eval.classifier else None
    spec = build_spec(config, train.example_shape, extractor)
    scored = extractor if config.train.eval_every and eval_fn is None else None  # FID's reference: only when used
    return SRTask(config, train, spec, SREvaluator(spec, held_out, config.eval, train, scored), eval_fn)


class SRGANObjective:
    """SRGAN as a `jaxgan.objectives` entry: its config, checks, task and restore target."""

    name = "srgan"

    def default_config(self) -> ml_collections.ConfigDict:
        return default_config()

    def validate(self, config: ml_collections.ConfigDict) -> None:
        validate(config)

    def build(self, config: ml_collections.ConfigDict, eval_fn: loop.EvalFn | None = None) -> SRTask:
        return build(config, eval_fn)

    def restore_target(self, config: ml_collections.ConfigDict, meta: dict[str, Any]
                       ) -> tuple[SRSpec, Callable[[], TrainState]]:
        """(the networks, a `() -> state` of the saved run's HR shape), without reading the data."""
        shape = tuple(meta["example_shape"])
        spec = build_spec(config, shape)
        return spec, functools.partial(init_state, spec, shape, config.seed)


OBJECTIVE = SRGANObjective()
