"""Discriminator rejection sampling: hand-computed acceptance, exact rejection sampling with a known density ratio,
a kept distribution that does not depend on how many samples are asked for, D scored as in training, the networks
DRS uses, the losses it refuses, and DRS in the trainer's evaluation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.cli import main as cli_main
from jaxgan.config import base_config, validate
from jaxgan.data import build_dataset
from jaxgan.engine.state import apply_train, create_state
from jaxgan.errors import JaxganError
from jaxgan.metrics.training_eval import TrainingEvaluator
from jaxgan.objectives.factory import build_gan
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.run_info import run_meta
from jaxgan.run.runs import load_rejection_sampler
from jaxgan.sampling.drs import (
    RejectionSampler,
    acceptance_probability,
    drs_networks,
    drs_scores,
    finetune_discriminator,
    make_training_mode_discriminate,
    percentile_gamma,
)
from jaxgan.sampling.generate import generator_variables, random_inputs, sample_latents


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


def _log_ratio(x, proposal_std):
    """log N(x; 0, 1) - log N(x; 0, proposal_std^2): the exact D of proposals N(0, proposal_std^2)."""
    return -0.5 * x**2 + 0.5 * (x / proposal_std) ** 2 + np.log(proposal_std)


def _gaussian_proposer(proposal_std: float):
    """Proposals N(0, proposal_std^2) whose 'D' is the exact log density ratio to the target N(0, 1)."""

    def propose(key, n):
        x = proposal_std * np.asarray(jax.random.normal(key, (n,)), np.float64)
        return x, _log_ratio(x, proposal_std)

    return propose


def test_exact_density_ratio_recovers_the_target():
    # Rejection sampling N(0, 2^2) with the exact ratio to N(0, 1) must give N(0, 1): std 1, not 2, and a kurtosis of
    # 3. A flipped logit sign (keeping the tails) gives std > 2.
    sampler = RejectionSampler(_gaussian_proposer(2.0), jax.random.key(1), burn_in=20_000, percentile=0.0,
                               batch_size=5000)
    samples = np.concatenate([sampler(jax.random.fold_in(jax.random.key(2), i), 5000) for i in range(4)])
    assert samples.shape == (20_000,)
    assert np.std(samples) == pytest.approx(1.0, abs=0.03)
    assert np.mean(samples**4) / np.var(samples) ** 2 == pytest.approx(3.0, abs=0.2)
    assert sampler.acceptance_rate == pytest.approx(0.5, abs=0.03)  # 1 / M with M = max ratio = 2


def _kept_std(max_logit: float, gamma: float) -> float:
    """The std of DRS's kept samples of N(0, 2^2) under the exact ratio, by quadrature."""
    x = np.linspace(-12.0, 12.0, 200_001)
    weight = np.exp(-0.5 * (x / 2.0) ** 2) * acceptance_probability(_log_ratio(x, 2.0), max_logit, gamma)
    return float(np.sqrt(np.sum(x**2 * weight) / np.sum(weight)))


def test_the_kept_distribution_does_not_depend_on_how_many_samples_are_asked_for():
    # gamma at the 80th percentile of F over N(0, 2^2) proposals, D_M = log 2 (the ratio's maximum, at x = 0); the
    # burn-in estimates both, and the kept std follows from them by quadrature. Asking for 1, 4, 64 or 2000 samples
    # at a time, pooled to >= 400, gives that std.
    percentile = 80.0
    reference_x = 2.0 * np.random.default_rng(0).standard_normal(1_000_000)
    gamma = np.percentile(drs_scores(_log_ratio(reference_x, 2.0), np.log(2.0)), percentile)
    for n, calls in ((1, 400), (4, 100), (64, 7), (2000, 1)):
        sampler = RejectionSampler(_gaussian_proposer(2.0), jax.random.key(1), burn_in=20_000,
                                   percentile=percentile, batch_size=64)
        assert sampler.max_logit == pytest.approx(np.log(2.0), abs=1e-3)
        assert sampler.gamma == pytest.approx(gamma, abs=0.15)  # its sampling error is ~0.03
        expected = _kept_std(sampler.max_logit, sampler.gamma)
        assert expected < 0.8  # far from plain DRS's 1 and G's 2, so a wrong gamma shows
        kept = np.concatenate([sampler(jax.random.fold_in(jax.random.key(2), i), n) for i in range(calls)])
        assert np.std(kept) == pytest.approx(expected, rel=0.1), f"n={n}"


