"""ADA: p = 0 is exactly the identity, each op against a known image, differentiability, and the p controller."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.terms import ada

B, H, W = 3, 8, 8


def _images(channels=3, seed=0):
    return jax.random.normal(jax.random.PRNGKey(seed), (B, H, W, channels))


def _with(**kw):
    return {**ada.identity_params(B), **{k: jnp.asarray(v, jnp.float32) for k, v in kw.items()}}


@pytest.mark.parametrize("channels", [3, 1])
def test_p_zero_is_exactly_the_identity(channels):
    x = _images(channels)
    run = jax.jit(lambda x, k, p: ada.augment(x, k, p, ada.preset("bgc")))
    out = run(x, jax.random.PRNGKey(1), 0.0)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(x))
    moved = run(x, jax.random.PRNGKey(1), 1.0)
    assert float(jnp.mean(jnp.abs(moved - x))) > 0.1  # and p = 1 does change the images


def test_xflip_reverses_columns():
    x = _images()
    out = ada.apply_params(x, _with(xflip=[1, 0, 1]))
    np.testing.assert_array_equal(np.asarray(out[0]), np.asarray(x[0, :, ::-1]))
    np.testing.assert_array_equal(np.asarray(out[1]), np.asarray(x[1]))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_rotate90_equals_np_rot90(k):
    x = _images()
    out = ada.apply_params(x, _with(rotate90=[k] * B))
    np.testing.assert_array_equal(np.asarray(out), np.rot90(np.asarray(x), k, axes=(1, 2)))


def test_integer_translation_shifts_with_reflect_padding():
    x = _images()
    tx, ty = 2, -1
    out = ada.apply_params(x, _with(xint=[[tx, ty]] * B))
    padded = np.pad(np.asarray(x), ((0, 0), (1, 1), (2, 2), (0, 0)), mode="reflect")
    want = padded[:, 1 + 1:1 + 1 + H, 0:W]  # out[y, x] = in[y - ty, x - tx]
    np.testing.assert_allclose(np.asarray(out), want, rtol=0, atol=1e-6)
    frac = ada.apply_params(x, _with(xfrac=[[tx, ty]] * B))  # a whole-pixel 'fractional' shift agrees
    np.testing.assert_allclose(np.asarray(frac), want, atol=1e-5)


def test_rotation_by_pi_is_rot180_and_scale_zooms_about_the_centre():
    x = _images()
    out = ada.apply_params(x, _with(rotate_pre=[np.pi] * B))
    np.testing.assert_allclose(np.asarray(out), np.rot90(np.asarray(x), 2, axes=(1, 2)), atol=1e-4)
    ramp = jnp.broadcast_to((jnp.arange(W, dtype=jnp.float32) - (W - 1) / 2)[None, None, :, None], (B, H, W, 3))
    zoom = ada.apply_params(ramp, _with(scale=[2.0] * B))  # output x reads input x / 2: the ramp halves
    np.testing.assert_allclose(np.asarray(zoom[:, :, 2:-2]), np.asarray(ramp[:, :, 2:-2]) / 2, atol=1e-4)
    aniso = ada.apply_params(ramp, _with(aniso=[2.0] * B))  # x scaled by 2, y by 1/2: the x ramp halves
    np.testing.assert_allclose(np.asarray(aniso[:, :, 2:-2]), np.asarray(ramp[:, :, 2:-2]) / 2, atol=1e-4)


def test_color_ops_on_known_pixels():
    rgb = jnp.asarray([0.5, -0.2, 0.1])
    x = jnp.broadcast_to(rgb, (B, 2, 2, 3))
    apply = lambda **kw: np.asarray(ada.apply_params(x, _with(**kw), ada.preset("color"))[0, 0, 0])
    np.testing.assert_allclose(apply(brightness=[0.3] * B), rgb + 0.3, atol=1e-6)
    np.testing.assert_allclose(apply(contrast=[2.0] * B), rgb * 2, atol=1e-6)
    mean = float(jnp.mean(rgb))
    np.testing.assert_allclose(apply(lumaflip=[1] * B), rgb - 2 * mean, atol=1e-6)  # reflect the luma part
    np.testing.assert_allclose(apply(saturation=[0.0] * B), [mean] * 3, atol=1e-6)  # grey
    hue = apply(hue=[2 * np.pi / 3] * B)  # a third of a turn about the grey axis permutes the channels
    assert np.allclose(hue, np.roll(rgb, 1), atol=1e-5) or np.allclose(hue, np.roll(rgb, -1), atol=1e-5)


def test_colour_ops_compose_in_the_references_order_brightness_first():
    """augment.py builds C = contrast @ brightness (each op left-multiplies): c * (x + b), not c * x + b."""
    rgb = jnp.asarray([0.5, -0.2, 0.1])
    x = jnp.broadcast_to(rgb, (B, 2, 2, 3))
    out = ada.apply_params(x, _with(brightness=[0.3] * B, contrast=[2.0] * B), ada.preset("color"))
    np.testing.assert_allclose(np.asarray(out[0, 0, 0]), 2.0 * (rgb + 0.3), atol=1e-6)
    out = ada.apply_params(x, _with(brightness=[0.3] * B, saturation=[0.0] * B), ada.preset("color"))
    np.testing.assert_allclose(np.asarray(out[0, 0, 0]), [float(jnp.mean(rgb)) + 0.3] * 3, atol=1e-6)  # grey last


def _centred_ramps():
    """Images whose channel 0 is the pixel's centred x and channel 1 its centred y."""
    xs = jnp.arange(W, dtype=jnp.float32) - (W - 1) / 2
    ys = jnp.arange(H, dtype=jnp.float32) - (H - 1) / 2
    grid = jnp.stack(jnp.meshgrid(xs, ys, indexing="xy") + [jnp.zeros((H, W))], -1)
    return jnp.broadcast_to(grid, (B, H, W, 3)), np.asarray(grid[..., 0]), np.asarray(grid[..., 1])


