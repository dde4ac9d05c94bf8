"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training GANs with Limited Data") on the device.

Follows NVlabs stylegan2-ada-pytorch `training/augment.py` for NHWC images in [-1, 1]: every op is applied to each
example with probability `multiplier * p`, with its own random parameters. The geometric ops (x-flip, rotate90,
integer translation, isotropic scaling, rotation before and after anisotropic scaling, fractional translation) are
composed into one inverse 3x3 matrix per example and applied with one resampling; the colour ops (brightness,
contrast, luma flip, hue, saturation) into one 4x4 colour matrix. The parameters are sampled by `sample_params`
and applied by `apply_params`, so tests (and ablations) can inject known ones.

Deviation from the reference: the resampling is bicubic (Keys, a = -0.5) with reflect padding of unbounded extent,
instead of the reference's 2x upsampling with a sym6 wavelet, bilinear grid_sample and downsampling. At integer
offsets bicubic weights are exactly (0, 1, 0, 0), so the pixel-blitting ops and p = 0 are exact; fractional
offsets are slightly blurrier than the reference's. Everything is jit-able and differentiable w.r.t. the images.

`ada_update` is the p controller: p += sign(r_t - target) * batch * interval / (kimg * 1000), clipped to [0, 1]
(the reference clips only at 0), with r_t = E[sign(D(real))] over the last `interval` steps.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

Params = dict[str, jax.Array]
GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
PRESETS = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": COLOR,
    "bgc": GEOMETRIC + COLOR,
}
LUMA_AXIS = np.asarray([1, 1, 1, 0], np.float32) / np.sqrt(3)


@dataclasses.dataclass(frozen=True)
class AugmentSpec:
    """Probability multipliers of each op (0 = off) and the reference's parameter ranges."""

    xflip: float = 0.0
    rotate90: float = 0.0
    xint: float = 0.0
    scale: float = 0.0
    rotate: float = 0.0
    aniso: float = 0.0
    xfrac: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    lumaflip: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    xint_max: float = 0.125  # integer translation range, relative to the image size
    scale_std: float = 0.2  # log2 std of isotropic scaling
    rotate_max: float = 1.0  # rotation range, 1 = full circle
    aniso_std: float = 0.2  # log2 std of anisotropic scaling
    xfrac_std: float = 0.125  # std of fractional translation, relative to the image size
    brightness_std: float = 0.2
    contrast_std: float = 0.5  # log2 std
    hue_max: float = 1.0  # 1 = full circle
    saturation_std: float = 1.0  # log2 std


def preset(name: str) -> AugmentSpec:
    """The reference's augmentation presets ('blit', 'geom', 'color', 'bgc'), every op at multiplier 1."""
    if name not in PRESETS:
        raise ValueError(f"Unknown ADA preset {name!r}; choose one of {sorted(PRESETS)}.")
    return AugmentSpec(**dict.fromkeys(PRESETS[name], 1.0))


def identity_params(batch: int) -> Params:
    """Parameters under which every op is the identity (what an op that is not applied gets)."""
    zeros, ones = jnp.zeros((batch,)), jnp.ones((batch,))
    return dict(xflip=zeros, rotate90=zeros, xint=jnp.zeros((batch, 2)), scale=ones, rotate_pre=zeros,
                aniso=ones, rotate_post=zeros, xfrac=jnp.zeros((batch, 2)), brightness=zeros, contrast=ones,
                lumaflip=zeros, hue=zeros, saturation=ones)


NUM_UNIFORMS, NUM_NORMALS = 21, 7  # per example: 8 uniform values + 13 firing draws; 7 normal values


def _gate(u: jax.Array, prob: jax.Array, value: jax.Array, identity: jax.Array) -> jax.Array:
    """`value` where the example's U(0,1) draw `u` [B] < prob, else the op's identity value."""
    return jnp.where((u < prob).reshape((-1,) + (1,) * (value.ndim - 1)), value, identity)


