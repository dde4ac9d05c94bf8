"""The MLP discriminator with the toolbox options: spectral norm on every layer and a projection or AC-GAN head.

`build_models` uses it instead of `MLPDiscriminator` only when one of those options is on, so plain MLP runs keep
their params tree.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.conditional import DiscriminatorHead
from jaxgan.models.spectral import apply_layer


class MLPHeadDiscriminator(nn.Module):
    """Flattened example -> hidden layers with leaky ReLU -> `DiscriminatorHead` (logit, projection or AC-GAN)."""

    hidden: Sequence[int] = (128, 128)
    negative_slope: float = 0.2
    head: str = "none"
    num_classes: int | None = None
    spectral_norm: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        h = x.reshape((x.shape[0], -1)).astype(self.dtype)
        for i, width in enumerate(self.hidden):
            layer = nn.Dense(width, dtype=self.dtype, name=f"hidden{i}")
            h = nn.leaky_relu(apply_layer(layer, h, sn=self.spectral_norm, train=train), self.negative_slope)
        return DiscriminatorHead(self.head, self.num_classes, self.spectral_norm, name="head")(h, labels, train)
