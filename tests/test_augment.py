"""DiffAugment: shapes, what each transform does to an image, differentiability, and bad policies."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config
from jaxgan.objectives.factory import build_d_input
from jaxgan.terms.augment import brightness, cutout, diff_augment, make_diff_augment, parse_policy, translation

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


def per_example(key, low, high):
    """The transform's U(low, high) draw from `key`, one value per example of X (numpy, shaped (B, 1, 1, 1))."""
    return np.asarray(jax.random.uniform(key, (len(X), 1, 1, 1), jnp.float32, low, high))


def test_colour_is_brightness_then_saturation_then_contrast_by_the_papers_formulas():
    out = np.asarray(diff_augment(X, KEY, "color"))
    keys = [jax.random.fold_in(KEY, i) for i in range(3)]  # diff_augment's key of the i-th transform
    x = np.asarray(X, np.float64) + per_example(keys[0], -0.5, 0.5)  # brightness: x + (r - 0.5)
    mean = x.mean(axis=3, keepdims=True)  # saturation: (x - channel mean) * 2r + channel mean
    x = (x - mean) * per_example(keys[1], 0.0, 2.0) + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)  # contrast: (x - image mean) * (r + 0.5) + image mean
    x = (x - mean) * per_example(keys[2], 0.5, 1.5) + mean
    np.testing.assert_allclose(out, x, rtol=1e-5, atol=1e-5)


def test_translation_shifts_by_the_drawn_offsets_with_zero_fill():
    x = np.asarray(X) + 2.0
    out = np.asarray(diff_augment(jnp.asarray(x), KEY, "translation", translation_ratio=0.25))
    kh, kw = jax.random.split(jax.random.fold_in(KEY, 0))
    dy, dx = (np.asarray(jax.random.randint(k, (len(x),), -2, 3)) for k in (kh, kw))  # r = round(0.25 * 8) = 2
    assert len(set(zip(dy.tolist(), dx.tolist(), strict=True))) > 2  # the examples really get different shifts
    for b in range(len(x)):
        np.testing.assert_array_equal(out[b], shifted(x[b], dy[b], dx[b]), err_msg=f"example {b}")


def test_cutout_zeroes_the_square_at_the_drawn_centre():
    x = np.asarray(X) + 2.0
    out = np.asarray(diff_augment(jnp.asarray(x), KEY, "cutout", cutout_ratio=0.5))
    kh, kw = jax.random.split(jax.random.fold_in(KEY, 0))
    cut = 4  # round(0.5 * 8); the paper draws the centre in [0, size + 1 - cut % 2), the square starts cut // 2 before
    cy, cx = (np.asarray(jax.random.randint(k, (len(x),), 0, 8 + 1)) for k in (kh, kw))
    expected = x.copy()
    for b, (top, left) in enumerate(zip(cy - cut // 2, cx - cut // 2, strict=True)):
        expected[b, max(top, 0):top + cut, max(left, 0):left + cut] = 0  # clipped at the border
    np.testing.assert_array_equal(out, expected)


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
