"""Fully connected G and D: the seeds' MLP GAN (z 100 -> 128 -> 128 -> 784) and 2-D toy models."""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.models.mlp_head import MLPHeadDiscriminator
from jaxgan.models.outputs import output_activation


class MLPGenerator(nn.Module):
    """z -> hidden layers with leaky ReLU -> an example of `out_shape`."""

    out_shape: Sequence[int]
    hidden: Sequence[int] = (128, 128)
    activation: str = "tanh"  # "tanh", "sigmoid" (rescaled to [-1, 1]) or "linear"
    negative_slope: float = 0.2
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        h = z.astype(self.dtype)
        for width in self.hidden:
            h = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(h), self.negative_slope)
        h = nn.Dense(math.prod(self.out_shape), dtype=self.dtype)(h)
        return output_activation(h, self.activation).reshape((z.shape[0], *self.out_shape))


class MLPDiscriminator(nn.Module):
    """Flattened example -> hidden layers with leaky ReLU -> one logit per example."""

    hidden: Sequence[int] = (128, 128)
    negative_slope: float = 0.2
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        h = x.reshape((x.shape[0], -1)).astype(self.dtype)
        for width in self.hidden:
            h = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(h), self.negative_slope)
        return nn.Dense(1, dtype=self.dtype)(h)[:, 0].astype(jnp.float32)


def default_config() -> ml_collections.ConfigDict:
    """The `model.mlp` block: the seeds' MLP widths."""
    return ml_collections.ConfigDict(dict(
        g_hidden=(128, 128),  # G's hidden widths
        d_hidden=(128, 128),  # D's hidden widths
    ))


def build(cfg: ml_collections.ConfigDict, example_shape: Sequence[int], num_classes: int | None,
          dtype: jnp.dtype, bn_groups: int = 1) -> tuple[nn.Module, nn.Module]:
    """(G, D) from the `model` block; D takes the toolbox head (spectral norm, projection, AC-GAN) when asked."""
    mlp = cfg.mlp
    g = MLPGenerator(tuple(example_shape), tuple(mlp.g_hidden), cfg.output_activation, dtype=dtype)
    if cfg.spectral_norm or cfg.d_cond != "none":
        d = MLPHeadDiscriminator(tuple(mlp.d_hidden), head=cfg.d_cond, num_classes=num_classes,
                                 spectral_norm=cfg.spectral_norm, dtype=dtype)
    else:
        d = MLPDiscriminator(tuple(mlp.d_hidden), dtype=dtype)
    return g, d
