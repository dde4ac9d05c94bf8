"""Class-conditional GANs: heads and conditional BN against hand computations, a labelled toy run, bad combinations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config
from jaxgan.engine.state import create_state
from jaxgan.engine.train_step import sample_latents
from jaxgan.models.conditional import ConditionalBatchNorm, DiscriminatorHead
from jaxgan.models.dcgan import DCGANDiscriminator
from jaxgan.objectives.factory import build_gan, build_train_step
from jaxgan.objectives.gan_task import grid_labels
from jaxgan.terms.losses import auxiliary_classifier, get_loss

KEY = jax.random.PRNGKey(0)
RNG = np.random.default_rng(0)
H = jnp.asarray(RNG.standard_normal((5, 4)), jnp.float32)
Y = jnp.asarray([0, 2, 1, 2, 0], jnp.int32)


def test_projection_head_adds_the_label_embedding_dotted_with_the_features():
    head = DiscriminatorHead("projection", num_classes=3)
    params = head.init(KEY, H, Y, train=False)["params"]
    out = head.apply({"params": params}, H, Y, train=False)
    w, b, e = (np.asarray(params["logit"]["kernel"]), np.asarray(params["logit"]["bias"]),
               np.asarray(params["embed"]["embedding"]))
    expected = np.asarray(H) @ w[:, 0] + b[0] + np.sum(e[np.asarray(Y)] * np.asarray(H), axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_acgan_head_returns_logit_and_label_log_likelihood_and_its_loss_adds_cross_entropy():
    head = DiscriminatorHead("acgan", num_classes=3)
    params = head.init(KEY, H, Y, train=False)["params"]
    out = np.asarray(head.apply({"params": params}, H, Y, train=False))
    logits = np.asarray(H) @ np.asarray(params["classifier"]["kernel"]) + np.asarray(params["classifier"]["bias"])
    log_p = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    np.testing.assert_allclose(out[:, 1], log_p[np.arange(5), np.asarray(Y)], rtol=1e-5, atol=1e-6)
    base = get_loss("wasserstein")
    loss = auxiliary_classifier(base, weight=0.5)
    real, fake = jnp.asarray(out), jnp.asarray(out[::-1])
    expected_d = np.mean(base.d_loss(real[:, 0], fake[:, 0])) - 0.5 * (np.mean(out[:, 1]) + np.mean(out[::-1, 1]))
    np.testing.assert_allclose(float(jnp.mean(loss.d_loss(real, fake))), float(expected_d), rtol=1e-5)
    expected_g = -np.mean(out[::-1, 0]) - 0.5 * np.mean(out[::-1, 1])
    np.testing.assert_allclose(float(jnp.mean(loss.g_loss(real, fake))), expected_g, rtol=1e-5)


def _dcgan_d_pair(head: str):
    """A conditional DCGAN D at 28x28 (10 classes), its params, and the unconditional D sharing its conv params."""
    images = jnp.asarray(RNG.uniform(-1, 1, (6, 28, 28, 1)), jnp.float32)
    labels = jnp.asarray([0, 3, 9, 3, 1, 7], jnp.int32)
    cond = DCGANDiscriminator(28, ndf=8, head=head, num_classes=10)
    variables = cond.init(KEY, images, labels, train=False)
    plain = DCGANDiscriminator(28, ndf=8)
    shared = {k: v for k, v in variables["params"].items() if k not in ("embed", "classifier")}
    plain_logit = np.asarray(plain.apply({**variables, "params": shared}, images, train=False))
    return cond, variables, images, labels, plain_logit


def test_dcgan_projection_d_dots_the_label_embedding_with_the_map_its_final_conv_reads():
    """With embed(y) = a_y * (the final 7x7 conv's kernel, flattened), <embed(y), h> = a_y * logit, so D(x, y) =
    (1 + a_y) * the unconditional logit: the projection reads the same map, flattened in the same order."""
    cond, variables, images, labels, plain_logit = _dcgan_d_pair("projection")
    scale = np.linspace(-1.0, 2.0, 10, dtype=np.float32)
    kernel = np.asarray(variables["params"]["logit_kernel"]).reshape(-1)
    params = {**variables["params"], "embed": {"embedding": jnp.asarray(scale[:, None] * kernel[None])}}
    out = np.asarray(cond.apply({**variables, "params": params}, images, labels, train=False))
    np.testing.assert_allclose(out, (1 + scale[np.asarray(labels)]) * plain_logit, rtol=1e-4, atol=1e-5)
    assert np.ptp(plain_logit) > 1e-3  # the logits differ, so a head that ignored h could not pass


def test_dcgan_acgan_d_returns_the_logit_and_the_label_log_likelihood_of_the_same_map():
    cond, variables, images, labels, plain_logit = _dcgan_d_pair("acgan")
    scale = np.linspace(-1.0, 2.0, 10, dtype=np.float32)
    kernel = np.asarray(variables["params"]["logit_kernel"]).reshape(-1)
    params = {**variables["params"], "classifier": {"kernel": jnp.asarray(kernel[:, None] * scale[None]),
                                                    "bias": jnp.zeros(10)}}
    out = np.asarray(cond.apply({**variables, "params": params}, images, labels, train=False))
    class_logits = plain_logit[:, None] * scale[None]  # classifier(h)_j = a_j * <kernel, h>
    log_p = class_logits - np.log(np.sum(np.exp(class_logits), axis=1, keepdims=True))
    np.testing.assert_allclose(out[:, 0], plain_logit, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 1], log_p[np.arange(6), np.asarray(labels)], rtol=1e-4, atol=1e-5)


def test_conditional_batch_norm_scales_and_shifts_per_class():
    x = jnp.asarray(RNG.standard_normal((5, 2, 2, 4)), jnp.float32)
    cbn = ConditionalBatchNorm(num_classes=3)
    variables = cbn.init(KEY, x, Y, train=False)
    gamma = jnp.asarray(RNG.standard_normal((3, 4)), jnp.float32)
    beta = jnp.asarray(RNG.standard_normal((3, 4)), jnp.float32)
    params = {"gamma": {"embedding": gamma}, "beta": {"embedding": beta}}
    out, _ = cbn.apply({**variables, "params": params}, x, Y, train=True, mutable=["batch_stats"])
    xn = np.asarray(x)
    normed = (xn - xn.mean((0, 1, 2))) / np.sqrt(xn.var((0, 1, 2)) + 1e-5)
    expected = normed * np.asarray(gamma)[np.asarray(Y)][:, None, None] + np.asarray(beta)[np.asarray(Y)][:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


MODES = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]], np.float32)  # class c lives at MODES[c]
STD = 0.1


def test_conditional_gan_on_a_labelled_mixture_puts_each_class_at_its_mode():
    config = base_config()
    config.model.output_activation, config.model.z_dim = "linear", 4
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (64, 64)
    config.model.g_cond, config.model.d_cond, config.model.label_embed_dim = "embed", "projection", 8
    config.optim.g.lr = config.optim.d.lr = 1e-3
    gan = build_gan(config, (2,), num_classes=4)
    step = build_train_step(config, gan, (2,))
    y = RNG.integers(0, 4, (400, 1, 64))
    x = MODES[y] + STD * RNG.standard_normal((400, 1, 64, 2)).astype(np.float32)
    train = jax.jit(lambda state, batches: jax.lax.scan(step, state, batches)[0])  # 400 steps in one program
    state = train(create_state(gan, (2,), seed=0), {"x": x, "label": y.astype(np.int32)})
    labels = jnp.repeat(jnp.arange(4), 250)
    samples = np.asarray(gan.generate(state.nets["G"].variables(), sample_latents(KEY, 1000, 4), labels=labels))
    dist = np.linalg.norm(samples - MODES[np.asarray(labels)], axis=1)
    for c in range(4):
        # Modes are 2.8 apart; a G that ignored the label would put at most ~1/4 of class c near MODES[c].
        near = np.mean(dist[np.asarray(labels) == c] < 5 * STD)
        assert near >= 0.8, f"only {near:.0%} of class {c} samples within 5 std of its mode"


def square_digits(labels: np.ndarray) -> np.ndarray:
    """28x28 images in [-1, 1]: dark noise with a bright 7-row band whose position is the class (rows 4+7c..10+7c)."""
    images = RNG.uniform(-1.0, -0.7, (*labels.shape, 28, 28, 1)).astype(np.float32)
    for c in range(3):
        images[..., 4 + 7 * c: 11 + 7 * c, 6:22, :] += np.where(labels == c, 1.7, 0.0)[..., None, None, None]
    return images


def test_conditional_dcgan_draws_the_band_its_label_asks_for():
    """Embed-G against a projection DCGAN D: each label's samples are brightest in that class's band."""
    config = base_config()
    config.model.name, config.model.z_dim = "dcgan", 16
    config.model.dcgan.ngf = config.model.dcgan.ndf = 8
    config.model.g_cond, config.model.d_cond, config.model.label_embed_dim = "embed", "projection", 8
    gan = build_gan(config, (28, 28, 1), num_classes=3)
    step = build_train_step(config, gan, (28, 28, 1))
    y = RNG.integers(0, 3, (300, 1, 32))
    train = jax.jit(lambda state, batches: jax.lax.scan(step, state, batches)[0])
    state = train(create_state(gan, (28, 28, 1), seed=0), {"x": square_digits(y), "label": y.astype(np.int32)})
    labels = jnp.repeat(jnp.arange(3), 100)
    samples = np.asarray(gan.generate(state.nets["G"].variables(), sample_latents(KEY, 300, 16), labels=labels))
    band_means = np.stack([samples[:, 4 + 7 * c: 11 + 7 * c, 6:22, 0].mean((1, 2)) for c in range(3)], axis=1)
    right = np.mean(band_means.argmax(1) == np.asarray(labels))
    assert right >= 0.9, f"only {right:.0%} of samples are brightest in their label's band"


def test_conditional_model_with_unlabelled_data_and_other_bad_combinations_fail_clearly():
    config = base_config()
    config.model.g_cond, config.model.d_cond = "embed", "projection"
    with pytest.raises(ValueError, match="no labels"):
        build_gan(config, (28, 28, 1), num_classes=None)
    config.model.d_cond = "none"
    with pytest.raises(ValueError, match="both networks or neither"):
        build_gan(config, (28, 28, 1), num_classes=10)
    config.model.g_cond, config.model.d_cond = "cbn", "projection"
    with pytest.raises(ValueError, match="cbn"):
        build_gan(config, (28, 28, 1), num_classes=10)  # conditional BN exists in the ResNet G only
    config.model.name, config.model.g_cond, config.model.spectral_norm = "dcgan", "embed", True
    with pytest.raises(ValueError, match="DCGAN D cannot take spectral norm"):
        build_gan(config, (32, 32, 1), num_classes=10)


def test_conditional_generator_needs_labels_and_sample_grid_has_one_row_per_class():
    config = base_config()
    config.model.g_cond, config.model.d_cond = "embed", "projection"
    gan = build_gan(config, (4,), num_classes=3)
    assert gan.num_classes == 3
    z, labels = jnp.zeros((2, config.model.z_dim)), jnp.zeros((2,), jnp.int32)
    variables = jax.eval_shape(lambda: gan.generator.init(KEY, z, labels, train=False))  # shapes only
    assert jax.eval_shape(lambda v: gan.generate(v, z, labels=labels), variables).shape == (2, 4)
    with pytest.raises(ValueError, match="needs labels"):
        jax.eval_shape(lambda v: gan.generate(v, z), variables)
    assert grid_labels(9, None) is None
    np.testing.assert_array_equal(grid_labels(16, 3), np.repeat([0, 1, 2, 0], 4))  # 4 per row, row r: class r % 3
