"""The translation objectives, scaled as in the authors' code (`GANLoss` in pytorch-CycleGAN-and-pix2pix).

Their D minimises 0.5 * (crit(D(real), 1) + crit(D(fake), 0)) ("we divide the objective by 2 while optimizing D,
which slows down the rate at which D learns relative to G", Isola et al. 2017, sec. 3.3), and G minimises
crit(D(G(x)), 1), where crit is BCE on logits ("non_saturating") or the squared error ("least_squares", LSGAN).
Built from `jaxgan.terms.losses`; only the factors differ from the core's GAN losses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxgan.terms import losses as core


class TranslationLoss(NamedTuple):
    """D's loss of (D(real), D(fake)) and G's loss of D(fake) alone (the translation steps read only fakes in G)."""

    d_loss: Callable[[jax.Array, jax.Array], jax.Array]
    g_loss: Callable[[jax.Array], jax.Array]


TRANSLATION_LOSSES: dict[str, TranslationLoss] = {  # the batch means of the core's per-example losses
    # 0.5 [softplus(-real) + softplus(fake)] for D; softplus(-fake) = -log sigmoid(D(G(x))) for G.
    "non_saturating": TranslationLoss(lambda real, fake: 0.5 * jnp.mean(core.bce_d_loss(real, fake)),
                                      lambda fake: jnp.mean(core.non_saturating_g_loss(fake))),
    # core LSGAN D already carries the 0.5; G's E[(D(G(x)) - 1)^2] is twice the core's 0.5 E[...].
    "least_squares": TranslationLoss(lambda real, fake: jnp.mean(core.least_squares_d_loss(real, fake)),
                                     lambda fake: 2.0 * jnp.mean(core.least_squares_g_loss(fake))),
}


def get_translation_loss(name: str) -> TranslationLoss:
    """Look up the adversarial loss named by the config key `loss.gan`."""
    if name not in TRANSLATION_LOSSES:
        raise ValueError(f"Unknown loss.gan {name!r}; choose one of {sorted(TRANSLATION_LOSSES)} "
                         "(pix2pix uses non_saturating, CycleGAN least_squares).")
    return TRANSLATION_LOSSES[name]


def l1(x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean absolute difference: pix2pix's L1 term, CycleGAN's cycle and identity terms."""
    return jnp.mean(jnp.abs(x.astype(jnp.float32) - y.astype(jnp.float32)))