def test_one_key_gives_one_stream_of_kept_samples_whatever_n():
    def fresh():
        return RejectionSampler(_gaussian_proposer(2.0), jax.random.key(1), 1000, 90.0, batch_size=64)

    key = jax.random.key(3)
    long = fresh()(key, 500)
    np.testing.assert_array_equal(fresh()(key, 1), long[:1])
    np.testing.assert_array_equal(fresh()(key, 37), long[:37])


def test_d_m_is_raised_when_a_later_proposal_scores_higher():
    # The burn-in sees logits of -3 only; later batches hold one logit of 0 and 63 of -3. With D_M raised to 0, the
    # 0 is kept with probability ~1 and each -3 with exp(-3); with D_M left at -3 the 0 would be an invalid ratio
    # (exp(3) > 1) and the -3s certain keeps.
    def propose(key, n):
        calls.append(n)
        if len(calls) == 1:  # the burn-in
            return np.zeros(n), np.full(n, -3.0)
        return np.arange(n, dtype=np.float64), np.where(np.arange(n) == 0, 0.0, -3.0)

    calls = []
    sampler = RejectionSampler(propose, jax.random.key(0), 64, 0.0, batch_size=64)
    kept = np.concatenate([sampler(jax.random.fold_in(jax.random.key(1), i), 1) for i in range(200)])
    assert sampler.max_logit == 0.0
    assert np.mean(kept == 0) > 0.95  # the best sample of each batch comes first, and is kept
    sampler.accepted = sampler.proposed = 0
    sampler(jax.random.key(2), 3000)
    assert sampler.acceptance_rate == pytest.approx((1 + 63 * np.exp(-3.0)) / 64, rel=0.08)


def test_a_discriminator_that_rejects_everything_stops_with_a_clear_error():
    def propose(key, n):
        return np.zeros(n), np.full(n, -1e3)

    sampler = RejectionSampler(lambda key, n: (np.zeros(n), np.zeros(n)), jax.random.key(0), 10, 0.0, batch_size=10)
    sampler.propose = propose
    with pytest.raises(JaxganError, match="Lower the gamma percentile"):
        sampler(jax.random.key(1), 10)


@pytest.mark.parametrize("loss", ["hinge", "wasserstein", "least_squares", "relativistic_average"])
def test_drs_refuses_a_d_that_is_not_a_sigmoid_cross_entropy_ratio(loss):
    config = base_config()
    config.eval.drs, config.loss = True, loss
    with pytest.raises(ValueError, match=rf"loss={loss!r}.*non_saturating"):
        validate(config)
    config.eval.drs = False
    validate(config)  # without DRS the loss is fine


def test_drs_refuses_acgan_packs_label_smoothing_and_bad_settings_by_name():
    for key, value, match in (("model.d_cond", "acgan", "model.d_cond='acgan'"), ("model.pack", 2, "model.pack"),
                              ("reg.label_smoothing", 0.1, "reg.label_smoothing"),
                              ("eval.drs_percentile", 100.0, "eval.drs_percentile"),
                              ("eval.drs_generator", "g", "eval.drs_generator"),
                              ("eval.drs_finetune_steps", -1, "eval.drs_finetune_steps")):
        config = base_config()
        config.eval.drs, config.train.batch_size = True, 64
        block, name = key.split(".")
        config[block][name] = value
        if value == "acgan":
            config.model.g_cond = "embed"
        with pytest.raises(ValueError, match=match):
            validate(config)


def _tiny_config(**model):
    config = base_config()
    config.model.z_dim, config.train.batch_size = 4, 16
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (8,)
    for key, value in model.items():
        config.model[key] = value
    return config


def _save_run(config, shape, path, state):
    with Checkpointer(path / "checkpoints") as ckpt:
        ckpt.save(1, state, run_meta(config, 1, 1, shape, None))


