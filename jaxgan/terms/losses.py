"""Adversarial losses on D's raw outputs (logits): what D and G minimise, every variant in this one file.

A `GANLoss` is a pair of functions of both sides: `d_loss(real, fake)` is what D minimises and `g_loss(real, fake)`
what G minimises, where `real` = D(x) and `fake` = D(G(z)) are D's outputs on a real and a generated batch. In G's
phase `real` is a constant (computed by the current D, no gradient), so relativistic losses, which compare the
two, are written like any other. Like optax's losses, both return one float32 value per example ([N]; a PatchGAN
map is averaged within each example) and the caller takes the mean: a phase minimises `jnp.mean`, top-k training
keeps the k best fakes' values (`jaxgan.terms.topk`). `softplus(-x) = -log(sigmoid(x))` and `softplus(x) = -log(1 -
sigmoid(x))` keep the BCE-type losses finite for any logit.

Variants wrap a loss: `one_sided_label_smoothing` (Salimans et al. 2016) and `auxiliary_classifier` (AC-GAN, Odena
et al. 2017, whose D outputs `[logit, log p(y | x)]`; see `adversarial_logits`).

Config: the `loss` key names one entry of `LOSSES` (`default_config`); `validate` checks it and the label-smoothing
variant (`reg.label_smoothing`) against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

SideLoss = Callable[[jax.Array, jax.Array], jax.Array]  # (D(x), D(G(z))) -> one loss per example, [N]


class GANLoss(NamedTuple):
    """The two halves of an adversarial objective, each a function of (D(x), D(G(z))) with one value per example."""

    d_loss: SideLoss
    g_loss: SideLoss


def adversarial_logits(d_out: jax.Array) -> jax.Array:
    """D's real/fake logits: `d_out` itself, or its first column when D also has an auxiliary output (AC-GAN)."""
    return d_out if d_out.ndim == 1 else d_out[:, 0]


def per_example(x: jax.Array) -> jax.Array:
    """x [N, ...] as one float32 value per example [N]: the mean over each example's entries (a PatchGAN map)."""
    x = jnp.asarray(x).astype(jnp.float32)
    return x if x.ndim == 1 else jnp.mean(x.reshape(x.shape[0], -1), axis=1)


def _f32(x: jax.Array) -> jax.Array:
    return jnp.asarray(x).astype(jnp.float32)


def bce_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """-log D(x) - log(1 - D(G(z))): D's side of the original GAN value function."""
    return per_example(jax.nn.softplus(-_f32(real))) + per_example(jax.nn.softplus(_f32(fake)))


def minimax_g_loss(fake: jax.Array) -> jax.Array:
    """log(1 - D(G(z))): the saturating generator loss of Goodfellow et al. (2014), eq. 1."""
    return -per_example(jax.nn.softplus(_f32(fake)))


def non_saturating_g_loss(fake: jax.Array) -> jax.Array:
    """-log D(G(z)): the non-saturating generator loss recommended by Goodfellow et al. (2014)."""
    return per_example(jax.nn.softplus(-_f32(fake)))


def wasserstein_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """D(G(z)) - D(x): the critic's side of WGAN (Arjovsky et al. 2017); pair it with a Lipschitz term."""
    return per_example(fake) - per_example(real)


def wasserstein_g_loss(fake: jax.Array) -> jax.Array:
    """-D(G(z))."""
    return -per_example(fake)


def hinge_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """relu(1 - D(x)) + relu(1 + D(G(z))): the hinge loss of Lim & Ye (2017) and SNGAN."""
    return per_example(jax.nn.relu(1.0 - _f32(real))) + per_example(jax.nn.relu(1.0 + _f32(fake)))