def test_geometric_ops_compose_in_the_references_order():
    """augment.py right-multiplies G_inv op by op (xflip, ..., xint, ..., rotate, aniso, ...): an output pixel p reads
    the input at xflip_inv(xint_inv(p)) and at rotate_inv(aniso_inv(p)), worked by hand on coordinate ramps."""
    ramps, x, y = _centred_ramps()
    out = np.asarray(ada.apply_params(ramps, _with(xflip=[1] * B, xint=[[1, 0]] * B)))
    # flip(p - t): the input x is -(x - 1) = 1 - x (the other order would read -x - 1)
    np.testing.assert_allclose(out[0, :, 1:-1, 0], (1 - x)[:, 1:-1], atol=1e-4)
    out = np.asarray(ada.apply_params(ramps, _with(rotate_pre=[np.pi / 2] * B, aniso=[2.0] * B)))
    # R(pi/2) S(1/2, 2) p = R(pi/2) (x / 2, 2 y) = (-2 y, x / 2) (the other order: (-y / 2, 2 x))
    rows = slice(3, -3)  # |2 y| <= 1: the bicubic taps stay inside the image
    np.testing.assert_allclose(out[0, rows, :, 0], -2 * y[rows], atol=1e-4)
    np.testing.assert_allclose(out[0, rows, 2:-2, 1], x[rows, 2:-2] / 2, atol=1e-4)


def test_rotation_fires_pre_and_post_each_with_one_minus_sqrt_one_minus_p():
    """The reference's p_rot = 1 - sqrt(1 - rotate * p) for each of the two rotations, so that P(pre or post) is
    rotate * p: at p = 0.5, 0.293 each and 0.5 for either."""
    params = ada.sample_params(ada.AugmentSpec(rotate=1.0), jax.random.PRNGKey(0), 20000, H, W, 0.5)
    pre, post = np.asarray(params["rotate_pre"]) != 0, np.asarray(params["rotate_post"]) != 0
    assert abs(pre.mean() - (1 - np.sqrt(0.5))) < 0.015 and abs(post.mean() - (1 - np.sqrt(0.5))) < 0.015
    assert abs((pre | post).mean() - 0.5) < 0.015


def test_each_op_fires_with_probability_multiplier_times_p():
    spec = ada.AugmentSpec(xflip=1.0, brightness=0.5)
    params = ada.sample_params(spec, jax.random.PRNGKey(0), 20000, H, W, 0.8)
    assert abs(float(jnp.mean(params["xflip"])) - 0.8 / 2) < 0.02  # fires w.p. 0.8, then flips w.p. 1/2
    assert abs(float(jnp.mean(params["brightness"] != 0)) - 0.4) < 0.02
    assert float(jnp.max(jnp.abs(params["hue"]))) == 0.0  # multiplier 0: never


def test_augmentation_is_differentiable_wrt_images():
    x = _images()
    f = lambda x: jnp.sum(jnp.sin(ada.augment(x, jax.random.PRNGKey(3), 0.7, ada.preset("bgc"))))
    g = jax.jit(jax.grad(f))(x)
    assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.sum(jnp.abs(g))) > 1.0
    weights = jax.random.normal(jax.random.PRNGKey(4), x.shape)
    gflip = jax.grad(lambda x: jnp.sum(ada.apply_params(x, _with(xflip=[1] * B)) * weights))(x)
    np.testing.assert_allclose(np.asarray(gflip), np.asarray(weights[:, :, ::-1]), atol=1e-6)


def test_ada_update_moves_p_toward_the_target():
    step = 64 * 4 / 500_000
    kw = dict(batch_size=64, interval=4, kimg=500)
    up = ada.ada_update(jnp.float32(0.3), jnp.float32(0.9 * 256), 256, **kw)  # r_t = 0.9 > 0.6: overfitting
    np.testing.assert_allclose(float(up), 0.3 + step, rtol=1e-6)
    down = ada.ada_update(jnp.float32(0.3), jnp.float32(0.1 * 256), 256, **kw)
    np.testing.assert_allclose(float(down), 0.3 - step, rtol=1e-6)
    assert float(ada.ada_update(jnp.float32(0.0), jnp.float32(-10.0), 20, **kw)) == 0.0  # clipped at 0
    assert float(ada.ada_update(jnp.float32(1.0), jnp.float32(20.0), 20, **kw)) == 1.0  # clipped at 1
    for bad in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"ADA target must lie in \(0, 1\)"):
            ada.ada_update(jnp.float32(0.1), jnp.float32(0.0), 1, target=bad, **kw)
    with pytest.raises(ValueError, match="Unknown ADA preset"):
        ada.preset("bgcfnc")
