"""Equalised-learning-rate layers (Karras et al. 2018, Sec. 4.1) as StyleGAN2-ADA uses them.

Weights are stored as N(0, 1) / lr_multiplier and multiplied at run time by lr_multiplier / sqrt(fan_in); biases
are stored as `bias_init` and multiplied by lr_multiplier. So every layer starts with He-scaled effective weights,
and Adam's step on the stored values moves the effective weights at the same relative rate in every layer (times
lr_multiplier, 0.01 in the mapping network).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np

from jaxgan.models.stylegan2.ops import ACTIVATION_GAINS, bias_act, conv2d_resample, normal_init, setup_filter


class FullyConnected(nn.Module):
    """Dense layer with equalised lr: y = act(x @ (W * lr / sqrt(in)) + b * lr)."""

    features: int
    activation: str = "linear"
    lr_multiplier: float = 1.0
    bias_init: float = 0.0
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in = x.shape[-1]
        weight = self.param("weight", normal_init(1.0 / self.lr_multiplier), (fan_in, self.features))
        w = weight * (self.lr_multiplier / np.sqrt(fan_in))
        x = x @ w.astype(x.dtype)
        b = None
        if self.use_bias:
            b = self.param("bias", nn.initializers.constant(self.bias_init), (self.features,))
            b = b * self.lr_multiplier
        return bias_act(x, b, act=self.activation)


class Conv2dLayer(nn.Module):
    """Equalised-lr conv (HWIO weight * 1/sqrt(in*k*k)), optional FIR up/down by 2, bias, activation, clamp."""

    features: int
    kernel_size: int
    activation: str = "linear"
    use_bias: bool = True
    up: int = 1
    down: int = 1
    conv_clamp: float | None = None
    resample_taps: tuple[float, ...] = (1, 3, 3, 1)

    @nn.compact
    def __call__(self, x: jax.Array, gain: float = 1.0) -> jax.Array:
        k, fan_in = self.kernel_size, x.shape[-1] * self.kernel_size ** 2
        weight = self.param("weight", normal_init(), (k, k, x.shape[-1], self.features))
        w = weight * (1.0 / np.sqrt(fan_in))
        x = conv2d_resample(x, w.astype(x.dtype), f=setup_filter(self.resample_taps), up=self.up,
                            down=self.down, padding=k // 2)
        b = self.param("bias", nn.initializers.zeros, (self.features,)) if self.use_bias else None
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, b, act=self.activation, gain=ACTIVATION_GAINS[self.activation] * gain, clamp=clamp)