def test_sampling_a_hinge_run_with_drs_is_one_error_line(tmp_path, capsys):
    config, shape = _tiny_config(), (28, 28, 1)
    config.loss = "hinge"
    gan = build_gan(config, shape)
    _save_run(config, shape, tmp_path / "run", jax.jit(lambda: create_state(gan, shape, 0))())
    code = cli_main(["sample", "--workdir", str(tmp_path / "run"), "--out", str(tmp_path / "out"), "--drs"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "loss='hinge'" in err[0] and "non_saturating" in err[0]


def test_a_batchnorm_d_scores_proposals_with_batch_statistics_as_in_training(tmp_path):
    # A DCGAN D (BatchNorm) saved and loaded for DRS: its burn-in logits are D's training-mode outputs on each
    # training batch of fakes (what the D step computes), not its inference-mode outputs.
    config, shape = _tiny_config(name="dcgan"), (16, 16, 1)
    config.model.dcgan.ngf = config.model.dcgan.ndf = 4
    gan = build_gan(config, shape)
    state = jax.jit(lambda: create_state(gan, shape, 0))()
    assert state.nets["D"].collections["batch_stats"]
    stats = jax.tree.map(lambda s: s + 1.0, state.nets["D"].collections)  # running statistics far from any batch's
    state = state.with_nets(D=state.nets["D"].replace(collections=stats))
    _save_run(config, shape, tmp_path / "run", state)
    sampler = load_rejection_sampler(str(tmp_path / "run"), seed=0, percentile=0.0, burn_in=20, batch_size=8)
    assert sampler.burn_in_logits.shape == (32,)  # rounded up to whole training batches of 16
    burn_in_key = jax.random.fold_in(jax.random.key(0), 2**31 - 1)
    z, labels = random_inputs(gan, burn_in_key, 32)
    fakes = jax.jit(gan.generate)(generator_variables(state, gan), z, labels)
    train_mode = jax.jit(lambda x: apply_train(gan.discriminator, state.nets["D"], x, None)[0])
    expected = np.concatenate([train_mode(fakes[:16]), train_mode(fakes[16:])])
    np.testing.assert_allclose(sampler.burn_in_logits, expected, rtol=1e-4, atol=1e-8)
    inference = jax.jit(lambda x: gan.discriminator.apply(state.nets["D"].variables(), x, None, train=False))(fakes)
    assert not np.allclose(expected, inference, rtol=0.1, atol=0)  # the two modes differ here, so the check has teeth
    with pytest.raises(ValueError, match="whole training batches of 16"):
        make_training_mode_discriminate(gan, 16)(state.nets["D"].variables(), fakes[:20])


def _trained_apart_state(config, shape):
    """A state whose live G and EMA G differ (EMA params moved off G's)."""
    gan = build_gan(config, shape)
    state = jax.jit(lambda: create_state(gan, shape, 0, ema=True))()
    ema = jax.tree.map(lambda p: p + 0.5, state.ema["G"])
    return gan, state.with_ema(G=ema)


def test_drs_networks_take_the_configured_generator():
    config, shape = _tiny_config(), (2,)
    gan, state = _trained_apart_state(config, shape)
    for generator, expected in (("live", state.nets["G"].params), ("ema", state.ema["G"])):
        config.eval.drs_generator = generator
        g_variables, d_variables = drs_networks(config.eval, gan, state, lambda: None)
        jax.tree.map(np.testing.assert_array_equal, g_variables["params"], expected)
        jax.tree.map(np.testing.assert_array_equal, d_variables["params"], state.nets["D"].params)


def test_finetuning_takes_bce_gradient_steps_on_d_against_the_fixed_sampling_g():
    # With SGD, one fine-tuning step is params - lr * grad of the BCE loss on (reals, fakes of the EMA G), computed
    # here by hand; G's params are untouched and D is trained against the EMA G, not the live one.
    config, shape = _tiny_config(), (2,)
    gan, state = _trained_apart_state(config, shape)
    gan = dataclasses.replace(gan, d_tx=optax.sgd(0.1))
    state = state.with_nets(D=state.nets["D"].replace(opt_state=gan.d_tx.init(state.nets["D"].params)))
    real = np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32)
    key = jax.random.key(5)
    config.eval.drs_generator, config.eval.drs_finetune_steps, config.eval.seed = "ema", 1, 0
    _, d_variables = drs_networks(config.eval, gan, state, lambda: iter([{"x": real}]))
    fakes = gan.generate(generator_variables(state, gan), sample_latents(jax.random.fold_in(
        jax.random.fold_in(jax.random.key(0), 2**31 - 2), 0), 16, gan.z_dim))

    def bce(params):
        d = lambda x: gan.discriminator.apply({"params": params}, x, None, train=True)
        return jnp.mean(jax.nn.softplus(-d(real))) + jnp.mean(jax.nn.softplus(d(fakes)))

    expected = jax.tree.map(lambda p, g: p - 0.1 * g, state.nets["D"].params, jax.grad(bce)(state.nets["D"].params))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), d_variables["params"], expected)
    g_variables = generator_variables(state, gan)
    tuned = finetune_discriminator(gan, state.nets["D"], g_variables, iter([{"x": real}] * 50), 50, key)
    assert float(bce(tuned.params)) < float(bce(state.nets["D"].params))


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
