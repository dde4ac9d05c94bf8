"""Regularisers: penalties against hand-computed values, lazy R1, spectral norm, instance noise, label smoothing."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config, validate
from jaxgan.engine.state import create_state
from jaxgan.engine.train_step import Phase, jit_train_step, make_train_step
from jaxgan.models.mlp_head import MLPHeadDiscriminator
from jaxgan.models.spectral import spectral_norm
from jaxgan.objectives.factory import (
    build_gan,
    build_train_step,
    lazy_regularization_optimizer,
    lazy_regularization_ratio,
)
from jaxgan.terms.losses import build_loss, get_loss, one_sided_label_smoothing
from jaxgan.terms.regularizers import (
    GradientPenalty,
    InstanceNoise,
    build_d_penalties,
    path_length_penalty,
    path_lengths,
    r1_penalty,
    r2_penalty,
)

RNG = np.random.default_rng(0)
REAL = jnp.asarray(RNG.standard_normal((16, 3, 2)), jnp.float32)
FAKE = jnp.asarray(RNG.standard_normal((16, 3, 2)), jnp.float32)
KEY = jax.random.PRNGKey(0)
STEP = jnp.asarray(0)


def test_gradient_penalty_of_a_linear_critic_is_lambda_times_squared_norm_gap():
    w = jnp.asarray(RNG.standard_normal((3, 2)), jnp.float32)
    d_fn = lambda x, y: jnp.einsum("bij,ij->b", x, w) + 0.3  # grad_x D = w at every interpolate
    term, metrics = GradientPenalty(weight=10.0)(d_fn, REAL, FAKE, None, KEY, STEP)
    expected = 10.0 * (np.linalg.norm(np.asarray(w)) - 1.0) ** 2
    np.testing.assert_allclose(float(term), expected, rtol=1e-5)
    np.testing.assert_allclose(float(metrics["D/grad_norm_interp"]), np.linalg.norm(np.asarray(w)), rtol=1e-5)


def test_gradient_penalty_is_taken_at_uniform_interpolates_of_real_and_fake():
    # A quadratic critic's gradient 2 a x_hat depends on where it is taken, so only the right x_hat gives the value.
    a = jnp.asarray(RNG.uniform(0.5, 2.0, (3, 2)), jnp.float32)
    term, metrics = GradientPenalty(weight=2.0)(quadratic_d(a), REAL, FAKE, None, KEY, STEP)
    eps = np.asarray(jax.random.uniform(KEY, (16, 1, 1)))  # eps ~ U(0, 1) per example, drawn from the penalty's key
    norms_at = lambda x: np.sqrt(np.sum((2 * np.asarray(a) * x) ** 2, axis=(1, 2)))
    norms = norms_at(eps * np.asarray(REAL) + (1 - eps) * np.asarray(FAKE))  # Gulrajani et al. 2017, Alg. 1
    np.testing.assert_allclose(float(term), 2.0 * np.mean((norms - 1.0) ** 2), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["D/grad_norm_interp"]), np.mean(norms), rtol=1e-5)
    for wrong in (np.asarray(REAL), np.asarray(FAKE), (1 - eps) * np.asarray(REAL) + eps * np.asarray(FAKE)):
        assert abs(2.0 * np.mean((norms_at(wrong) - 1.0) ** 2) - float(term)) > 1e-2 * float(term)


def test_gradient_penalty_uses_the_adversarial_column_of_an_acgan_output():
    w = jnp.full((3, 2), 0.5)
    d_fn = lambda x, y: jnp.stack([jnp.einsum("bij,ij->b", x, w), 100.0 * jnp.sum(x, (1, 2))], axis=-1)
    term, _ = GradientPenalty(weight=1.0)(d_fn, REAL, FAKE, None, KEY, STEP)
    np.testing.assert_allclose(float(term), (np.sqrt(6 * 0.25) - 1.0) ** 2, rtol=1e-5)


def quadratic_d(a):
    """D(x) = sum(a * x^2) per example: grad_x D = 2 a x, so ||grad||^2 = sum(4 a^2 x^2)."""
    return lambda x, y: jnp.sum(a * jnp.square(x), axis=(1, 2))


def expected_r(a, x, gamma, scale=1.0):
    return scale * 0.5 * gamma * np.mean(np.sum(4 * np.asarray(a) ** 2 * np.asarray(x) ** 2, axis=(1, 2)))


def test_r1_and_r2_equal_half_gamma_times_mean_squared_gradient_norm():
    a = jnp.asarray(RNG.uniform(0.5, 2.0, (3, 2)), jnp.float32)
    r1, m1 = r1_penalty(gamma=10.0)(quadratic_d(a), REAL, FAKE, None, KEY, STEP)
    r2, m2 = r2_penalty(gamma=3.0)(quadratic_d(a), REAL, FAKE, None, KEY, STEP)
    np.testing.assert_allclose(float(r1), expected_r(a, REAL, 10.0), rtol=1e-5)
    np.testing.assert_allclose(float(r2), expected_r(a, FAKE, 3.0), rtol=1e-5)
    np.testing.assert_allclose(float(m1["Loss/D/r1"]), expected_r(a, REAL, 2.0), rtol=1e-5)
    assert "Loss/D/r2" in m2


def test_lazy_regularisation_rescales_only_ds_optimizer_by_k_over_k_plus_1():
    config = base_config()
    config.reg.r1_gamma, config.reg.lazy_interval = 10.0, 16
    config.optim.d.b1, config.optim.d.b2 = 0.0, 0.99
    c = lazy_regularization_ratio(config)
    assert c == pytest.approx(16 / 17)
    opt = lazy_regularization_optimizer(config.optim.d, c)
    assert (opt.lr, opt.b1, opt.b2) == pytest.approx((2e-4 * 16 / 17, 0.0, 0.99 ** (16 / 17)))
    assert config.optim.d.lr == 2e-4  # the config itself is untouched
    config.n_disc = 2  # Dreg is then one extra Adam step per 16 * 2 D minibatches
    assert lazy_regularization_ratio(config) == pytest.approx(32 / 33)
    config.reg.r1_gamma = 0.0
    assert lazy_regularization_ratio(config) == 1.0  # nothing lazy to correct for


def test_stylegan2_rescales_both_optimizers_whenever_a_reg_interval_is_set_as_the_reference_does():
    """stylegan2-ada-pytorch's training loop applies c = k/(k+1) per net with a reg interval, regulariser on or off:
    its `cifar` config (pl_weight 0) trains G at 0.0025 * 4/5. Other models keep c = 1 without a regulariser."""
    from conftest import load_experiment_config

    from jaxgan.objectives import get_objective

    config = load_experiment_config("stylegan2_cifar10").get_config()
    ratios = get_objective("stylegan2").lazy_ratios
    assert config.stylegan2.pl_weight == 0 and config.stylegan2.pl_interval == 4
    assert ratios(config) == pytest.approx((4 / 5, 16 / 17))
    config.reg.r1_gamma = 0.0
    assert ratios(config) == pytest.approx((4 / 5, 16 / 17))
    gan_config = base_config()
    gan_config.reg.lazy_interval = 16
    assert get_objective("gan").lazy_ratios(gan_config) == (1.0, 1.0)  # the GAN: no regulariser, nothing to correct


def test_bad_regulariser_settings_are_rejected_with_the_key_named():
    with pytest.raises(ValueError, match="lazy"):
        Phase("Dreg", lambda state, batch, keys: (state, {}), interval=0)  # laziness is the Dreg phase's
    config = base_config()
    config.reg.r1_gamma, config.reg.lazy_interval = 10.0, 0
    with pytest.raises(ValueError, match="reg.lazy_interval"):
        validate(config)
    config = base_config()
    config.loss, config.reg.label_smoothing = "hinge", 0.1
    with pytest.raises(ValueError, match="label_smoothing"):
        validate(config)
    with pytest.raises(ValueError, match="instance_noise"):
        InstanceNoise(-1.0)


def test_spectral_norm_drives_the_largest_singular_value_to_one():
    kernel = jnp.asarray(np.diag([5.0, 2.0, 1.0, 0.5]) @ RNG.standard_normal((4, 6)), jnp.float32)
    layer = spectral_norm(nn.Dense(6, use_bias=False))  # jaxgan's wrapper, as the models use it
    x = jnp.eye(4)
    variables = layer.init(KEY, x, update_stats=False)
    variables = {"params": {"layer_instance": {"kernel": kernel}}, "batch_stats": variables["batch_stats"]}

    @jax.jit
    def power_step(variables):
        w_sn, updates = layer.apply(variables, x, update_stats=True, mutable=["batch_stats"])
        return {**variables, **updates}, w_sn  # x = I, so the output is the normalised kernel

    for _ in range(30):
        variables, w_sn = power_step(variables)
    np.testing.assert_allclose(np.linalg.svd(np.asarray(w_sn), compute_uv=False)[0], 1.0, atol=1e-3)
    (sigma,) = [v for k, v in jax.tree_util.tree_leaves_with_path(variables["batch_stats"]) if "sigma" in str(k)]
    np.testing.assert_allclose(float(sigma), np.linalg.svd(np.asarray(kernel), compute_uv=False)[0], rtol=1e-3)


def sn_vectors(collections) -> dict[str, np.ndarray]:
    """Every spectrally normalised layer's power-iteration vector `u`, by path."""
    return {jax.tree_util.keystr(path): np.asarray(v) for path, v in jax.tree_util.tree_leaves_with_path(collections)
            if str(path[-1].key).endswith("/u")}


