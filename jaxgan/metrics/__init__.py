"""GAN evaluation: FID, KID, IS, precision/recall, mode coverage, and their feature extractors.

Each metric registers itself (`jaxgan.metrics.registry.register_metric`); the evaluators look them up by name.
"""

from jaxgan.metrics.classifier import DigitClassifier, DigitsExtractor, load_digits_images
from jaxgan.metrics.evaluator import (
    cached_reference_stats,
    compute_reference_stats,
    evaluate_batches,
    evaluate_mixture_samples,
    evaluate_samples,
)
from jaxgan.metrics.extractors import Extractor, InceptionExtractor, load_inception_variables
from jaxgan.metrics.frechet import (
    frechet_distance,
    frechet_distance_device,
    frechet_distance_from_features,
)
from jaxgan.metrics.inception import FIDInceptionV3
from jaxgan.metrics.inception_score import inception_score
from jaxgan.metrics.kid import kernel_inception_distance
from jaxgan.metrics.mode_coverage import mode_coverage
from jaxgan.metrics.precision_recall import precision_recall
from jaxgan.metrics.registry import (
    Metric,
    MetricInputs,
    default_metrics,
    get_metrics,
    register_metric,
    registered_metrics,
)
from jaxgan.metrics.stats import (
    FeatureStats,
    ReferenceStats,
    cache_key,
    load_reference_stats,
    reference_stats_path,
    save_reference_stats,
)

__all__ = [
    "Metric",
    "MetricInputs",
    "DigitClassifier",
    "DigitsExtractor",
    "Extractor",
    "FIDInceptionV3",
    "FeatureStats",
    "InceptionExtractor",
    "ReferenceStats",
    "cache_key",
    "cached_reference_stats",
    "compute_reference_stats",
    "default_metrics",
    "evaluate_batches",
    "evaluate_mixture_samples",
    "evaluate_samples",
    "frechet_distance",
    "frechet_distance_device",
    "frechet_distance_from_features",
    "get_metrics",
    "inception_score",
    "kernel_inception_distance",
    "load_digits_images",
    "load_inception_variables",
    "load_reference_stats",
    "mode_coverage",
    "precision_recall",
    "reference_stats_path",
    "register_metric",
    "registered_metrics",
    "save_reference_stats",
]
