"""DiffAugment: shapes, what each transform does to an image, differentiability, and bad policies."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.augment import brightness, cutout, diff_augment, make_diff_augment, parse_policy, translation
from jaxgan.config import base_config
from jaxgan.factory import build_d_input

KEY = jax.random.PRNGKey(0)
X = jax.random.uniform(jax.random.PRNGKey(1), (6, 8, 8, 3), jnp.float32, -1.0, 1.0)


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_policies_keep_shape_and_dtype(policy):
    out = jax.jit(lambda x, k: diff_augment(x, k, policy))(X, KEY)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert not np.allclose(out, X)


def shifted(x, dy, dx):
    """x[i + dy, j + dx] with zeros outside, in numpy (the paper's padded gather)."""
    h, w = x.shape[:2]
    out = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            if 0 <= i + dy < h and 0 <= j + dx < w:
                out[i, j] = x[i + dy, j + dx]
    return out


def test_translation_shifts_each_example_by_at_most_an_eighth_with_zero_fill():
    x = np.asarray(X) + 2.0  # no zeros in the input, so zeros in the output mark the fill
    out = np.asarray(translation(jnp.asarray(x), KEY, ratio=0.25))  # shifts in [-2, 2]
    for b in range(len(x)):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.allclose(out[b], shifted(x[b], dy, dx))]
        assert len(matches) == 1, f"example {b} is not a translation of its input"


def test_cutout_zeroes_one_square_and_keeps_the_rest():
    x = np.asarray(X) + 2.0
    out = np.asarray(cutout(jnp.asarray(x), KEY, ratio=0.5))  # a 4x4 square, clipped at the border
    for b in range(len(x)):
        zero = np.all(out[b] == 0, axis=-1)
        rows, cols = np.nonzero(zero)
        assert 0 < zero.sum() <= 16
        assert zero.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # a rectangle
        np.testing.assert_array_equal(out[b][~zero], x[b][~zero])


def test_brightness_adds_one_offset_per_example_in_half_unit_range():
    delta = np.asarray(brightness(X, KEY) - X)
    per_example = delta.reshape(len(delta), -1)
    np.testing.assert_allclose(per_example, per_example[:, :1].repeat(per_example.shape[1], 1), atol=1e-6)
    assert np.all(np.abs(per_example) <= 0.5)


def test_diff_augment_is_differentiable_and_matches_finite_differences():
    # For a fixed key every transform is affine in x, so central differences are exact up to rounding.
    w = jax.random.normal(jax.random.PRNGKey(2), X.shape)
    f = lambda x: jnp.sum(w * diff_augment(x, KEY, "color,translation,cutout"))
    grad = jax.jit(jax.grad(f))(X)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)
    v = jax.random.normal(jax.random.PRNGKey(3), X.shape)
    eps = 1e-2
    fd = (float(f(X + eps * v)) - float(f(X - eps * v))) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(grad * v)), fd, rtol=1e-3)


def test_bad_policies_and_non_images_are_rejected():
    with pytest.raises(ValueError, match="Unknown DiffAugment"):
        parse_policy("color,flip")
    with pytest.raises(ValueError, match="images"):
        diff_augment(jnp.zeros((4, 2)), KEY, "color")
    assert make_diff_augment("") is None
    config = base_config()
    config.augment.policy = "translation"
    with pytest.raises(ValueError, match="non-image"):
        build_d_input(config, (2,))


def test_d_input_composes_diff_augment_and_instance_noise():
    config = base_config()
    config.augment.policy = "translation"
    config.reg.instance_noise_std = 0.1
    transform = build_d_input(config, (8, 8, 3))
    out = transform(X, KEY, jnp.asarray(0))
    assert out.shape == X.shape
    shifted_x = diff_augment(X, jax.random.split(KEY)[0], "translation")
    assert 0.08 < float(jnp.std(out - shifted_x)) < 0.12  # N(0, 0.1^2) noise on the shifted images
