"""StyleGAN2 generator (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), NHWC.

Follows NVlabs stylegan2-ada-pytorch `training/networks.py`: a mapping network z (+ label) -> w with a tracked
average w_avg for truncation, and a skip-architecture synthesis network from a learned 4x4 constant through
modulated/demodulated 3x3 convs with per-layer noise, summing upsampled toRGB outputs. Non-learned state lives in
the `buffers` collection: `w_avg` (updated in train mode) and each layer's `noise_const`. Random noise needs
`rngs={"noise": key}`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models.stylegan2.layers import FullyConnected
from jaxgan.models.stylegan2.ops import (
    ACTIVATION_GAINS,
    bias_act,
    modulated_conv2d,
    normal,
    normal_init,
    normalize_2nd_moment,
    setup_filter,
    upsample2d,
)

BUFFERS = "buffers"
NOISE_MODES = ("random", "const", "none")


def check_resolution(resolution: int) -> int:
    """Return log2(resolution); raise a one-line error unless it is a power of two >= 4."""
    if not isinstance(resolution, int) or resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"StyleGAN2 needs a resolution that is a power of two >= 4, got {resolution!r}; "
                         "resize the data (data.image_size) to 4, 8, 16, 32, 64, ...")
    return int(np.log2(resolution))


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at resolution `res`: min(channel_base // res, channel_max), as the reference."""
    return min(channel_base // res, channel_max)


def check_truncation(psi: float) -> None:
    """Raise a one-line error for a truncation psi below 0 (psi=1: none, 0: w_avg, (0,1): toward w_avg)."""
    if isinstance(psi, int | float) and psi < 0:
        raise ValueError(f"truncation_psi must be >= 0 (1 = no truncation, 0 = the average w), got {psi}.")


class MappingNetwork(nn.Module):
    """z (and a label embedding) -> w through `num_layers` lr-0.01 FC layers; tracks w_avg for truncation."""

    z_dim: int
    w_dim: int
    num_ws: int | None  # None: return [N, w_dim] (D's label mapping); else broadcast to [N, num_ws, w_dim]
    num_classes: int | None = None
    num_layers: int = 8
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.995  # None: do not track w_avg

    @nn.compact
    def __call__(self, z: jax.Array | None, labels: jax.Array | None = None, train: bool = False,
                 truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                 update_w_avg: bool = True) -> jax.Array:
        check_truncation(truncation_psi)
        x = None if self.z_dim == 0 else normalize_2nd_moment(z.astype(jnp.float32))
        if self.num_classes:
            if labels is None:
                raise ValueError(f"This mapping network is conditional ({self.num_classes} classes): pass labels.")
            onehot = jax.nn.one_hot(labels, self.num_classes, dtype=jnp.float32)
            y = normalize_2nd_moment(FullyConnected(self.w_dim, name="embed")(onehot))
            x = y if x is None else jnp.concatenate([x, y], axis=1)
        for idx in range(self.num_layers):
            x = FullyConnected(self.w_dim, "lrelu", self.lr_multiplier, name=f"fc{idx}")(x)
        if self.w_avg_beta is not None:
            w_avg = self.variable(BUFFERS, "w_avg", jnp.zeros, (self.w_dim,), jnp.float32)
            if train and update_w_avg and not self.is_initializing():
                batch_mean = jnp.mean(jax.lax.stop_gradient(x), axis=0)
                w_avg.value = batch_mean + self.w_avg_beta * (w_avg.value - batch_mean)
        if self.num_ws is not None:
            x = jnp.broadcast_to(x[:, None, :], (x.shape[0], self.num_ws, self.w_dim))
        if not (isinstance(truncation_psi, int | float) and truncation_psi == 1):
            if self.w_avg_beta is None:
                raise ValueError("Truncation needs w_avg: build the mapping network with w_avg_beta set.")
            x = truncate(x, w_avg.value, truncation_psi, truncation_cutoff)
        return x


def truncate(ws: jax.Array, w_avg: jax.Array, psi: float | jax.Array, cutoff: int | None = None) -> jax.Array:
    """Move ws toward w_avg: w_avg + psi * (w - w_avg), on the first `cutoff` of the num_ws copies (all if None)."""
    check_truncation(psi)
    moved = w_avg + psi * (ws - w_avg)
    if cutoff is None or ws.ndim == 2:
        return moved
    layer = jnp.arange(ws.shape[1])[None, :, None]
    return jnp.where(layer < cutoff, moved, ws)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally FIR-upsampled x2) + per-pixel noise * learned strength + bias + lrelu."""

    features: int
    resolution: int
    up: int = 1
    conv_clamp: float | None = None
    fused_modconv: bool = False
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array, noise_mode: str = "random", gain: float = 1.0) -> jax.Array:
        in_ch, k = x.shape[-1], self.kernel_size
        styles = FullyConnected(in_ch, bias_init=1.0, name="affine")(w)
        weight = self.param("weight", normal_init(), (k, k, in_ch, self.features))
        x = modulated_conv2d(x, weight, styles, up=self.up, padding=k // 2,
                             f=setup_filter(), fused=self.fused_modconv)
        x = x + self._noise(x.shape[0], noise_mode).astype(x.dtype)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, bias, "lrelu", gain=ACTIVATION_GAINS["lrelu"] * gain, clamp=clamp)

    def _noise(self, batch: int, noise_mode: str) -> jax.Array:
        """Noise image [N or 1, res, res, 1] times the learned strength (zeros for noise_mode='none')."""
        shape = (self.resolution, self.resolution)
        const = self.variable(BUFFERS, "noise_const", lambda: normal(self.make_rng("params"), shape))
        strength = self.param("noise_strength", nn.initializers.zeros, ())
        if noise_mode == "none":
            return jnp.zeros((1, *shape, 1))
        if noise_mode == "const" or self.is_initializing():
            return (const.value * strength)[None, :, :, None]
        if not self.has_rng("noise"):
            raise ValueError("noise_mode='random' needs a noise key: apply(..., rngs={'noise': key}); "
                             "or pass noise_mode='const' / 'none'.")
        return normal(self.make_rng("noise"), (batch, *shape, 1)) * strength


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to image channels (no demodulation; styles scaled by 1/sqrt(in)), bias, clamp."""

    img_channels: int
    conv_clamp: float | None = None
    fused_modconv: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
        in_ch = x.shape[-1]
        styles = FullyConnected(in_ch, bias_init=1.0, name="affine")(w) * (1.0 / np.sqrt(in_ch))
        weight = self.param("weight", normal_init(), (1, 1, in_ch, self.img_channels))
        x = modulated_conv2d(x, weight, styles, demodulate=False, fused=self.fused_modconv)
        bias = self.param("bias", nn.initializers.zeros, (self.img_channels,))
        return bias_act(x, bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution of the skip G: (const | up-conv) + conv, then toRGB added to the upsampled image so far."""

    features: int
    resolution: int
    img_channels: int
    is_first: bool
    conv_clamp: float | None = None
    fused_modconv: bool = False
    dtype: jnp.dtype = jnp.float32

    @property
    def num_conv(self) -> int:
        """How many ws the convs of this block consume (its toRGB reads the next one)."""
        return 1 if self.is_first else 2

    @nn.compact
    def __call__(self, x: jax.Array | None, img: jax.Array | None, ws: jax.Array,
                 noise_mode: str = "random") -> tuple[jax.Array, jax.Array]:
        layer = dict(features=self.features, resolution=self.resolution, conv_clamp=self.conv_clamp,
                     fused_modconv=self.fused_modconv)
        if self.is_first:
            const = self.param("const", normal_init(), (self.resolution, self.resolution,
                                                                       self.features))
            x = jnp.broadcast_to(const.astype(self.dtype), (ws.shape[0], *const.shape))
        else:
            x = SynthesisLayer(up=2, name="conv0", **layer)(x.astype(self.dtype), ws[:, 0], noise_mode)
        x = SynthesisLayer(name="conv1", **layer)(x, ws[:, self.num_conv - 1], noise_mode)
        if img is not None:
            img = upsample2d(img, setup_filter())
        y = ToRGBLayer(self.img_channels, self.conv_clamp, self.fused_modconv, name="torgb")(x, ws[:, self.num_conv])
        y = y.astype(jnp.float32)
        return x, y if img is None else img + y


def num_ws_for(resolution: int) -> int:
    """How many w vectors the synthesis network reads: two per block (one in the 4x4 block) plus the last toRGB."""
    return 2 * check_resolution(resolution) - 2


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> images [N, res, res, img_channels] (float32, unbounded, ~[-1, 1] once trained)."""

    resolution: int
    img_channels: int = 3
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0  # the top N resolutions compute in `dtype` (e.g. bfloat16); the rest in float32
    conv_clamp: float | None = None
    fused_modconv: bool = False
    dtype: jnp.dtype = jnp.float32

    @property
    def num_ws(self) -> int:
        """Number of w vectors this network consumes."""
        return num_ws_for(self.resolution)

    @nn.compact
    def __call__(self, ws: jax.Array, noise_mode: str = "random") -> jax.Array:
        log2 = check_resolution(self.resolution)
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"Unknown noise_mode {noise_mode!r}; choose one of {NOISE_MODES}.")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"Synthesis at {self.resolution}px needs ws of shape [N, {self.num_ws}, w_dim], "
                             f"got {ws.shape}.")
        fp16_res = max(2 ** (log2 + 1 - self.num_fp16_res), 8)
        x = img = None
        w_idx = 0
        for res in (2 ** i for i in range(2, log2 + 1)):
            block = SynthesisBlock(channels_at(res, self.channel_base, self.channel_max), res, self.img_channels,
                                   is_first=res == 4, conv_clamp=self.conv_clamp, fused_modconv=self.fused_modconv,
                                   dtype=self.dtype if res >= fp16_res else jnp.float32, name=f"b{res}")
            x, img = block(x, img, ws[:, w_idx:w_idx + block.num_conv + 1], noise_mode)
            w_idx += block.num_conv
        return img


