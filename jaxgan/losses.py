"""Adversarial losses on D's raw outputs (logits), written to be numerically stable.

Each loss is a pair: `d_loss(real_logits, fake_logits)` is what D minimises and `g_loss(fake_logits)` is what G
minimises. Both return a scalar mean over the batch. `softplus(-x) = -log(sigmoid(x))` and
`softplus(x) = -log(1 - sigmoid(x))` keep the BCE-type losses finite for any logit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


class GANLoss(NamedTuple):
    """The two halves of an adversarial objective."""

    d_loss: Callable[[jax.Array, jax.Array], jax.Array]
    g_loss: Callable[[jax.Array], jax.Array]


def _mean(x: jax.Array) -> jax.Array:
    return jnp.mean(x.astype(jnp.float32))


def bce_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """-log D(x) - log(1 - D(G(z))): D's side of the original GAN value function."""
    return _mean(jax.nn.softplus(-real)) + _mean(jax.nn.softplus(fake))


def minimax_g_loss(fake: jax.Array) -> jax.Array:
    """log(1 - D(G(z))): the saturating generator loss of Goodfellow et al. (2014), eq. 1."""
    return -_mean(jax.nn.softplus(fake))


def non_saturating_g_loss(fake: jax.Array) -> jax.Array:
    """-log D(G(z)): the non-saturating generator loss recommended by Goodfellow et al. (2014)."""
    return _mean(jax.nn.softplus(-fake))


def wasserstein_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """E[D(G(z))] - E[D(x)]: the critic's side of WGAN (Arjovsky et al. 2017); pair it with a Lipschitz term."""
    return _mean(fake) - _mean(real)


def wasserstein_g_loss(fake: jax.Array) -> jax.Array:
    """-E[D(G(z))]."""
    return -_mean(fake)


def hinge_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]: the hinge loss of Lim & Ye (2017) and SNGAN."""
    return _mean(jax.nn.relu(1.0 - real)) + _mean(jax.nn.relu(1.0 + fake))


def least_squares_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2]: LSGAN (Mao et al. 2017) with the 0-1 coding a=0, b=c=1."""
    return 0.5 * _mean(jnp.square(real - 1.0)) + 0.5 * _mean(jnp.square(fake))


def least_squares_g_loss(fake: jax.Array) -> jax.Array:
    """0.5 E[(D(G(z)) - 1)^2]."""
    return 0.5 * _mean(jnp.square(fake - 1.0))


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss(bce_d_loss, minimax_g_loss),
    "non_saturating": GANLoss(bce_d_loss, non_saturating_g_loss),
    "wasserstein": GANLoss(wasserstein_d_loss, wasserstein_g_loss),
    "hinge": GANLoss(hinge_d_loss, wasserstein_g_loss),
    "least_squares": GANLoss(least_squares_d_loss, least_squares_g_loss),
}

# Losses whose D output reads as a probability through a sigmoid, for the `D/real_prob` metric.
SIGMOID_LOSSES = frozenset({"minimax", "non_saturating"})


def get_loss(name: str) -> GANLoss:
    """Look up a loss by its config name."""
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {name!r}; choose one of {sorted(LOSSES)} (config key `loss`).")
    return LOSSES[name]