def least_squares_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2: LSGAN (Mao et al. 2017) with the 0-1 coding a=0, b=c=1."""
    return 0.5 * per_example(jnp.square(_f32(real) - 1.0)) + 0.5 * per_example(jnp.square(_f32(fake)))


def least_squares_g_loss(fake: jax.Array) -> jax.Array:
    """0.5 (D(G(z)) - 1)^2."""
    return 0.5 * per_example(jnp.square(_f32(fake) - 1.0))


def relativistic_average_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """-log sigmoid(D(x_i) - E D(G(z))) - log(1 - sigmoid(D(G(z_i)) - E D(x))): RaSGAN's D loss, example i.

    Jolicoeur-Martineau 2019, *The relativistic discriminator*, eq. 11-12 with the sigmoid cross-entropy; G's loss
    is the same expression with real and fake swapped (`relativistic`). The batch means couple the examples.
    """
    real, fake = _f32(real), _f32(fake)
    return per_example(jax.nn.softplus(-(real - jnp.mean(fake)))) + per_example(jax.nn.softplus(fake - jnp.mean(real)))


def relativistic_pairing_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """softplus(-(D(x_i) - D(G(z_i)))) = -log sigmoid(D(x_i) - D(G(z_i))): RpGAN's D loss, pairs by index.

    Huang et al. 2024, *The GAN is dead; long live the GAN! A Modern GAN Baseline* (R3GAN), eq. 2 with
    f = softplus(-t); G's loss is the mirror, softplus(-(D(G(z_i)) - D(x_i))) (`relativistic`).
    """
    return per_example(jax.nn.softplus(-(_f32(real) - _f32(fake))))


def fake_only(g_loss: Callable[[jax.Array], jax.Array]) -> SideLoss:
    """A G loss that reads only D(G(z)), as a function of both sides."""

    def both_sides(real: jax.Array, fake: jax.Array) -> jax.Array:
        return g_loss(fake)

    both_sides.__name__ = getattr(g_loss, "__name__", "g_loss")
    return both_sides


def relativistic(d_loss: SideLoss) -> GANLoss:
    """A symmetric relativistic loss: G minimises D's loss with the roles of real and fake swapped."""

    def g_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
        return d_loss(fake, real)

    return GANLoss(d_loss, g_loss)


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss(bce_d_loss, fake_only(minimax_g_loss)),
    "non_saturating": GANLoss(bce_d_loss, fake_only(non_saturating_g_loss)),
    "wasserstein": GANLoss(wasserstein_d_loss, fake_only(wasserstein_g_loss)),
    "hinge": GANLoss(hinge_d_loss, fake_only(wasserstein_g_loss)),
    "least_squares": GANLoss(least_squares_d_loss, fake_only(least_squares_g_loss)),
    "relativistic_average": relativistic(relativistic_average_loss),
    "relativistic_pairing": relativistic(relativistic_pairing_loss),
}

# Losses whose D output reads as a probability through a sigmoid, for the `D/real_prob` metric.
SIGMOID_LOSSES = frozenset({"minimax", "non_saturating"})


def default_config() -> str:
    """The `loss` key's default: the non-saturating loss of Goodfellow et al. (2014)."""
    return "non_saturating"


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key for an unknown `loss` or a label smoothing the loss cannot take."""
    loss = get_loss(config.loss)
    if config.reg.label_smoothing != 0:
        one_sided_label_smoothing(loss, config.reg.label_smoothing)


def build_loss(config: ml_collections.ConfigDict) -> GANLoss:
    """The `loss` with its variants: one-sided label smoothing (`reg.label_smoothing`) and AC-GAN's class terms."""
    loss = get_loss(config.loss)
    if config.reg.label_smoothing > 0:
        loss = one_sided_label_smoothing(loss, config.reg.label_smoothing)
    if config.model.d_cond == "acgan":
        loss = auxiliary_classifier(loss, config.model.acgan_weight)
    return loss


def get_loss(name: str) -> GANLoss:
    """Look up a loss by its config name."""
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {name!r}; choose one of {sorted(LOSSES)} (config key `loss`).")
    return LOSSES[name]


def one_sided_label_smoothing(loss: GANLoss, smoothing: float) -> GANLoss:
    """`loss` with D's real target 1 - smoothing (e.g. 0.9; Salimans et al. 2016, Sec. 3.4); BCE losses only."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"reg.label_smoothing must be in [0, 1), got {smoothing}.")
    if loss.d_loss is not bce_d_loss:
        raise ValueError("One-sided label smoothing changes the BCE target of reals; it needs loss='non_saturating' "
                         "or 'minimax' (set reg.label_smoothing=0 for other losses).")
    target = 1.0 - smoothing

    def d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
        # BCE with target t on reals: -t log sigmoid(r) - (1 - t) log(1 - sigmoid(r)); fakes keep target 0.
        real = _f32(real)
        real_term = target * jax.nn.softplus(-real) + (1.0 - target) * jax.nn.softplus(real)
        return per_example(real_term) + per_example(jax.nn.softplus(_f32(fake)))

    return GANLoss(d_loss, loss.g_loss)


def auxiliary_classifier(loss: GANLoss, weight: float = 1.0) -> GANLoss:
    """AC-GAN (Odena et al. 2017): both nets also minimise the class cross-entropy, D on real and fake, G on fake.

    Takes D outputs `[logit, log p(y | x)]` (B, 2) from an `acgan` head; `loss` applies to the logit column.
    """

    def d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
        ce = -_f32(real[:, 1]) - _f32(fake[:, 1])  # L_C of the paper on real and on generated examples
        return loss.d_loss(real[:, 0], fake[:, 0]) + weight * ce

    def g_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
        return loss.g_loss(real[:, 0], fake[:, 0]) - weight * _f32(fake[:, 1])

    return GANLoss(d_loss, g_loss)