class Generator(nn.Module):
    """StyleGAN2 G: `map` (z, labels -> ws) then `synthesize` (ws -> images); __call__ does both."""

    resolution: int
    img_channels: int = 3
    z_dim: int = 512
    w_dim: int = 512
    num_classes: int | None = None
    mapping_layers: int = 8
    mapping_lr: float = 0.01
    w_avg_beta: float = 0.995
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0
    conv_clamp: float | None = None
    fused_modconv: bool = False
    dtype: jnp.dtype = jnp.float32
    call_noise_mode: str = "random"  # __call__'s default noise; "keyed": random with a "noise" key, else const
    call_clip: bool = False  # __call__ clips images to [-1, 1], the range the reference quantises samples and FID to

    def __post_init__(self) -> None:
        """Reject a bad resolution when the module is built, not at its first apply."""
        check_resolution(self.resolution)
        super().__post_init__()

    def setup(self) -> None:
        """Build the two sub-networks (the synthesis network fixes num_ws)."""
        self.synthesis = SynthesisNetwork(self.resolution, self.img_channels, self.channel_base, self.channel_max,
                                          self.num_fp16_res, self.conv_clamp, self.fused_modconv, self.dtype)
        self.mapping = MappingNetwork(self.z_dim, self.w_dim, num_ws_for(self.resolution), self.num_classes,
                                      self.mapping_layers, self.mapping_lr, self.w_avg_beta)

    @property
    def num_ws(self) -> int:
        """Number of w vectors G's synthesis network consumes."""
        return num_ws_for(self.resolution)

    def map(self, z: jax.Array, labels: jax.Array | None = None, train: bool = False, truncation_psi: float = 1.0,
            truncation_cutoff: int | None = None, update_w_avg: bool = True) -> jax.Array:
        """z [N, z_dim] (+ int labels [N]) -> ws [N, num_ws, w_dim]; in train mode also updates buffers/w_avg."""
        return self.mapping(z, labels, train, truncation_psi, truncation_cutoff, update_w_avg)

    def synthesize(self, ws: jax.Array, noise_mode: str = "random") -> jax.Array:
        """ws [N, num_ws, w_dim] -> images [N, res, res, img_channels]."""
        return self.synthesis(ws, noise_mode)

    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = False,
                 truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                 noise_mode: str | None = None) -> jax.Array:
        """G(z, labels): images [N, res, res, img_channels]; noise_mode None means `call_noise_mode`."""
        noise_mode = self.call_noise_mode if noise_mode is None else noise_mode
        if noise_mode == "keyed":
            noise_mode = "random" if self.has_rng("noise") else "const"
        img = self.synthesize(self.map(z, labels, train, truncation_psi, truncation_cutoff), noise_mode)
        return jnp.clip(img, -1.0, 1.0) if self.call_clip else img
