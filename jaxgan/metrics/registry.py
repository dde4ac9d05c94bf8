"""The metric registry: each metric registers its name, result keys, their directions, what it needs and its compute.

A new metric is one file with one decorated function; the in-training evaluator (`eval.metrics`) and
`jaxgan evaluate --metrics` find it by name:

    @register_metric("mean_norm", keys={"mean_norm": "min"}, needs=("features",))
    def mean_norm(inputs: MetricInputs) -> dict[str, float]:
        return {"mean_norm": float(np.linalg.norm(inputs.features, axis=1).mean())}

A metric outside jaxgan is registered by importing its module: `eval.metric_modules=("mypkg.mean_norm",)` in a
config, `--metric-module mypkg.mean_norm` for `jaxgan evaluate`. The compute function's keyword-only arguments are
its options (their defaults apply unless the config's eval block or the caller sets them by the same name), e.g.
KID's `kid_subset_size`. Every image metric gets the streaming statistics of the generated features (mean and
covariance) and the reference statistics; what else it gets is what it declares in `needs` (`NEEDS`).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

DIRECTIONS = ("min", "max", None)  # lower is better, higher is better, neither (a spread such as a std)
NEEDS = {
    "features": "the generated samples' pool features, (N, D)",
    "logits": "the generated samples' class logits, (N, K)",
    "reference_features": "the reference set's pool features (statistics saved with them)",
    "points": "the generated 2-D points and the mixture's mode centres and std (ring8, grid25)",
}
Compute = Callable[..., dict[str, float]]  # compute(inputs: MetricInputs, *, option=default, ...) -> {key: value}
# The metric modules that ship with jaxgan, imported before the registry is first read.
BUILTIN_MODULES = ("frechet", "kid", "inception_score", "precision_recall", "mode_coverage")


@dataclasses.dataclass(frozen=True)
class MetricInputs:
    """What a metric's compute function is given; the fields its `needs` do not name may be None."""

    stats: Any = None  # FeatureStats of the generated features (images)
    reference: Any = None  # ReferenceStats: mu, sigma, count and (if kept) features (images)
    features: np.ndarray | None = None
    logits: np.ndarray | None = None
    points: np.ndarray | None = None
    centres: np.ndarray | None = None
    std: Any = None
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Metric:
    """One registered metric: `compute(inputs, **options) -> {key: value}` returns at least `keys`."""

    name: str
    keys: Mapping[str, str | None]  # result key -> "min" | "max" | None, in logging order
    needs: frozenset[str]
    compute: Compute
    options: Mapping[str, Any]  # keyword-only arguments of compute -> their defaults
    check: Callable[..., None] | None = None  # check(num_generated, reference, **options): fail before sampling
    describe: Callable[[Any], dict[str, str]] | None = None  # describe(extractor): entries for the eval protocol
    default: bool = False  # computed by `jaxgan evaluate` when --metrics is not given

    @property
    def kind(self) -> str:
        """`points` for a 2-D mixture metric, `images` for a feature metric."""
        return "points" if "points" in self.needs else "images"

    def run(self, inputs: MetricInputs, options: Mapping[str, Any]) -> dict[str, float]:
        """compute() with this metric's options taken from `options` (their defaults otherwise)."""
        result = self.compute(inputs, **self.chosen_options(options))
        missing = [key for key in self.keys if key not in result]
        if missing:
            raise ValueError(f"metric {self.name!r} declares result keys {list(self.keys)} but returned no "
                             f"{missing}; return them from {self.compute.__qualname__} or change its keys.")
        return result

    def chosen_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """This metric's options: the value in `options` when given, else the compute function's default."""
        return {name: options.get(name, default) for name, default in self.options.items()}


_REGISTRY: dict[str, Metric] = {}
_builtins_loaded = False


