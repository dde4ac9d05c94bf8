"""The fast image layers compute what flax's layers compute, on the same params: values and gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import fast_layers
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.fast_layers import (
    CPUConvTranspose,
    CPUStridedConv,
    DepthToSpaceConvTranspose,
    GhostBatchNorm,
    PatchConvTranspose,
    PatchSpaceToDepthConv,
    SpaceToDepthConv,
    depth_to_space,
    space_to_depth,
)
from jaxgan.models.layers import ConvTranspose, flax_padding

TOL = dict(rtol=1e-5, atol=1e-5)


def normal(shape, seed):
    """Test data from numpy: eager jax.random compiles a program per shape, which is slow on the CPU."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def init(module, x, **kwargs):
    """module.init as one compiled program."""
    return jax.jit(lambda u: module.init(jax.random.PRNGKey(0), u, **kwargs))(x)


def value_and_vjp(fn, *args, seed=9):
    """fn(*args) and its VJP with a fixed random cotangent, in one compiled program (op by op is slow)."""

    @jax.jit
    def run(*args):
        y, vjp = jax.vjp(fn, *args)
        return y, vjp(jax.tree.map(lambda leaf: jnp.asarray(normal(leaf.shape, seed)), y))

    return run(*args)


def assert_same_function(reference, candidate, variables, x, tol=TOL):
    """Equal outputs and equal vector-Jacobian products w.r.t. the variables and the input."""
    expected, result = value_and_vjp(reference, variables, x), value_and_vjp(candidate, variables, x)
    assert jax.tree.structure(result) == jax.tree.structure(expected)
    for a, b in zip(jax.tree.leaves(result), jax.tree.leaves(expected), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("kernel,stride,padding,bias", [(4, 2, 1, False), (3, 2, 1, True), (3, 1, 1, False)])
def test_fast_conv_transpose_equals_flax_conv_transpose(kernel, stride, padding, bias):
    x = normal((2, 5, 5, 6), 0)
    ours = ConvTranspose(7, kernel, stride, padding, use_bias=bias)
    variables = init(ours, x)
    if bias:
        variables = jax.tree.map(lambda v: v + 0.1, variables)
    flax_layer = nn.ConvTranspose(7, (kernel, kernel), (stride, stride), padding=flax_padding(kernel, padding),
                                  use_bias=bias)
    assert_same_function(flax_layer.apply, ours.apply, variables, x)


@pytest.mark.parametrize("channels", [1, 3])
def test_space_to_depth_conv_equals_the_4x4_stride_2_conv(channels):
    x = normal((2, 8, 6, channels), 2)
    conv = nn.Conv(5, (4, 4), (2, 2), padding=((1, 1), (1, 1)), use_bias=False)
    variables = init(conv, x)
    assert jax.tree.structure(variables) == jax.tree.structure(jax.eval_shape(SpaceToDepthConv(5).init,
                                                                              jax.random.PRNGKey(0), x))
    assert_same_function(conv.apply, SpaceToDepthConv(5).apply, variables, x)


@pytest.mark.parametrize("channels", [1, 3])
def test_depth_to_space_conv_transpose_equals_the_4x4_stride_2_transposed_conv(channels):
    x = normal((2, 4, 3, 6), 4)
    variables = init(ConvTranspose(channels, use_bias=False), x)
    flax_layer = nn.ConvTranspose(channels, (4, 4), (2, 2), padding=flax_padding(4, 1), use_bias=False)
    assert_same_function(flax_layer.apply, DepthToSpaceConvTranspose(channels).apply, variables, x)


def test_space_to_depth_round_trip_and_layout():
    x = np.arange(2 * 4 * 6 * 3, dtype=np.float32).reshape(2, 4, 6, 3)
    s = space_to_depth(x)
    assert s.shape == (2, 2, 3, 12)
    np.testing.assert_array_equal(s[1, 1, 2].reshape(2, 2, 3), x[1, 2:4, 4:6])  # one 2x2 block per position
    np.testing.assert_array_equal(depth_to_space(s), x)
    with pytest.raises(ValueError, match="even height and width"):
        space_to_depth(np.zeros((1, 3, 4, 1)))


def test_ghost_batch_norm_with_one_group_is_flax_batch_norm():
    x = normal((8, 3, 3, 4), 6) * 2 + 1
    flax_bn = nn.BatchNorm(use_running_average=False, momentum=0.9)
    ghost = GhostBatchNorm(groups=1, momentum=0.9)
    variables = init(flax_bn, x)
    assert jax.tree.structure(variables) == jax.tree.structure(jax.eval_shape(ghost.init, jax.random.PRNGKey(0), x))
    variables = {**variables, "params": jax.tree.map(lambda p: p + normal(p.shape, 7), variables["params"])}

    def train_mode(module):
        return lambda params, u: module.apply({**variables, "params": params}, u, mutable=["batch_stats"])

    # Outputs, updated running statistics and gradients agree.
    assert_same_function(train_mode(flax_bn), train_mode(ghost), variables["params"], x, dict(rtol=1e-4, atol=1e-5))
    inference = {**variables, "batch_stats": {"mean": normal((4,), 1), "var": 1 + jnp.abs(normal((4,), 2))}}
    np.testing.assert_allclose(GhostBatchNorm(groups=4, use_running_average=True).apply(inference, x),
                               nn.BatchNorm(use_running_average=True).apply(inference, x), **TOL)


@pytest.fixture(params=["lax", "lax-chunked", "sub-pixel"])
def transposed_form(request, monkeypatch):
    """Every form of the CPU transposed conv's forward (and the CPU strided conv's input gradient)."""
    if request.param == "sub-pixel":
        monkeypatch.setattr(fast_layers, "D2S_MIN_SIZE", 1)
        monkeypatch.setattr(fast_layers, "D2S_MIN_FEATURES", 1)
    else:
        monkeypatch.setattr(fast_layers, "D2S_MIN_SIZE", 10**6)
    if request.param == "lax-chunked":  # the batch of 2 or 4 in chunks of one example, forward convs too
        monkeypatch.setattr(fast_layers, "TFWD_CHUNK", 1)
        monkeypatch.setattr(fast_layers, "FWD_CHUNK", 1)
        monkeypatch.setattr(fast_layers, "FWD_CHUNK_MIN_SIZE", 1)
        monkeypatch.setattr(fast_layers, "WGRAD_CHUNKS", ((1, 1),))
    return request.param


@pytest.mark.parametrize("layer,channels",
                         [(CPUStridedConv, 6), (PatchSpaceToDepthConv, 3), (PatchSpaceToDepthConv, 5)])
def test_cpu_strided_conv_forms_equal_flax_conv(layer, channels, transposed_form):
    x = normal((2, 8, 6, channels), 12)
    conv = nn.Conv(7, (4, 4), (2, 2), padding=((1, 1), (1, 1)), use_bias=False)
    variables = init(conv, x)
    assert jax.tree.structure(variables) == jax.tree.structure(jax.eval_shape(layer(7).init,
                                                                              jax.random.PRNGKey(0), x))
    assert_same_function(conv.apply, layer(7).apply, variables, x)


@pytest.mark.parametrize("layer,channels", [(CPUConvTranspose, 7), (PatchConvTranspose, 3), (PatchConvTranspose, 5)])
def test_cpu_conv_transpose_forms_equal_flax_conv_transpose(layer, channels, transposed_form):
    x = normal((2, 4, 3, 6), 13)
    variables = init(ConvTranspose(channels, use_bias=False), x)
    flax_layer = nn.ConvTranspose(channels, (4, 4), (2, 2), padding=flax_padding(4, 1), use_bias=False)
    assert_same_function(flax_layer.apply, layer(channels).apply, variables, x)


@pytest.mark.parametrize("net", [DCGANGenerator(16, 3, 8), DCGANDiscriminator(16, 8)], ids=["G", "D"])
@pytest.mark.parametrize("forms", ["cpu", "gpu"])
def test_dcgan_layer_forms_compute_the_same_network(net, forms, transposed_form):
    inputs = normal((4, 8), 14) if isinstance(net, DCGANGenerator) else np.tanh(normal((4, 16, 16, 3), 15))
    fast, plain = net.clone(forms=forms), net.clone(forms="plain")
    variables = init(fast, inputs, train=False)
    assert jax.tree.structure(variables) == jax.tree.structure(
        jax.eval_shape(lambda u: plain.init(jax.random.PRNGKey(0), u, train=False), inputs))

    def train_mode(module):
        return lambda params, u: module.apply({**variables, "params": params}, u, train=True,
                                              mutable=["batch_stats"])[0]

    assert_same_function(train_mode(plain), train_mode(fast), variables["params"], inputs,
                         dict(rtol=1e-4, atol=1e-4))
