"""Networks: build G and D from the `model` block of a config."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator

MODELS = ("mlp", "dcgan")
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(name: str) -> jnp.dtype:
    """The activation dtype named by `model.compute_dtype`; params always stay float32."""
    if name not in COMPUTE_DTYPES:
        raise ValueError(f"Unknown model.compute_dtype {name!r}; choose one of {sorted(COMPUTE_DTYPES)}.")
    return COMPUTE_DTYPES[name]


def build_models(cfg: ml_collections.ConfigDict, example_shape: Sequence[int]) -> tuple[nn.Module, nn.Module]:
    """Return (G, D) for `cfg` (the config's `model` block) and examples of `example_shape`."""
    dtype = compute_dtype(cfg.compute_dtype)
    if cfg.name == "mlp":
        g = MLPGenerator(tuple(example_shape), tuple(cfg.g_hidden), cfg.output_activation, dtype=dtype)
        d = MLPDiscriminator(tuple(cfg.d_hidden), dtype=dtype)
        return g, d
    if cfg.name == "dcgan":
        if len(example_shape) != 3 or example_shape[0] != example_shape[1]:
            raise ValueError(
                f"DCGAN needs square images (H, W, C), got examples of shape {tuple(example_shape)}; "
                "use model.name='mlp' for non-image data or set data.image_size."
            )
        res, channels = example_shape[0], example_shape[2]
        g = DCGANGenerator(res, channels, cfg.ngf, cfg.output_activation, dtype=dtype)
        d = DCGANDiscriminator(res, cfg.ndf, dtype=dtype)
        return g, d
    raise ValueError(f"Unknown model {cfg.name!r}; choose one of {MODELS} (config key `model.name`).")