def register_metric(name: str, *, keys: Mapping[str, str | None], needs: Iterable[str] = (),
                    check: Callable[..., None] | None = None, describe: Callable[[Any], dict[str, str]] | None = None,
                    default: bool = False) -> Callable[[Compute], Compute]:
    """Decorator: register `compute(inputs: MetricInputs, *, option=default, ...) -> {key: value}` as `name`."""
    needs = frozenset(needs)
    unknown = sorted(needs - set(NEEDS))
    if unknown:
        raise ValueError(f"metric {name!r} needs unknown inputs {unknown}; choose from {sorted(NEEDS)}.")
    wrong = {key: d for key, d in keys.items() if d not in DIRECTIONS}
    if not keys or wrong:
        raise ValueError(f"metric {name!r} must name its result keys with a direction 'min', 'max' or None; "
                         f"got {dict(keys)}.")

    def register(compute: Compute) -> Compute:
        if name in _REGISTRY and not _same_function(_REGISTRY[name].compute, compute):  # a re-run file replaces
            raise ValueError(f"metric {name!r} is registered twice (by {_REGISTRY[name].compute.__module__} and "
                             f"{compute.__module__}); give the new one another name.")
        _REGISTRY[name] = Metric(name, dict(keys), needs, compute, _keyword_defaults(compute), check, describe,
                                 default)
        return compute

    return register


def _same_function(old: Compute, new: Compute) -> bool:
    """Whether `new` is `old` defined again (its module run twice, e.g. a config file loaded again)."""
    return (old.__module__, old.__qualname__) == (new.__module__, new.__qualname__)


def unregister_metric(name: str) -> None:
    """Remove a registered metric (e.g. one a notebook cell or a test registered and means to redefine)."""
    _REGISTRY.pop(name, None)


def _keyword_defaults(compute: Callable[..., Any]) -> dict[str, Any]:
    """The keyword-only arguments of `compute` and their defaults: the metric's options."""
    params = inspect.signature(compute).parameters.values()
    missing = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if missing:
        raise ValueError(f"metric option(s) {missing} of {compute.__qualname__} need a default.")
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


def _load_builtins() -> None:
    """Import jaxgan's own metric modules once, so that their metrics are registered before any lookup."""
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(f"jaxgan.metrics.{module}")


def registered_metrics() -> dict[str, Metric]:
    """Every registered metric by name: jaxgan's own in BUILTIN_MODULES order, then the others as registered."""
    _load_builtins()
    modules = [f"jaxgan.metrics.{module}" for module in BUILTIN_MODULES]
    rank = {name: i for i, name in enumerate(_REGISTRY)}

    def order(name: str) -> tuple[int, int]:
        module = _REGISTRY[name].compute.__module__
        return (modules.index(module) if module in modules else len(modules), rank[name])

    return {name: _REGISTRY[name] for name in sorted(_REGISTRY, key=order)}


def default_metrics() -> tuple[str, ...]:
    """The metrics `jaxgan evaluate` computes when none is named."""
    return tuple(name for name, metric in registered_metrics().items() if metric.default)


def get_metrics(names: Sequence[str], where: str = "metrics") -> tuple[Metric, ...]:
    """The registered metrics called `names`; ValueError naming the unknown ones and the registered names."""
    registry = registered_metrics()
    unknown = sorted(set(names) - set(registry))
    if unknown:
        raise ValueError(f"{where} has unknown {unknown}; choose from {sorted(registry)}.")
    return tuple(registry[name] for name in names)


def result_keys(names: Sequence[str]) -> list[str]:
    """The result keys of the metrics called `names`, in order."""
    return [key for metric in get_metrics(names) for key in metric.keys]


def key_direction(key: str) -> str | None:
    """'min' or 'max' when a registered metric declares result `key` lower or higher is better, else None."""
    for metric in registered_metrics().values():
        if key in metric.keys:
            return metric.keys[key]
    return None


def check_options(options: Mapping[str, Any]) -> None:
    """Raise ValueError for an option that no registered metric takes (a misspelt one would be silently unused)."""
    known = {name for metric in registered_metrics().values() for name in metric.options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown metric options {unknown}; the registered metrics take {sorted(known)}.")


def import_metric_modules(modules: Iterable[str], where: str = "metric modules") -> None:
    """Import each module (a dotted name) so that the metrics it defines register themselves."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(f"{where}: cannot import {module!r} ({error}); give a module importable from "
                             "PYTHONPATH that defines @register_metric functions.") from error
