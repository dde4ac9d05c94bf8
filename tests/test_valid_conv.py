"""The CPU conv forms (`jaxgan.models.valid_conv`, StyleGAN2's up-conv): lax's values and derivatives to third order,
and no reversed-window convolution in a compiled second-order program (XLA:CPU runs those as naive loops)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models.stylegan2 import ops
from jaxgan.models.valid_conv import lax_conv, patch_conv, valid_conv

SHAPES = [(8, 3, 1), (9, 3, 2), (10, 3, 2), (7, 1, 1), (6, 4, 2)]  # (side, kernel, stride): odd and even remainders


def arrays(side, kernel, cin=3, cout=4, seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(2, side, side + 1, cin)), jnp.float32)
    return x, jnp.asarray(rng.normal(size=(kernel, kernel, cin, cout)) * 0.3, jnp.float32)


def derivatives(conv, order=2):
    """The value and the derivatives up to `order` (at most 3) of a smooth loss through `conv`, w.r.t. input and
    kernel, as one jitted function."""
    loss = lambda x, w: jnp.sum(jnp.sin(conv(x, w)))
    r1 = lambda x, w: jnp.sum(jnp.square(jax.grad(loss)(x, w))) + jnp.sum(jnp.square(jax.grad(loss, 1)(x, w)))
    third = lambda x, w: jnp.sum(jnp.square(jax.grad(r1, 1)(x, w)))
    fns = (loss, jax.grad(loss, (0, 1)), jax.grad(r1, (0, 1)), jax.grad(third, (0, 1)))[:order + 1]
    return jax.jit(lambda x, w: [fn(x, w) for fn in fns])


def assert_close_trees(ours, ref):
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-4 * float(jnp.max(jnp.abs(b))))


@pytest.mark.parametrize("form", [valid_conv, patch_conv])
def test_conv_forms_equal_lax_to_second_order_and_third_at_a_stride_of_two(form):
    for side, kernel, stride in SHAPES:
        x, w = arrays(side, kernel)
        order = 3 if (side, stride) == (9, 2) else 2
        ours = derivatives(lambda x, w, s=stride: form(x, w, s), order)(x, w)
        assert_close_trees(ours, derivatives(lambda x, w, s=stride: lax_conv(x, w, s), order)(x, w))


def r1_weight_grad_hlo(conv, stride):
    """The optimised HLO of d/dw of an R1-like penalty ||d/dx sum(softplus(conv(x, w)))||^2."""
    x, w = arrays(11, 3, 8, 8)
    d = lambda x, w: jnp.sum(jax.nn.softplus(conv(x, w, stride)))
    r1 = lambda w, x: jnp.sum(jnp.square(jax.grad(d)(x, w)))
    return jax.jit(jax.grad(r1)).lower(w, x).compile().as_text()


@pytest.mark.parametrize("stride", [1, 2])
def test_no_reversed_window_conv_in_second_order_programs(stride):
    assert "rhs_reversal" in r1_weight_grad_hlo(lax_conv, stride)  # the check sees lax's reversed windows
    assert "rhs_reversal" not in r1_weight_grad_hlo(valid_conv, stride)
    assert "rhs_reversal" not in r1_weight_grad_hlo(patch_conv, stride)


def test_the_up_conv_at_low_resolution_equals_fir_upsampling_then_conv(monkeypatch):
    """The transposed-conv form of the 2x up-conv (CPU) equals the FIR-upsample-then-3x3 form, with derivatives."""
    f = ops.setup_filter()
    x, w = arrays(5, 3, 3, 4, seed=1)
    up = lambda x, w: ops.conv2d_resample(x, w, f=f, up=2, padding=1)
    assert ops._polyphase_up() == (jax.default_backend() == "cpu")
    ours = derivatives(up)(x, w)
    monkeypatch.setattr(ops, "_polyphase_up", lambda: False)
    assert_close_trees(ours, derivatives(up)(x, w))
    assert up(x, w).shape == (2, 10, 12, 4)


@functools.cache
def stylegan2_lazy_hlo():
    """The optimised HLO of StyleGAN2's Greg and Dreg phases at a tiny size, as the trainer compiles them."""
    from jaxgan.tools.benchmark_stylegan2 import build_programs, stylegan2_config

    programs, _ = build_programs(stylegan2_config(8, 4, 1.0, False, quick=True), 8)
    return {name: programs.program(name).as_text() for name in ("Greg", "Dreg")}


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the CPU's conv form")
@pytest.mark.parametrize("phase", ["Greg", "Dreg"])
def test_stylegan2_lazy_phases_hold_no_reversed_window_conv(phase):
    hlo = stylegan2_lazy_hlo()[phase]
    assert "convolution(" in hlo and "rhs_reversal" not in hlo
