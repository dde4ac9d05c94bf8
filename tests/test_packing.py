"""PacGAN's packed D: the packing order by hand, packed D == inner D on hand-concatenated packs, R1 through packs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config, validate
from jaxgan.data import build_dataset, stack_batches
from jaxgan.engine.state import create_state
from jaxgan.models import build_models
from jaxgan.models.mlp import MLPDiscriminator
from jaxgan.models.packing import PackedDiscriminator, pack_examples
from jaxgan.objectives.factory import build_gan, build_train_step
from jaxgan.terms.regularizers import r1_penalty


def test_points_are_packed_in_order_along_the_feature_axis():
    x = np.arange(12.0).reshape(6, 2)  # six 2-D points: (0, 1), (2, 3), ...
    want = [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]  # pack 0 = points 0, 1, 2; pack 1 = points 3, 4, 5
    np.testing.assert_array_equal(pack_examples(jnp.asarray(x), 3), want)


def test_images_are_packed_along_the_channel_axis():
    x = np.arange(4 * 2 * 2 * 3.0).reshape(4, 2, 2, 3)  # (B, H, W, C)
    packed = np.asarray(pack_examples(jnp.asarray(x), 2))
    assert packed.shape == (2, 2, 2, 6)
    for p in range(2):
        for j in range(2):
            np.testing.assert_array_equal(packed[p, :, :, 3 * j:3 * j + 3], x[2 * p + j])


def test_packed_d_is_the_inner_d_on_hand_concatenated_packs():
    inner = MLPDiscriminator((8, 8))
    packed = PackedDiscriminator(inner, 2)
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 3))
    variables = packed.init(jax.random.PRNGKey(1), x[:1], train=False)  # init sees a batch of 1, as in create_state
    by_hand = jnp.concatenate([x[0::2], x[1::2]], axis=-1)  # pack i = [x_2i, x_2i+1]
    want = inner.apply({"params": variables["params"]["inner"]}, by_hand)
    got = packed.apply(variables, x)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_r1_on_a_packed_d_is_the_pack_inputs_squared_norm_over_the_batch():
    inner = MLPDiscriminator((8,))
    packed = PackedDiscriminator(inner, 2)
    real = jax.random.normal(jax.random.PRNGKey(0), (4, 2))
    variables = packed.init(jax.random.PRNGKey(1), real, train=False)
    d_fn = lambda x, y: packed.apply(variables, x, y)
    term, metrics = r1_penalty(gamma=2.0)(d_fn, real, real, None, jax.random.PRNGKey(2), jnp.zeros((), jnp.int32))
    packs = np.concatenate([real[0::2], real[1::2]], axis=-1)
    inner_fn = lambda p: inner.apply({"params": variables["params"]["inner"]}, p[None])[0]
    sq_norms = [float(jnp.sum(jax.grad(inner_fn)(jnp.asarray(p)) ** 2)) for p in packs]
    want = sum(sq_norms) / len(real)  # the documented semantics: E_pack ||grad||^2 / m
    np.testing.assert_allclose(float(metrics["Loss/D/r1"]), want, rtol=1e-5)
    np.testing.assert_allclose(float(term), 0.5 * 2.0 * want, rtol=1e-5)


def test_a_packed_mlp_gan_trains_on_ring8_with_r1():
    c = base_config()
    c.data.name, c.model.z_dim, c.model.output_activation = "ring8", 2, "linear"
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (8,)
    c.model.pack, c.reg.r1_gamma, c.train.batch_size = 4, 1.0, 16
    validate(c)
    dataset = build_dataset(c.data, seed=0)
    gan = build_gan(c, dataset.example_shape)
    assert isinstance(gan.discriminator, PackedDiscriminator)
    state = create_state(gan, dataset.example_shape, seed=0, ema=False)
    kernel = state.nets["D"].params["inner"]["Dense_0"]["kernel"]
    assert kernel.shape == (4 * 2, 8)  # D's first layer sees 4 points of 2 coordinates
    step = jax.jit(build_train_step(c, gan, dataset.example_shape))
    state, metrics = step(state, next(stack_batches(dataset.batches(16), 1)))
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert float(metrics["Loss/D/r1"]) > 0


def test_bad_pack_settings_fail_with_a_named_error():
    c = base_config()
    c.model.pack, c.train.batch_size = 3, 64
    with pytest.raises(ValueError, match="not a multiple of model.pack=3"):
        validate(c)
    with pytest.raises(ValueError, match="not a multiple of 3"):
        pack_examples(jnp.zeros((4, 2)), 3)
    c.model.pack, c.model.g_cond, c.model.d_cond = 2, "embed", "projection"
    with pytest.raises(ValueError, match="cannot take a conditional D"):
        build_models(c.model, (8, 8, 1), num_classes=10)
    c.model.pack, c.model.g_cond, c.model.d_cond = 0, "none", "none"
    with pytest.raises(ValueError, match="model.pack must be >= 1"):
        build_models(c.model, (8, 8, 1))


def test_dcgan_d_takes_packs_of_images():
    c = base_config()
    c.model.name, c.model.dcgan.ndf, c.model.pack = "dcgan", 4, 2
    _, d = build_models(c.model, (8, 8, 1))
    variables = d.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)), train=False)
    out = d.apply(variables, jnp.ones((6, 8, 8, 1)), train=False)
    assert out.shape == (3,)
