"""StyleGAN2 ops against independent references: scipy convolutions, per-sample convs, plain matmuls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal
from jax import lax

from jaxgan.models.stylegan2.discriminator import minibatch_std
from jaxgan.models.stylegan2.layers import Conv2dLayer, FullyConnected
from jaxgan.models.stylegan2.ops import (
    bias_act,
    conv2d_resample,
    demodulation,
    fir_filter,
    modulated_conv2d,
    setup_filter,
    upfirdn2d,
    upsample2d,
)


def _upfirdn_reference(x, f, up, down, pad, gain):
    """numpy/scipy: zero-stuff, pad or crop, full 2-D convolution per channel with the taps, keep every down-th."""
    px0, px1, py0, py1 = pad
    n, h, w, c = x.shape
    stuffed = np.zeros((n, h * up, w * up, c), np.float64)
    stuffed[:, ::up, ::up] = x
    padded = np.pad(stuffed, ((0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0)), (0, 0)))
    padded = padded[:, max(-py0, 0):padded.shape[1] - max(-py1, 0), max(-px0, 0):padded.shape[2] - max(-px1, 0)]
    kernel = f * gain
    out = np.stack([np.stack([scipy.signal.convolve2d(padded[i, :, :, ch], kernel, mode="valid")
                              for ch in range(c)], -1) for i in range(n)])
    return out[:, ::down, ::down]


@pytest.mark.parametrize("up,down,pad", [(1, 1, (1, 2, 0, 3)), (2, 1, (2, 1, 2, 1)), (1, 2, (1, 1, 1, 1)),
                                         (2, 1, (-1, 3, 2, -2)), (1, 2, (2, 0, 0, 2))])
def test_upfirdn2d_equals_scipy_convolution(up, down, pad):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    f = setup_filter([1, 2, 5, 1])  # asymmetric taps, so a missing or doubled flip shows up
    got = upfirdn2d(jnp.asarray(x), f, up=up, down=down, padding=pad, gain=up * up)
    want = _upfirdn_reference(x, f, up, down, pad, up * up)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_setup_filter_is_the_normalised_outer_product():
    f = setup_filter()
    np.testing.assert_allclose(f, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0)


def test_upsample_keeps_a_constant_image_constant_inside():
    x = jnp.ones((1, 6, 6, 2))
    y = upsample2d(x, setup_filter())
    assert y.shape == (1, 12, 12, 2)
    np.testing.assert_allclose(np.asarray(y[:, 2:-2, 2:-2]), 1.0, rtol=1e-6)


def test_bias_act_leaky_relu_gain_and_clamp():
    x = jnp.asarray([-2.0, -0.5, 0.5, 300.0])
    b = jnp.asarray(1.0)
    want = np.asarray([-1.0 * 0.2, 0.5, 1.5, 301.0]) * np.sqrt(2)
    np.testing.assert_allclose(np.asarray(bias_act(x, b, "lrelu")), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(bias_act(x, b, "lrelu", clamp=256.0))[-1], 256.0)
    np.testing.assert_allclose(np.asarray(bias_act(x, None, "linear")), np.asarray(x))


def _per_sample_modconv(x, weight, styles, up, demodulate):
    """The definition: each sample's own kernel weight * style, demodulated, used in an ordinary conv."""
    outs = []
    for n in range(x.shape[0]):
        w = weight * styles[n][None, None, :, None]
        if demodulate:
            w = w / jnp.sqrt(jnp.sum(jnp.square(w), axis=(0, 1, 2)) + 1e-8)
        xn = x[n:n + 1]
        k = weight.shape[0]
        if up > 1:  # FIR upsampling (checked against scipy above), then a valid conv
            xn = upfirdn2d(xn, setup_filter(), up=2, padding=(k // 2 + 2, k // 2 + 1) * 2, gain=4)
            outs.append(lax.conv_general_dilated(xn, w, (1, 1), "VALID",
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC")))
        else:
            outs.append(lax.conv_general_dilated(xn, w, (1, 1), "SAME",
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC")))
    return jnp.concatenate(outs)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("up,demodulate,k", [(1, True, 3), (2, True, 3), (1, False, 1)])
def test_modulated_conv_equals_per_sample_reference(fused, up, demodulate, k):
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (3, 5, 5, 4))
    weight = jax.random.normal(keys[1], (k, k, 4, 6))
    styles = jax.random.normal(keys[2], (3, 4)) + 1.0
    got = modulated_conv2d(x, weight, styles, up=up, padding=k // 2, f=setup_filter(), demodulate=demodulate,
                           fused=fused)
    want = _per_sample_modconv(x, weight, styles, up, demodulate)
    assert got.shape == (3, 5 * up, 5 * up, 6)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def _depthwise_reference(x, f, stride):
    """The same filtering as lax's depthwise conv (one group per channel), differentiated by lax's own rules."""
    c = x.shape[-1]
    kernel = jnp.tile(jnp.asarray(f)[:, :, None, None], (1, 1, 1, c))
    return lax.conv_general_dilated(x, kernel, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    feature_group_count=c, precision=lax.Precision.HIGHEST)


@pytest.mark.parametrize("stride,shape", [(1, (2, 9, 8, 3)), (2, (2, 10, 10, 3)), (2, (1, 11, 9, 2))])
def test_fir_filter_derivatives_to_third_order_equal_the_depthwise_conv(stride, shape):
    f = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)  # asymmetric: a flipped transpose fails
    x = jax.random.normal(jax.random.PRNGKey(0), shape)
    first = lambda fn: (lambda x: jnp.sum(jnp.sin(fn(x))))
    second = lambda fn: (lambda x: jnp.sum(jnp.square(jax.grad(first(fn))(x) * x)))
    third = lambda fn: (lambda x: jnp.sum(jnp.cos(jax.grad(second(fn))(x))))
    ours, theirs = (lambda x: fir_filter(x, f, stride)), (lambda x: _depthwise_reference(x, f, stride))
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    for order in (first, second, third):
        want = jax.grad(order(theirs))(x)
        np.testing.assert_allclose(jax.grad(order(ours))(x), want, rtol=1e-4, atol=1e-4 * float(jnp.max(abs(want))))


def test_demodulation_equals_the_norm_of_each_per_sample_kernel():
    rng = np.random.default_rng(2)
    weight, styles = rng.normal(size=(3, 3, 5, 7)), rng.normal(size=(4, 5))
    kernels = weight[None] * styles[:, None, None, :, None]  # [N, kh, kw, I, O], built in float64
    want = 1 / np.sqrt(np.sum(kernels**2, axis=(1, 2, 3)) + 1e-8)
    got = demodulation(jnp.asarray(weight, jnp.float32), jnp.asarray(styles, jnp.float32))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


@pytest.mark.parametrize("fused,up", [(False, 1), (False, 2), (True, 2)])
def test_modulated_conv_gradients_equal_the_per_sample_reference(fused, up):
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    args = (jax.random.normal(keys[0], (3, 5, 5, 4)), jax.random.normal(keys[1], (3, 3, 4, 6)),
            jax.random.normal(keys[2], (3, 4)) + 1.0)
    ours = lambda x, w, s: jnp.sum(jnp.sin(modulated_conv2d(x, w, s, up=up, padding=1, f=setup_filter(), fused=fused)))
    theirs = lambda x, w, s: jnp.sum(jnp.sin(_per_sample_modconv(x, w, s, up, True)))
    for got, want in zip(jax.grad(ours, (0, 1, 2))(*args), jax.grad(theirs, (0, 1, 2))(*args), strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_training_modulated_conv_builds_no_per_sample_kernels():
    x, w, s = jnp.ones((3, 5, 5, 4)), jnp.ones((3, 3, 4, 6)), jnp.ones((3, 4))
    loss = lambda x, w, s: jnp.sum(modulated_conv2d(x, w, s, padding=1))
    hlo = jax.jit(jax.grad(loss, (0, 1, 2))).lower(x, w, s).compile().as_text()
    assert "f32[3,3,3,4,6]" not in hlo  # [N, kh, kw, I, O]: 9.4M floats per layer at 512 maps


def test_downsampling_conv_equals_filter_then_strided_conv():
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 3))
    w = jax.random.normal(jax.random.PRNGKey(2), (3, 3, 3, 5))
    got = conv2d_resample(x, w, setup_filter(), down=2, padding=1)
    blurred = np.asarray(_upfirdn_reference(np.asarray(x), setup_filter(), 1, 1, (2, 2, 2, 2), 1.0), np.float32)
    want = lax.conv_general_dilated(blurred, w, (2, 2), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    assert got.shape == (2, 4, 4, 5)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_fully_connected_equalised_lr_forward_and_gradient():
    layer = FullyConnected(3, lr_multiplier=0.01, bias_init=0.5)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 5))
    params = layer.init(jax.random.PRNGKey(1), x)["params"]
    assert 50 < float(jnp.std(params["weight"])) < 200  # stored N(0, 1) / lr_multiplier
    gain = 0.01 / np.sqrt(5)
    effective = lambda w, b: x @ (w * gain) + b * 0.01
    np.testing.assert_allclose(np.asarray(layer.apply({"params": params}, x)),
                               np.asarray(effective(params["weight"], params["bias"])), rtol=1e-5)
    loss = lambda y: jnp.sum(jnp.sin(y))
    g_stored = jax.grad(lambda p: loss(layer.apply({"params": p}, x)))(params)
    w_eff = params["weight"] * gain
    g_eff = jax.grad(lambda w: loss(x @ w + params["bias"] * 0.01))(w_eff)
    np.testing.assert_allclose(np.asarray(g_stored["weight"]), np.asarray(g_eff) * gain, rtol=1e-4, atol=1e-7)


def test_conv_layer_equalised_lr_forward_and_gradient():
    layer = Conv2dLayer(4, 3, activation="lrelu")
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 6, 5))
    params = layer.init(jax.random.PRNGKey(1), x)["params"]
    gain = 1 / np.sqrt(5 * 9)
    conv = lambda w: lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    act = lambda y: jnp.where(y >= 0, y, 0.2 * y) * np.sqrt(2)
    np.testing.assert_allclose(np.asarray(layer.apply({"params": params}, x)),
                               np.asarray(act(conv(params["weight"] * gain) + params["bias"])), rtol=1e-4,
                               atol=1e-5)
    g_stored = jax.grad(lambda p: jnp.sum(layer.apply({"params": p}, x) ** 2))(params)["weight"]
    g_eff = jax.grad(lambda w: jnp.sum(act(conv(w)) ** 2))(params["weight"] * gain)
    np.testing.assert_allclose(np.asarray(g_stored), np.asarray(g_eff) * gain, rtol=1e-4, atol=1e-5)


def test_minibatch_std_matches_a_loop_over_groups():
    x = np.random.default_rng(0).normal(size=(8, 3, 3, 4)).astype(np.float32)
    got = np.asarray(minibatch_std(jnp.asarray(x), group_size=4, num_channels=2))
    assert got.shape == (8, 3, 3, 6)
    n = 8 // 4
    for j in range(n):  # group j holds samples j, j + n, j + 2n, j + 3n (the reference's reshape order)
        members = x[j::n]
        for f in range(2):
            part = members[..., f * 2:(f + 1) * 2]
            want = np.mean(np.sqrt(np.var(part, axis=0) + 1e-8))
            np.testing.assert_allclose(got[j::n, :, :, 4 + f], want, rtol=1e-5)
    np.testing.assert_array_equal(got[..., :4], x)
    with pytest.raises(ValueError, match="multiple of the group size"):
        minibatch_std(jnp.zeros((6, 2, 2, 1)), group_size=4)
