"""DiffAugment (Zhao et al. 2020): differentiable translation, cutout and colour transforms of D's inputs.

The same policy transforms real and fake images every time D sees them (both D and G updates, and the inputs of
gradient penalties), each example with its own random parameters, so D cannot memorise a small data set and G still
gets gradients through the transform. Ported from the paper's reference code (`DiffAugment_pytorch.py`) to NHWC
images in [-1, 1]: brightness adds U(-0.5, 0.5); saturation scales the distance to the per-pixel channel mean by
U(0, 2); contrast scales the distance to the image mean by U(0.5, 1.5); translation shifts by up to 1/8 of the size
(zeros come in); cutout zeroes a square of half the size at a random centre.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections

AugmentFn = Callable[[jax.Array, jax.Array], jax.Array]


def _uniform(key: jax.Array, x: jax.Array, low: float = 0.0, high: float = 1.0) -> jax.Array:
    """One U(low, high) value per example, shaped to broadcast over (B, H, W, C)."""
    return jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype, low, high)


def brightness(x: jax.Array, key: jax.Array) -> jax.Array:
    """Add U(-0.5, 0.5) to every pixel of an example."""
    return x + _uniform(key, x, -0.5, 0.5)


def saturation(x: jax.Array, key: jax.Array) -> jax.Array:
    """Scale each pixel's distance to its channel mean by U(0, 2) (a no-op on one-channel images)."""
    mean = jnp.mean(x, axis=3, keepdims=True)
    return (x - mean) * _uniform(key, x, 0.0, 2.0) + mean


def contrast(x: jax.Array, key: jax.Array) -> jax.Array:
    """Scale each pixel's distance to the image mean by U(0.5, 1.5)."""
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * _uniform(key, x, 0.5, 1.5) + mean


def _shift_axis(x: jax.Array, shift: jax.Array, axis: int) -> jax.Array:
    """out[..., i, ...] = x[..., i + shift, ...] along `axis` (1 or 2), zero where that falls outside."""
    size = x.shape[axis]
    src = jnp.arange(size)[None, :] + shift[:, None]  # (B, size)
    valid = (src >= 0) & (src < size)
    index_shape = (x.shape[0], size, 1, 1) if axis == 1 else (x.shape[0], 1, size, 1)
    moved = jnp.take_along_axis(x, jnp.clip(src, 0, size - 1).reshape(index_shape), axis=axis)
    return moved * valid.reshape(index_shape).astype(x.dtype)


def translation(x: jax.Array, key: jax.Array, ratio: float = 0.125) -> jax.Array:
    """Shift each example by integers in [-r, r] pixels per axis, r = round(ratio * size), filling with zeros."""
    kh, kw = jax.random.split(key)
    rh, rw = int(x.shape[1] * ratio + 0.5), int(x.shape[2] * ratio + 0.5)
    x = _shift_axis(x, jax.random.randint(kh, (x.shape[0],), -rh, rh + 1), axis=1)
    return _shift_axis(x, jax.random.randint(kw, (x.shape[0],), -rw, rw + 1), axis=2)


def cutout(x: jax.Array, key: jax.Array, ratio: float = 0.5) -> jax.Array:
    """Zero a square of round(ratio * size) pixels per side centred at a random point of each example."""
    kh, kw = jax.random.split(key)
    masks = []
    for axis, k in ((1, kh), (2, kw)):
        size = x.shape[axis]
        cut = int(size * ratio + 0.5)
        centre = jax.random.randint(k, (x.shape[0],), 0, size + (1 - cut % 2))
        start = centre - cut // 2
        i = jnp.arange(size)[None, :]
        masks.append((i >= start[:, None]) & (i < start[:, None] + cut))
    inside = masks[0][:, :, None] & masks[1][:, None, :]
    return x * (~inside)[..., None].astype(x.dtype)


POLICY_OPS: dict[str, tuple[str, ...]] = {
    "color": ("brightness", "saturation", "contrast"),
    "translation": ("translation",),
    "cutout": ("cutout",),
}


def default_config() -> ml_collections.ConfigDict:
    """The `augment` block: DiffAugment off."""
    return ml_collections.ConfigDict(dict(
        policy="",          # DiffAugment (Zhao et al. 2020): "" or a subset of "color,translation,cutout"
        translation_ratio=0.125,  # max shift as a fraction of the image size
        cutout_ratio=0.5,   # cutout square side as a fraction of the image size
    ))


def validate(cfg: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key for an unknown transform or a ratio outside [0, 1]."""
    parse_policy(cfg.policy)
    for key in ("translation_ratio", "cutout_ratio"):
        if not 0.0 <= cfg[key] <= 1.0:
            raise ValueError(f"augment.{key} must be in [0, 1], got {cfg[key]}.")


def parse_policy(policy: str) -> tuple[str, ...]:
    """The transform groups of a comma-separated policy such as "color,translation,cutout" ("" = none)."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in POLICY_OPS]
    if unknown:
        raise ValueError(f"Unknown DiffAugment transform(s) {unknown} in augment.policy={policy!r}; use a "
                         f"comma-separated subset of {sorted(POLICY_OPS)}, e.g. 'color,translation,cutout'.")
    return names


def diff_augment(x: jax.Array, key: jax.Array, policy: str = "color,translation,cutout",
                 translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> jax.Array:
    """Apply the policy's transforms in order to a batch of NHWC images, with per-example random parameters."""
    if x.ndim != 4:
        raise ValueError(f"DiffAugment transforms images (B, H, W, C); got shape {x.shape}. "
                         "Set augment.policy='' for non-image data.")
    ops = {"brightness": brightness, "saturation": saturation, "contrast": contrast,
           "translation": lambda x, k: translation(x, k, translation_ratio),
           "cutout": lambda x, k: cutout(x, k, cutout_ratio)}
    names = [op for group in parse_policy(policy) for op in POLICY_OPS[group]]
    for i, name in enumerate(names):
        x = ops[name](x, jax.random.fold_in(key, i))
    return x


def make_diff_augment(policy: str, translation_ratio: float = 0.125, cutout_ratio: float = 0.5
                      ) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array] | None:
    """The `(x, key, step) -> x` input transform of the train step for `policy`, or None for an empty policy."""
    if not parse_policy(policy):
        return None
    return lambda x, key, step: diff_augment(x, key, policy, translation_ratio, cutout_ratio)
