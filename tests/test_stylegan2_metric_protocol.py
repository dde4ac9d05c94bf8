"""StyleGAN2's metrics and fake labels as the reference computes them: evaluation samples draw random per-layer noise
(keyed by the eval seed), and a conditional G's evaluation and training labels follow the training set's classes."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_stylegan2_train import tiny_config

from jaxgan.data.label_distribution import class_probabilities, draw_labels
from jaxgan.data.sources import array_source
from jaxgan.engine.phases import KeyStreams
from jaxgan.engine.state import create_state
from jaxgan.metrics.training_eval import TrainingEvaluator
from jaxgan.objectives.factory import build_gan
from jaxgan.objectives.stylegan2 import stylegan2_spec
from jaxgan.objectives.stylegan2_phases import d_main, g_main, g_reg, initial_aux
from jaxgan.sampling.generate import evaluation_noise_key, make_batched_generate, make_sample_fn, random_inputs

SHAPE, SHARES = (8, 8, 1), (0.9, 0.1)


def conditional_gan():
    """A tiny two-class StyleGAN2 and its state, every layer's noise strength 1 (at init it is 0: no noise)."""
    config = tiny_config()
    config.model.g_cond, config.model.d_cond = "embed", "projection"
    gan = build_gan(config, SHAPE, 2)
    state = create_state(gan, SHAPE, 0, ema=False, aux=initial_aux())
    params = jax.tree_util.tree_map_with_path(
        lambda path, p: jnp.ones_like(p) if "noise_strength" in jax.tree_util.keystr(path) else p,
        state.nets["G"].params)
    return config, gan, state.with_nets(G=state.nets["G"].replace(params=params))


def ninety_ten_dataset():
    """A dataset object whose 100 labels are 90 of class 0 and 10 of class 1."""
    labels = np.array([0] * 90 + [1] * 10, np.int32)
    source = array_source("ninety_ten", np.zeros((100, *SHAPE), np.uint8), labels, (0.0, 255.0))
    return types.SimpleNamespace(source=source, num_classes=2)


def test_evaluation_samples_draw_random_noise_keyed_by_the_eval_key():
    _, gan, state = conditional_gan()
    variables, generate = state.nets["G"].variables(), make_batched_generate(gan, 4)
    z, labels = random_inputs(gan, jax.random.PRNGKey(0), 6)
    const = np.asarray(generate(variables, z, labels))  # no key: the constant noise (sample grids)
    np.testing.assert_array_equal(const, np.asarray(generate(variables, z, labels)))
    k1, k2 = evaluation_noise_key(jax.random.PRNGKey(1)), evaluation_noise_key(jax.random.PRNGKey(2))
    one, again, two = (np.asarray(generate(variables, z, labels, noise_key=k)) for k in (k1, k1, k2))
    np.testing.assert_array_equal(one, again)  # deterministic per key
    assert np.abs(one - two).max() > 1e-3 and np.abs(one - const).max() > 1e-3  # same z, other noise
    # The evaluation's sample_fn draws the noise from its key: the same key gives the same images, not const ones.
    sample_fn = make_sample_fn(gan, variables, 4)
    key = jax.random.PRNGKey(3)
    z, labels = random_inputs(gan, key, 6)
    want = np.asarray(generate(variables, z, labels, noise_key=evaluation_noise_key(key)))
    np.testing.assert_array_equal(sample_fn(key, 6), want)
    assert np.abs(want - np.asarray(generate(variables, z, labels))).max() > 1e-3


def evaluator_samples(gan, state, label_probs, n):
    """(z, labels, noise_key) the trainer's evaluator hands G for n samples (its metrics replaced by a probe)."""
    seen = {}
    evaluator = TrainingEvaluator.__new__(TrainingEvaluator)
    evaluator.gan, evaluator.cfg, evaluator.label_probs = gan, types.SimpleNamespace(drs=False), label_probs
    evaluator._generate = lambda variables, z, labels, noise_key=None: seen.update(z=z, labels=labels, key=noise_key)
    evaluator._metrics = lambda sample_fn: sample_fn(jax.random.PRNGKey(7), n) or {}
    evaluator(state, 0)
    return seen


def test_the_trainers_evaluation_keys_the_noise_and_draws_labels_from_the_datasets_classes():
    _, gan, state = conditional_gan()
    probs = class_probabilities(ninety_ten_dataset())
    assert probs == pytest.approx(SHARES)
    seen = evaluator_samples(gan, state, probs, 4000)
    np.testing.assert_array_equal(np.asarray(seen["key"]), np.asarray(evaluation_noise_key(jax.random.PRNGKey(7))))
    share = float(np.mean(np.asarray(seen["labels"]) == 1))
    assert abs(share - 0.1) < 0.02  # 4000 draws: sd 0.005; uniform labels would give 0.5


def test_training_fakes_draw_labels_from_the_datasets_classes_not_the_real_batchs():
    config, gan, state = conditional_gan()
    spec = stylegan2_spec(config, gan, class_probabilities(ninety_ten_dataset()))
    assert spec.label_probs == pytest.approx(SHARES)
    labels = draw_labels(jax.random.PRNGKey(0), 4000, spec.label_probs)
    assert abs(float(jnp.mean(labels == 1)) - 0.1) < 0.02
    real_labels = jnp.ones((1, 8), jnp.int32)  # the real batch is all class 1, which fakes draw 10% of the time
    for phase in (g_main, g_reg, d_main):
        seen = spy_on_gs_labels(phase, spec, state, {"x": jnp.zeros((1, 8, *SHAPE)), "label": real_labels})
        assert seen.shape[0] in (4, 8) and np.mean(seen == 0) >= 0.5, phase.__name__


class SeenLabelsError(Exception):
    """Raised by the spy once it has G's labels: the rest of the phase need not run."""


def spy_on_gs_labels(phase, spec, state, batch):
    """The labels `phase` first hands G's mapping (run_g or mapped_ws), without running the rest of the phase."""
    import jaxgan.objectives.stylegan2_phases as phases

    def spy(spec_, net, params, z, labels, keys):
        raise SeenLabelsError(np.asarray(labels))

    real = phases.run_g, phases.mapped_ws
    phases.run_g = phases.mapped_ws = spy
    try:
        phase(spec, state, batch, KeyStreams(jax.random.PRNGKey(5)))
    except SeenLabelsError as seen:
        return seen.args[0]
    finally:
        phases.run_g, phases.mapped_ws = real
    raise AssertionError(f"{phase.__name__} never ran G")


def test_class_shares_of_a_source_without_a_label_array_are_read_through_its_reader():
    labels = np.array([1] * 10 + [0] * 90, np.int32)
    read = lambda indices: (np.zeros((len(indices), *SHAPE), np.uint8), labels[indices])  # as a tfds reader
    dataset = types.SimpleNamespace(source=types.SimpleNamespace(read=read, num_examples=100), num_classes=2)
    assert class_probabilities(dataset) == pytest.approx(SHARES)
    assert class_probabilities(types.SimpleNamespace(num_classes=None)) is None  # unlabelled (e.g. the mixtures)