def test_power_iteration_advances_in_train_mode_only_in_every_layer():
    d = MLPHeadDiscriminator(hidden=(8, 8), spectral_norm=True)
    x = jnp.asarray(RNG.standard_normal((4, 2)), jnp.float32)
    variables = d.init(KEY, x, None, train=False)
    before = sn_vectors(variables["batch_stats"])
    assert len(before) == 3  # two hidden layers and the head
    _, evaluated = d.apply(variables, x, None, train=False, mutable=["batch_stats"])
    _, trained = d.apply(variables, x, None, train=True, mutable=["batch_stats"])
    for path, u in sn_vectors(evaluated["batch_stats"]).items():
        np.testing.assert_array_equal(u, before[path], err_msg=f"{path} moved in eval mode")
    for path, u in sn_vectors(trained["batch_stats"]).items():
        assert not np.allclose(u, before[path]), f"{path} did not move in train mode"


def test_spectral_norm_rejects_layers_without_a_weight_matrix():
    with pytest.raises(ValueError, match="weight matrix"):
        spectral_norm(nn.BatchNorm())
    config = base_config()
    config.model.name, config.model.spectral_norm, config.data.image_size = "dcgan", True, 32
    with pytest.raises(ValueError, match="spectral norm"):
        build_gan(config, (32, 32, 1))