def _columns(draw, key: jax.Array, count: int, batch: int):
    """`count` independent [batch] columns cut from one flat draw: 2 RNG ops per call site instead of 26, which
    cuts XLA's CPU compile time of a StyleGAN2 step (each threefry draw compiles on its own)."""
    return iter(draw(key, (count * batch,)).reshape(count, batch))


def sample_params(spec: AugmentSpec, key: jax.Array, batch: int, height: int, width: int,
                  p: jax.Array | float) -> Params:
    """Draw each example's op parameters; an op fires with probability multiplier * p (rotation: see p_rot)."""
    k_uniform, k_normal = jax.random.split(key)
    uniforms = _columns(jax.random.uniform, k_uniform, NUM_UNIFORMS, batch)
    normals = _columns(jax.random.normal, k_normal, NUM_NORMALS, batch)
    take = lambda cols, width: next(cols) if width is None else jnp.stack([next(cols) for _ in range(width)], -1)
    normal = lambda width=None: take(normals, width)
    uniform = lambda width=None: take(uniforms, width)
    out = identity_params(batch)

    def gate(name: str, value: jax.Array, prob: jax.Array | None = None) -> jax.Array:
        """The drawn `value` where the op fires (probability multiplier * p, or `prob`), else identity."""
        prob = getattr(spec, name) * p if prob is None else prob
        return _gate(uniform(), prob, value, out[name])

    out["xflip"] = gate("xflip", jnp.floor(uniform() * 2))
    out["rotate90"] = gate("rotate90", jnp.floor(uniform() * 4))
    size = jnp.asarray([width, height], jnp.float32)
    out["xint"] = gate("xint", jnp.round((uniform(2) * 2 - 1) * spec.xint_max * size))
    out["scale"] = gate("scale", jnp.exp2(normal() * spec.scale_std))
    p_rot = 1 - jnp.sqrt(jnp.clip(1 - spec.rotate * p, 0, 1))  # P(pre or post rotation) = rotate * p
    out["rotate_pre"] = gate("rotate_pre", (uniform() * 2 - 1) * np.pi * spec.rotate_max, p_rot)
    out["aniso"] = gate("aniso", jnp.exp2(normal() * spec.aniso_std))
    out["rotate_post"] = gate("rotate_post", (uniform() * 2 - 1) * np.pi * spec.rotate_max, p_rot)
    out["xfrac"] = gate("xfrac", normal(2) * spec.xfrac_std * size)
    out["brightness"] = gate("brightness", normal() * spec.brightness_std)
    out["contrast"] = gate("contrast", jnp.exp2(normal() * spec.contrast_std))
    out["lumaflip"] = gate("lumaflip", jnp.floor(uniform() * 2))
    out["hue"] = gate("hue", (uniform() * 2 - 1) * np.pi * spec.hue_max)
    out["saturation"] = gate("saturation", jnp.exp2(normal() * spec.saturation_std))
    return out


def _matrix(rows: list[list]) -> jax.Array:
    """Stack a nested list of per-example arrays / scalars into [B, R, C] matrices."""
    batch = next(jnp.shape(e)[0] for row in rows for e in row if jnp.ndim(e) > 0)
    return jnp.stack([jnp.stack([jnp.broadcast_to(jnp.asarray(e, jnp.float32), (batch,)) for e in row], -1)
                      for row in rows], -2)


def _translate2d(tx: jax.Array, ty: jax.Array) -> jax.Array:
    """Homogeneous 2-D translations [B, 3, 3]."""
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]])


def _scale2d(sx: jax.Array, sy: jax.Array) -> jax.Array:
    """Homogeneous 2-D axis scalings [B, 3, 3]."""
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]])


