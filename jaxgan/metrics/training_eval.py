"""The evaluation the trainer runs every `train.eval_every` steps, built from the config's `eval` block.

Each evaluation draws `eval.num_samples` samples from G (its EMA params when present, BatchNorm in inference mode)
with the same seed every time, so the numbers of two steps differ only because G did. As StyleGAN2-ADA's metrics, a
conditional G's labels follow the training set's class shares and G's per-layer noise (StyleGAN2) is random, keyed
by that seed (`sampling.evaluation_noise_key`). Image data gets the registered feature
metrics (`jaxgan.metrics.registry`: fid, kid, is, pr and any that `eval.metric_modules` register) with a digit
classifier or the FID Inception; the 2-D mixtures get the point metrics (modes). Results are logged as
`eval/<key>` and `train.best_metric` ranks checkpoints by one of them, in the direction its metric declares.

Reference statistics come from `eval.reference` (a statistics file, e.g. pytorch-fid's), or are computed once from the
training data and cached under `eval.cache_dir` (`jaxgan.metrics.reference_sets`: keyed by the data's content, the
subset size and the extractor's protocol id, the same cache `jaxgan evaluate --ref-dataset` reads).
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections

from jaxgan.data.label_distribution import class_probabilities
from jaxgan.data.pipeline import Dataset
from jaxgan.engine.state import GAN, TrainState
from jaxgan.metrics import registry
from jaxgan.metrics.evaluator import check_request, evaluate_mixture_samples, evaluate_samples
from jaxgan.metrics.extractors import EXTRACTORS, check_reference_extractor, load_extractor
from jaxgan.metrics.mode_coverage import DEFAULT_MIN_COUNT
from jaxgan.metrics.protocol import RESIZE_MODES, eval_protocol, protocol_id
from jaxgan.metrics.reference_sets import dataset_reference_stats
from jaxgan.metrics.stats import ReferenceStats, default_cache_dir, load_reference_stats
from jaxgan.sampling.drs import (
    DRS_BURN_IN_STREAM,
    DRS_FINETUNE_BATCH,
    RejectionSampler,
    check_drs_config,
    check_drs_settings,
    drs_networks,
    gan_proposer,
    make_training_mode_discriminate,
)
from jaxgan.sampling.generate import evaluation_noise_key, generator_variables, make_batched_generate, random_inputs

PREFIX = "eval/"


def default_config() -> ml_collections.ConfigDict:
    """The `eval` block: what the trainer computes every train.eval_every steps."""
    return ml_collections.ConfigDict(dict(
        metrics=(),          # registered metrics: fid, kid, is, pr (images), modes (ring8 / grid25), ...; () = none
        metric_modules=(),   # modules to import first, whose @register_metric metrics eval.metrics may then name
        num_samples=5000,    # generated samples per evaluation, always from the same seed
        batch_size=250,      # samples per G / extractor call
        seed=0,              # seed of the evaluation latents (fixed: steps are compared on the same z)
        extractor="digits",  # digits (`jaxgan train-classifier`) | inception (`jaxgan convert-inception`)
        classifier="",       # digit classifier .npz, for extractor=digits
        inception_weights="",  # FID Inception .npz, for extractor=inception ("" = pytorch-fid's, downloaded once)
        resize="legacy",     # inception's resize to 299: legacy (pytorch-fid, bilinear) | clean (clean-fid, bicubic)
        reference="",        # reference statistics .npz; "" = compute them from the training data (cached)
        reference_samples=10_000,  # training examples the computed reference uses (>= the data's size: all of them)
        cache_dir="",        # cache of computed reference statistics ("" = jaxgan's cache dir/ref_stats)
        kid_subsets=100,     # KID: number of subsets
        kid_subset_size=1000,  # KID: subset size (num_samples and the reference need at least this many)
        is_splits=10,        # IS: splits
        pr_k=3,              # precision/recall: k of the k-NN radii
        mode_min_count=DEFAULT_MIN_COUNT,  # modes: high-quality samples a mode needs to count as captured
        drs=False,           # also score samples kept by discriminator rejection sampling (Azadi et al. 2019)
        drs_percentile=95.0,  # DRS gamma: this percentile of the burn-in set's F (0 = no shift)
        drs_burn_in=10_000,  # the fixed proposal set that gives D_M (its largest logit) and gamma
        drs_generator="live",  # G whose samples DRS thins: live (the G that D trained against) | ema (G's EMA)
        drs_finetune_steps=0,  # D's extra BCE steps against that G (G fixed) before DRS; 0 = D as trained
    ))


def result_keys(metrics: tuple[str, ...]) -> list[str]:
    """The `eval/...` names that `metrics` log, in order."""
    return [PREFIX + key for key in registry.result_keys(metrics)]


def chosen_metrics(cfg: ml_collections.ConfigDict) -> tuple[registry.Metric, ...]:
    """The registered metrics eval.metrics names (after importing eval.metric_modules); one line for unknown ones."""
    registry.import_metric_modules(cfg.get("metric_modules", ()), "eval.metric_modules")
    return registry.get_metrics(tuple(cfg.metrics), "eval.metrics")


def metric_options(cfg: ml_collections.ConfigDict, metrics: tuple[registry.Metric, ...]) -> dict[str, Any]:
    """The options of `metrics` that the eval block sets (e.g. eval.kid_subset_size); the others keep defaults."""
    return {name: cfg[name] for metric in metrics for name in metric.options if name in cfg}


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the key when the eval block, or train.best_metric against it, is wrong."""
    cfg, train = config.eval, config.train
    metrics = tuple(cfg.metrics)
    kinds: dict[str, list[str]] = {}
    for metric in chosen_metrics(cfg):
        kinds.setdefault(metric.kind, []).append(metric.name)
    if len(kinds) > 1:
        raise ValueError(f"eval.metrics={metrics} mixes {', '.join(kinds['points'])} (2-D mixtures) with image "
                         f"metrics ({', '.join(kinds['images'])}); pick one kind.")
    if cfg.extractor not in EXTRACTORS:
        raise ValueError(f"Unknown eval.extractor {cfg.extractor!r}; choose one of {list(EXTRACTORS)}.")
    if cfg.resize not in RESIZE_MODES:
        raise ValueError(f"Unknown eval.resize {cfg.resize!r}; choose one of {list(RESIZE_MODES)}.")
    for key in ("num_samples", "batch_size", "reference_samples", "kid_subsets", "kid_subset_size", "is_splits",
                "pr_k", "mode_min_count", "drs_burn_in"):
        if cfg[key] < 1:
            raise ValueError(f"eval.{key} must be >= 1, got {cfg[key]}.")
    _validate_drs(config)
    if not metrics or not train.best_metric:
        return  # a caller-supplied eval_fn names its own metrics; the trainer checks them when they arrive
    produced = result_keys(metrics)
    if train.best_metric not in produced:
        raise ValueError(f"train.best_metric={train.best_metric!r} is not logged by eval.metrics={metrics}; "
                         f"choose one of {produced}.")
    better = registry.key_direction(train.best_metric[len(PREFIX):])
    if better is not None and better != train.best_mode:
        word = "higher" if better == "max" else "lower"
        raise ValueError(f"train.best_metric={train.best_metric!r} is better when {word}, but "
                         f"train.best_mode={train.best_mode!r}; set train.best_mode={better!r}.")


