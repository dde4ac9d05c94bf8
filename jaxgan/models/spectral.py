"""Spectral normalisation (Miyato et al. 2018) of D's layers, with the power-iteration state kept in the train state.

flax's `nn.SpectralNorm` divides every weight matrix of the wrapped layer by an estimate of its largest singular
value; the estimate's vector `u` (and the last `sigma`) live in the `batch_stats` collection, which the core keeps in
`NetState.collections`, so the power iteration continues across steps and is checkpointed. One power-iteration step
runs per call in training mode (`update_stats=train`), as in the paper.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jaxgan.models.layers import ConvTranspose

# Layers whose params include a weight matrix (or a kernel that reshapes to one) that SN can normalise.
SN_LAYERS = (nn.Dense, nn.Conv, nn.ConvTranspose, nn.Embed, ConvTranspose)


def spectral_norm(layer: nn.Module, n_steps: int = 1) -> nn.SpectralNorm:
    """Wrap `layer` so its weight matrix is divided by its largest singular value; rejects layers without one."""
    if not isinstance(layer, SN_LAYERS):
        names = ", ".join(t.__name__ for t in SN_LAYERS)
        raise ValueError(
            f"Spectral normalisation needs a layer with a weight matrix ({names}); got {type(layer).__name__}. "
            "Normalisation layers and raw params cannot be spectrally normalised: wrap only D's linear layers."
        )
    return nn.SpectralNorm(layer, n_steps=n_steps)


def apply_layer(layer: nn.Module, x: jax.Array, *, sn: bool, train: bool) -> jax.Array:
    """`layer(x)`, spectrally normalised when `sn`; the power iteration advances only in training mode."""
    if not sn:
        return layer(x)
    return spectral_norm(layer)(x, update_stats=train)