def _rotate2d(cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Homogeneous 2-D rotations [B, 3, 3] from their cosines and sines."""
    return _matrix([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])


def geometric_matrix(params: Params) -> jax.Array:
    """Inverse transform [B, 3, 3]: output pixel -> input pixel, in pixel units centred on the image centre."""
    quarter = params["rotate90"].astype(jnp.int32) % 4  # exact cos/sin of multiples of 90 degrees
    cos90, sin90 = jnp.asarray([1.0, 0, -1, 0])[quarter], jnp.asarray([0.0, 1, 0, -1])[quarter]
    s, a = params["scale"], params["aniso"]
    mats = [
        _scale2d(1 - 2 * params["xflip"], jnp.ones_like(s)),
        _rotate2d(cos90, sin90),
        _translate2d(-params["xint"][:, 0], -params["xint"][:, 1]),
        _scale2d(1 / s, 1 / s),
        _rotate2d(jnp.cos(params["rotate_pre"]), jnp.sin(params["rotate_pre"])),
        _scale2d(1 / a, a),
        _rotate2d(jnp.cos(params["rotate_post"]), jnp.sin(params["rotate_post"])),
        _translate2d(-params["xfrac"][:, 0], -params["xfrac"][:, 1]),
    ]
    out = mats[0]
    for m in mats[1:]:
        out = out @ m
    return out


def color_matrix(params: Params) -> jax.Array:
    """Colour transform [B, 4, 4] acting on homogeneous RGB: brightness, contrast, luma flip, hue, saturation."""
    b, c = params["brightness"], params["contrast"]
    eye = jnp.eye(4)
    v = jnp.asarray(LUMA_AXIS)
    vv = jnp.outer(v, v)
    flip = eye - 2 * vv * params["lumaflip"][:, None, None]  # Householder reflection of the luma axis
    sat = eye + (params["saturation"][:, None, None] - 1) * (eye - vv)  # scale the chroma, keep the luma
    mats = [_matrix([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]]),
            _matrix([[c, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1]]),
            flip, _rotate_about_luma(params["hue"]), sat]
    out = mats[0]
    for m in mats[1:]:
        out = m @ out
    return out


def _rotate_about_luma(theta: jax.Array) -> jax.Array:
    """Rodrigues rotation by theta [B] about the luma axis (1, 1, 1) / sqrt(3), as a homogeneous 4x4."""
    vx, vy, vz = (float(e) for e in LUMA_AXIS[:3])
    s, c = jnp.sin(theta), jnp.cos(theta)
    cc = 1 - c
    return _matrix([[vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
                    [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
                    [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
                    [0, 0, 0, 1]])


def _reflect(i: jax.Array, n: int) -> jax.Array:
    """Map integer indices onto [0, n) by mirror reflection about the edge pixels (-1 -> 1, n -> n - 2)."""
    if n == 1:
        return jnp.zeros_like(i)
    period = 2 * (n - 1)
    i = jnp.mod(i, period)
    return jnp.where(i >= n, period - i, i)


def _keys_weights(t: jax.Array) -> jax.Array:
    """Bicubic (Keys, a = -0.5) weights of the taps at offsets -1, 0, 1, 2 for a fraction t in [0, 1)."""
    a = -0.5
    d = jnp.stack([t + 1, t, 1 - t, 2 - t], axis=-1)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return jnp.where(d <= 1, near, jnp.where(d < 2, far, 0.0))


def resample(images: jax.Array, src_x: jax.Array, src_y: jax.Array) -> jax.Array:
    """Bicubic samples of `images` [B, H, W, C] at pixel coordinates src_x, src_y [B, Ho, Wo], reflect-padded."""
    batch, height, width, _ = images.shape
    x0, y0 = jnp.floor(src_x), jnp.floor(src_y)
    wx, wy = _keys_weights(src_x - x0), _keys_weights(src_y - y0)  # [B, Ho, Wo, 4]
    taps = jnp.arange(-1, 3)
    ix = _reflect(x0.astype(jnp.int32)[..., None] + taps, width)
    iy = _reflect(y0.astype(jnp.int32)[..., None] + taps, height)
    b = jnp.arange(batch)[:, None, None, None]
    out = jnp.zeros(src_x.shape + images.shape[-1:], images.dtype)
    for m in range(4):
        rows = images[b, iy[..., m:m + 1], ix]  # [B, Ho, Wo, 4, C]
        out = out + wy[..., m, None] * jnp.einsum("bhwk,bhwkc->bhwc", wx, rows)
    return out


def apply_geometric(images: jax.Array, inv: jax.Array) -> jax.Array:
    """Warp each image by its inverse matrix `inv` [B, 3, 3] (centred pixel coordinates) with one resampling."""
    _, height, width, _ = images.shape
    cx, cy = (width - 1) / 2, (height - 1) / 2
    ys, xs = jnp.meshgrid(jnp.arange(height) - cy, jnp.arange(width) - cx, indexing="ij")
    src_x = inv[:, 0, 0, None, None] * xs + inv[:, 0, 1, None, None] * ys + inv[:, 0, 2, None, None]
    src_y = inv[:, 1, 0, None, None] * xs + inv[:, 1, 1, None, None] * ys + inv[:, 1, 2, None, None]
    return resample(images, src_x + cx, src_y + cy)


def apply_color(images: jax.Array, mat: jax.Array) -> jax.Array:
    """Apply the colour matrices [B, 4, 4] to RGB images, or their luma gain and offset to one-channel images."""
    channels = images.shape[-1]
    if channels == 3:
        return jnp.einsum("bij,bhwj->bhwi", mat[:, :3, :3], images) + mat[:, None, None, :3, 3]
    if channels == 1:  # the reference's grey path: average the three output rows
        gain = jnp.sum(mat[:, :3, :3], axis=(1, 2)) / 3
        offset = jnp.sum(mat[:, :3, 3], axis=1) / 3
        return images * gain[:, None, None, None] + offset[:, None, None, None]
    raise ValueError(f"ADA colour ops need RGB (3 channels) or grey (1 channel) images, got {channels} channels.")


def apply_params(images: jax.Array, params: Params, spec: AugmentSpec | None = None) -> jax.Array:
    """Augment images [B, H, W, C] with the given per-example parameters (ops off in `spec` are skipped)."""
    dtype = images.dtype
    x = images.astype(jnp.float32)
    if spec is None or any(getattr(spec, name) > 0 for name in GEOMETRIC):
        x = apply_geometric(x, geometric_matrix(params))
    if spec is None or any(getattr(spec, name) > 0 for name in COLOR):
        mat = color_matrix(params)
        if x.shape[-1] == 1:  # the reference skips hue and saturation for grey images
            mat = color_matrix({**params, "hue": jnp.zeros_like(params["hue"]),
                                "saturation": jnp.ones_like(params["saturation"])})
        x = apply_color(x, mat)
    return x.astype(dtype)


def augment(images: jax.Array, key: jax.Array, p: jax.Array | float, spec: AugmentSpec) -> jax.Array:
    """ADA: augment each image with probability multiplier * p per op (p = 0 returns the images unchanged)."""
    batch, height, width, _ = images.shape
    return apply_params(images, sample_params(spec, key, batch, height, width, p), spec)


def check_target(target: float) -> None:
    """Raise a one-line error for an ADA target outside (0, 1)."""
    if not 0 < target < 1:
        raise ValueError(f"ADA target must lie in (0, 1) (the reference uses 0.6), got {target}.")


def ada_update(p: jax.Array, sign_sum: jax.Array, n: jax.Array, *, batch_size: int, target: float = 0.6,
               interval: int = 4, kimg: float = 500) -> jax.Array:
    """New p: p + sign(r_t - target) * batch_size * interval / (kimg * 1000), clipped to [0, 1].

    r_t = sign_sum / n is the mean of sign(D(real)) over the last `interval` steps; call every `interval` steps.
    """
    check_target(target)
    r_t = sign_sum / jnp.maximum(n, 1)
    step = jnp.sign(r_t - target) * (batch_size * interval) / (kimg * 1000)
    return jnp.clip(p + step, 0.0, 1.0)