def test_instance_noise_std_anneals_linearly_to_zero():
    noise = InstanceNoise(0.5, anneal_steps=100)
    assert [float(noise.std_at(jnp.asarray(s))) for s in (0, 50, 100, 200)] == pytest.approx([0.5, 0.25, 0, 0])
    x = jnp.zeros((200, 50))
    assert float(jnp.std(noise(x, KEY, jnp.asarray(50)))) == pytest.approx(0.25, rel=0.05)
    np.testing.assert_array_equal(noise(x, KEY, jnp.asarray(100)), x)


def test_one_sided_label_smoothing_is_bce_with_real_target_point_nine():
    real, fake = np.array([2.0, -1.0]), np.array([0.5, -3.0])
    loss = one_sided_label_smoothing(get_loss("non_saturating"), 0.1)
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    expected = (np.mean(-0.9 * np.log(sig(real)) - 0.1 * np.log(1 - sig(real)))
                + np.mean(-np.log(1 - sig(fake))))
    np.testing.assert_allclose(float(jnp.mean(loss.d_loss(jnp.asarray(real), jnp.asarray(fake)))), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="BCE"):
        one_sided_label_smoothing(get_loss("hinge"), 0.1)


def test_train_step_with_every_d_regulariser_keeps_sn_state_in_the_train_state():
    config = base_config()
    config.data.name, config.model.output_activation, config.model.z_dim = "ring8", "linear", 4
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (8,)
    config.model.spectral_norm = True
    config.reg.gp_weight, config.reg.r1_gamma, config.reg.lazy_interval = 10.0, 1.0, 2
    config.reg.instance_noise_std, config.reg.instance_noise_anneal_steps = 0.1, 10
    config.loss, config.reg.label_smoothing = "non_saturating", 0.1
    validate(config)
    gan = build_gan(config, (2,))
    state = create_state(gan, (2,), seed=0)
    u_before = sn_vectors(state.nets["D"].collections)
    assert len(u_before) == 2  # the hidden layer and the head
    step = jit_train_step(build_train_step(config, gan, (2,)))
    batch = {"x": jnp.asarray(RNG.standard_normal((1, 8, 2)), jnp.float32)}
    state, m0 = step(state, batch)
    state, m1 = step(state, batch)
    assert float(m0["Loss/D/r1"]) > 0 and float(m1["Loss/D/r1"]) == 0.0  # lazy: step 0 yes, step 1 no
    assert all(np.isfinite(float(v)) for v in m1.values())
    for path, u in sn_vectors(state.nets["D"].collections).items():  # every layer's power iteration moved on
        assert not np.allclose(u_before[path], u), path