def _validate_drs(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError for DRS settings that cannot work (out of range, or a D whose logit is not a density ratio)."""
    check_drs_settings(config.eval)
    if config.eval.drs:
        check_drs_config(config)


class TrainingEvaluator:
    """`evaluator(state, step) -> {"eval/fid": ..., ...}`: the trainer's eval_fn, built once per run.

    Construction loads the extractor and the reference statistics (computing and caching them if needed), so a
    missing weights file or a wrong metric stops the run before its first step, not at its first evaluation.
    Sampling and featurising run on one local device of each process (every process computes the same numbers).
    """

    def __init__(self, config: ml_collections.ConfigDict, gan: GAN, dataset: Dataset):
        cfg = config.eval
        self.cfg, self.gan, self.dataset = cfg, gan, dataset
        self.metrics = tuple(cfg.metrics)
        if not self.metrics:
            raise ValueError("train.eval_every > 0 but eval.metrics is empty: set eval.metrics (e.g. ('fid',) for "
                             "images, ('modes',) for ring8/grid25) or train.eval_every=0.")
        chosen = chosen_metrics(cfg)
        self.options = metric_options(cfg, chosen)
        kinds = {metric.kind for metric in chosen}
        self._generate = make_batched_generate(gan, cfg.batch_size)
        self._discriminate = make_training_mode_discriminate(gan, config.train.batch_size)
        self._drs_batch_size = config.train.batch_size
        self.label_probs = class_probabilities(dataset) if gan.num_classes is not None else None
        if dataset.kind == "points":
            if kinds != {"points"}:
                raise ValueError(f"data.name={dataset.name!r} is a 2-D mixture: its in-training metrics are the "
                                 f"point metrics (eval.metrics=('modes',)), not {self.metrics}.")
            self.extractor = self.reference = None
            self.protocol = {"extractor": "none", "metrics": list(self.metrics), "num_generated": cfg.num_samples,
                             "reference": f"the {dataset.name} mixture's modes"}
            return
        if "points" in kinds:
            raise ValueError(f"eval.metrics={self.metrics} needs a 2-D mixture (ring8, grid25), not data.name="
                             f"{dataset.name!r}; use image metrics such as fid, kid, is or pr.")
        if config.model.output_activation == "linear":
            raise ValueError("image metrics need G's images in [-1, 1], but model.output_activation='linear'; "
                             "use tanh or sigmoid.")
        self.extractor = load_extractor(cfg.extractor, classifier=cfg.classifier,
                                        inception_weights=cfg.inception_weights, resize=cfg.resize)
        self.reference, source = self._reference_stats(config)
        check_request(self.metrics, self.reference, num_generated=cfg.num_samples, **self.options)  # before step 1
        self.protocol = eval_protocol(self.extractor, num_generated=cfg.num_samples,
                                      num_reference=self.reference.count, reference=source, metrics=self.metrics)

    def _reference_stats(self, config: ml_collections.ConfigDict) -> tuple[ReferenceStats, str]:
        """(reference, its source): `eval.reference` when given, else computed from the training data (cached)."""
        cfg = self.cfg
        wanted = protocol_id(self.extractor.weights_id, self.extractor.resize)
        if cfg.reference:
            stats = load_reference_stats(cfg.reference)
            check_reference_extractor(stats.key.get("extractor"), wanted, f"eval.reference={cfg.reference!r}")
            return stats, str(cfg.reference)
        stats, described = dataset_reference_stats(self.dataset, self.extractor, batch_size=cfg.batch_size,
                                                   cache_dir=cfg.cache_dir or default_cache_dir(),
                                                   count=cfg.reference_samples)
        return stats, f"training data {described}"

    def __call__(self, state: TrainState, step: int) -> dict[str, float]:
        """The metrics of G in `state`, as {"eval/<name>": value}; with eval.drs, those of DRS's samples, and G's
        own as eval/no_drs/<name>."""
        state = jax.tree.map(_local, state)
        variables = generator_variables(state, self.gan)

        def sample_fn(key: jax.Array, n: int) -> jax.Array:
            z, labels = random_inputs(self.gan, key, n, self.label_probs)
            return self._generate(variables, z, labels, noise_key=evaluation_noise_key(key))

        result = self._metrics(sample_fn)
        if not self.cfg.drs:
            return result
        sampler = self._rejection_sampler(*drs_networks(self.cfg, self.gan, state, self._drs_real_batches))
        drs_result = self._metrics(sampler)
        return {**drs_result, **{PREFIX + "no_drs/" + k[len(PREFIX):]: v for k, v in result.items()},
                PREFIX + "drs_acceptance": sampler.acceptance_rate}

    def _rejection_sampler(self, g_variables: dict, d_variables: dict) -> RejectionSampler:
        """DRS over G's samples, judged by D in training mode; its burn-in key is fixed by eval.seed."""
        cfg = self.cfg
        propose = gan_proposer(self.gan, self._generate, self._discriminate, g_variables, d_variables, self.label_probs)
        burn_in_key = jax.random.fold_in(jax.random.key(cfg.seed), DRS_BURN_IN_STREAM)
        return RejectionSampler(propose, burn_in_key, cfg.drs_burn_in, cfg.drs_percentile, self._drs_batch_size)

    def _drs_real_batches(self):
        """Real training-size batches for DRS's fine-tuning of D, from a stream training never reaches."""
        return self.dataset.batches(self._drs_batch_size, start_batch=DRS_FINETUNE_BATCH)

    def _metrics(self, sample_fn) -> dict[str, float]:
        """eval.metrics of `sample_fn(key, n)`'s samples, as {"eval/<name>": value}."""
        cfg = self.cfg
        common = dict(num_samples=cfg.num_samples, batch_size=cfg.batch_size, seed=cfg.seed)
        if self.reference is None:
            result = evaluate_mixture_samples(sample_fn, centres=self.dataset.modes, std=self.dataset.mode_std,
                                              metrics=self.metrics, **self.options, **common)
        else:
            result = evaluate_samples(sample_fn, extractor=self.extractor, reference_stats=self.reference,
                                      metrics=self.metrics, **self.options, **common)
        return {key: float(result[key[len(PREFIX):]]) for key in result_keys(self.metrics)}


def _local(x: Any) -> Any:
    """This process's copy of a replicated array, on one local device (sampling needs no other device)."""
    return x.addressable_data(0) if isinstance(x, jax.Array) else x


def build_eval_fn(config: ml_collections.ConfigDict, gan: GAN, dataset: Dataset) -> TrainingEvaluator | None:
    """The trainer's eval_fn from the config: None when train.eval_every is 0."""
    if not config.train.eval_every:
        return None
    return TrainingEvaluator(config, gan, dataset)
