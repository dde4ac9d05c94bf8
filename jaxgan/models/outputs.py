"""G's output non-linearities, mapping into the data range [-1, 1] (or unbounded for 2-D points)."""

import jax
import jax.numpy as jnp

OUTPUT_ACTIVATIONS = ("tanh", "sigmoid", "linear")


def output_activation(h: jax.Array, name: str) -> jax.Array:
    """Apply G's last non-linearity; "sigmoid" is rescaled to 2*sigmoid-1 so it matches data in [-1, 1]."""
    if name == "tanh":
        return jnp.tanh(h)
    if name == "sigmoid":
        return 2.0 * jax.nn.sigmoid(h) - 1.0
    if name == "linear":
        return h
    raise ValueError(f"Unknown output activation {name!r}; choose one of {OUTPUT_ACTIVATIONS}.")