def test_d_input_transform_reaches_real_fake_and_penalty_inputs():
    config = base_config()
    config.data.name, config.model.output_activation, config.model.z_dim = "ring8", "linear", 4
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (8,)
    config.reg.gp_weight = 1.0
    gan = build_gan(config, (2,))
    state = create_state(gan, (2,), seed=0)
    loss = build_loss(config)
    constant = lambda x, key, step: jnp.full_like(x, 0.5)  # D sees only 0.5s, whatever it is given
    step = jax.jit(make_train_step(gan, loss, d_penalties=build_d_penalties(config.reg), d_input=constant))
    new_state, metrics = step(state, {"x": jnp.asarray(RNG.standard_normal((1, 8, 2)), jnp.float32)})

    def d_at_constant(d):  # D's logits at the constant input, for a batch of 8
        return gan.discriminator.apply({"params": d.params, **d.collections}, jnp.full((8, 2), 0.5), None, train=True)

    # Real and fake batches: both D means are D's value at the constant, before its update.
    d_before = float(d_at_constant(state.nets["D"])[0])
    assert (float(metrics["D/real"]), float(metrics["D/fake"])) == pytest.approx((d_before, d_before), rel=1e-5)
    # The penalty's interpolates: D's input no longer depends on them, so grad_x D = 0 and the GP is (0 - 1)^2.
    assert float(metrics["Loss/D/gp"]) == pytest.approx(1.0, abs=1e-6)
    assert float(metrics["D/grad_norm_interp"]) < 1e-6
    # G's fakes: G's loss is that of the just-updated D at the constant.
    at_constant = d_at_constant(new_state.nets["D"])  # real and fake alike reach D as the constant
    expected_g = float(jnp.mean(loss.g_loss(at_constant, at_constant)))
    assert float(metrics["Loss/G"]) == pytest.approx(expected_g, rel=1e-5)


def test_the_zero_centered_penalty_returns_the_logits_it_differentiated():
    """StyleGAN2's Dreg counts sign(D(x)) for ADA from R1's own forward pass: those logits are D(x), by hand."""
    a = jnp.asarray(RNG.uniform(0.5, 2.0, (3, 2)), jnp.float32)
    weighted, value, logits = r1_penalty(gamma=4.0).of_inputs(quadratic_d(a), REAL, None)
    np.testing.assert_allclose(np.asarray(logits), np.sum(np.asarray(a) * np.asarray(REAL) ** 2, axis=(1, 2)),
                               rtol=1e-6)
    np.testing.assert_allclose(float(weighted), expected_r(a, REAL, 4.0), rtol=1e-5)
    np.testing.assert_allclose(float(value), expected_r(a, REAL, 2.0), rtol=1e-5)  # gamma / 2 = 1: the mean norm


def test_path_lengths_of_a_linear_generator_are_the_norms_of_a_times_y():
    """G(w) = reshape(w A) on [N, 3] latents, so J^T y = A y per example; the noise is the penalty's own draw."""
    a = jnp.asarray(RNG.standard_normal((3, 8)), jnp.float32)
    ws = jnp.asarray(RNG.standard_normal((5, 3)), jnp.float32)
    synthesize = lambda w: (w @ a).reshape(-1, 2, 2, 2)  # images [N, 2, 2, 2]: y / sqrt(H * W) = y / 2
    y = np.asarray(jax.random.normal(KEY, (5, 2, 2, 2))).reshape(5, 8) / 2.0
    want = np.linalg.norm(y @ np.asarray(a).T, axis=1)
    np.testing.assert_allclose(np.asarray(path_lengths(synthesize, ws, KEY)), want, rtol=1e-5)
    loss, new_mean, metrics = path_length_penalty(synthesize, ws, KEY, jnp.float32(1.0), weight=3.0, decay=0.5)
    mean = 1.0 + 0.5 * (want.mean() - 1.0)
    np.testing.assert_allclose(float(new_mean), mean, rtol=1e-5)
    np.testing.assert_allclose(float(loss), 3.0 * np.mean((want - mean) ** 2), rtol=1e-4)
    np.testing.assert_allclose(float(metrics["Loss/pl_penalty"]), np.mean((want - mean) ** 2), rtol=1e-4)
