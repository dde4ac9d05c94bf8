"""Discriminator rejection sampling: hand-computed acceptance, exact rejection sampling with a known density ratio,
and DRS in the trainer's evaluation."""

import jax
import numpy as np
import pytest

from jaxgan.config import base_config, validate
from jaxgan.data import build_dataset
from jaxgan.drs import RejectionSampler, acceptance_probability, drs_scores, percentile_gamma
from jaxgan.errors import JaxganError
from jaxgan.factory import build_gan
from jaxgan.state import create_state
from jaxgan.training_eval import TrainingEvaluator


def test_acceptance_is_rejection_sampling_at_gamma_zero():
    # With gamma = 0 and eps = 0, sigmoid(F) = sigmoid(logit(exp(D - D_M))) = exp(D - D_M): keep x with probability
    # p_data / (M p_G). D - D_M = log 0.25 gives 0.25; D = D_M gives 1.
    logits = np.log([0.25, 0.5])
    np.testing.assert_allclose(acceptance_probability(logits, 0.0, eps=0.0), [0.25, 0.5], rtol=1e-12)
    assert acceptance_probability(np.array([0.0]), 0.0)[0] > 0.999  # eps keeps F finite at D = D_M


def test_gamma_shifts_the_logit_of_acceptance():
    # D - D_M = log 0.25: F = log 0.25 - log 0.75 = -log 3; gamma = -log 3 puts it at sigmoid(0) = 1/2, and
    # gamma = log 3 at sigmoid(-2 log 3) = 1 / (1 + 9).
    logits = np.array([np.log(0.25)])
    np.testing.assert_allclose(drs_scores(logits, 0.0, eps=0.0), [-np.log(3.0)], rtol=1e-12)
    np.testing.assert_allclose(acceptance_probability(logits, 0.0, gamma=-np.log(3.0), eps=0.0), [0.5], rtol=1e-12)
    np.testing.assert_allclose(acceptance_probability(logits, 0.0, gamma=np.log(3.0), eps=0.0), [0.1], rtol=1e-12)


def test_percentile_gamma():
    scores = np.arange(101.0)
    assert percentile_gamma(scores, 95.0) == pytest.approx(95.0)
    assert percentile_gamma(scores, 0.0) == 0.0  # 0 = no shift


def _gaussian_proposer(proposal_std: float):
    """Proposals N(0, proposal_std^2) whose 'D' is the exact log density ratio to the target N(0, 1)."""

    def propose(key, n):
        x = proposal_std * np.asarray(jax.random.normal(key, (n,)), np.float64)
        log_ratio = -0.5 * x**2 + 0.5 * (x / proposal_std) ** 2 + np.log(proposal_std)
        return x, log_ratio

    return propose


def test_exact_density_ratio_recovers_the_target():
    # Rejection sampling N(0, 2^2) with the exact ratio to N(0, 1) must give N(0, 1): std 1, not 2, and a kurtosis of
    # 3. A flipped logit sign (keeping the tails) gives std > 2.
    sampler = RejectionSampler(_gaussian_proposer(2.0), jax.random.key(1), burn_in=20_000, percentile=0.0)
    samples = np.concatenate([sampler(jax.random.fold_in(jax.random.key(2), i), 5000) for i in range(4)])
    assert samples.shape == (20_000,)
    assert np.std(samples) == pytest.approx(1.0, abs=0.03)
    assert np.mean(samples**4) / np.var(samples) ** 2 == pytest.approx(3.0, abs=0.2)
    assert sampler.acceptance_rate == pytest.approx(0.5, abs=0.03)  # 1 / M with M = max ratio = 2


def test_a_higher_percentile_keeps_fewer_and_better_samples():
    plain = RejectionSampler(_gaussian_proposer(2.0), jax.random.key(1), burn_in=5000, percentile=0.0)
    strict = RejectionSampler(_gaussian_proposer(2.0), jax.random.key(1), burn_in=5000, percentile=95.0)
    x_plain, x_strict = plain(jax.random.key(3), 5000), strict(jax.random.key(3), 5000)
    assert strict.acceptance_rate < plain.acceptance_rate
    assert np.std(x_strict) < np.std(x_plain)
    np.testing.assert_array_equal(x_strict, RejectionSampler(_gaussian_proposer(2.0), jax.random.key(1), 5000,
                                                             95.0)(jax.random.key(3), 5000))  # one key, one result


def test_a_discriminator_that_rejects_everything_stops_with_a_clear_error():
    def propose(key, n):
        return np.zeros(n), np.full(n, -1e3)

    sampler = RejectionSampler(lambda key, n: (np.zeros(n), np.zeros(n)), jax.random.key(0), 10, 0.0)
    sampler.propose = propose
    with pytest.raises(JaxganError, match="Lower the gamma percentile"):
        sampler(jax.random.key(1), 10)


def test_bad_drs_settings_name_the_key():
    config = base_config()
    config.eval.drs_percentile = 100.0
    with pytest.raises(ValueError, match="eval.drs_percentile"):
        validate(config)
    config = base_config()
    config.eval.drs, config.model.pack, config.train.batch_size = True, 2, 64
    with pytest.raises(ValueError, match="model.pack"):
        validate(config)


def test_the_evaluator_reports_drs_beside_g_alone():
    config = base_config()
    config.data.name, config.model.z_dim, config.model.output_activation = "grid25", 2, "linear"
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (16,)
    config.eval.metrics, config.eval.num_samples, config.eval.batch_size = ("modes",), 500, 250
    config.eval.mode_min_count, config.eval.drs_burn_in = 1, 1000
    dataset = build_dataset(config.data, seed=0)
    gan = build_gan(config, dataset.example_shape, None)
    state = create_state(gan, dataset.example_shape, 0)
    plain = TrainingEvaluator(config, gan, dataset)(state, 0)
    config.eval.drs = True
    result = TrainingEvaluator(config, gan, dataset)(state, 0)
    assert set(result) == {*plain, *(k.replace("eval/", "eval/no_drs/") for k in plain), "eval/drs_acceptance"}
    assert {k: result[k.replace("eval/", "eval/no_drs/")] for k in plain} == plain  # G alone, as without DRS
    assert 0.0 < result["eval/drs_acceptance"] < 1.0
