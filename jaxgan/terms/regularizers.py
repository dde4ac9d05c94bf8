"""Regularisers: D's gradient penalties as `DPenalty` terms, G's path length, and instance noise as an input transform.

- `GradientPenalty`: WGAN-GP's lambda * E[(||grad_x D(x_hat)||_2 - 1)^2] on random interpolates x_hat of real and
  fake (Gulrajani et al. 2017, eq. 3).
- `r1_penalty` / `r2_penalty` (a `ZeroCenteredPenalty`): gamma / 2 * E[||grad_x D(x)||^2] on reals / fakes
  (Mescheder et al. 2018, eq. 9-10). Lazy regularisation (StyleGAN2) is not the penalty's business: it is the
  `Dreg` phase of the train step (`jaxgan.engine.train_step`), which runs these terms every k steps as their own update.
- `path_length_penalty`: StyleGAN2's weight * E[(|J_w^T y| - a)^2] on G's synthesis network, a the running mean
  of the path lengths that the caller keeps (Karras et al. 2020, eq. 4).
- `InstanceNoise`: N(0, std_t^2) added to every input of D, real and fake, std_t annealed linearly to 0
  (Sønderby et al. 2017; Arjovsky & Bottou 2017).

Label smoothing changes what D minimises, so it is a loss variant: `jaxgan.terms.losses.one_sided_label_smoothing`.

Config: the `reg` block (`default_config`, checked by `validate`; `reg.label_smoothing` by
`jaxgan.terms.losses.validate`).

Gradients are taken w.r.t. D's inputs of D's adversarial logit (the first column for AC-GAN heads) and summed over the
batch, so each example's gradient is its own only when D has no batch-coupling layers (use D without BatchNorm, as
WGAN-GP prescribes: the ResNet and MLP discriminators).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgan.engine.phases import DiscriminatorFn, DPenalty, Metrics
from jaxgan.models.stylegan2.ops import normal
from jaxgan.terms.losses import adversarial_logits


def default_config() -> ml_collections.ConfigDict:
    """The `reg` block: every D regulariser off."""
    return ml_collections.ConfigDict(dict(
        gp_weight=0.0,      # WGAN-GP gradient penalty lambda on interpolates (Gulrajani et al. 2017: 10)
        r1_gamma=0.0,       # R1 penalty gamma on reals (Mescheder et al. 2018: 10)
        r2_gamma=0.0,       # R2 penalty gamma on fakes
        lazy_interval=1,    # k > 1: R1/R2 as their own D update every k train steps, scaled by m = k * n_disc
        #                     (the D updates it stands for); D's Adam lr * c, betas ** c, c = m/(m+1) (StyleGAN2: 16)
        instance_noise_std=0.0,  # std of Gaussian noise added to D's inputs, real and fake (Sonderby et al. 2017)
        instance_noise_anneal_steps=0,  # anneal that std linearly to 0 over N train steps (0 = keep it constant)
        label_smoothing=0.0,  # one-sided: D's real target is 1 - s, BCE losses only (Salimans et al. 2016: 0.1)
    ))


def validate(reg: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the key for a negative weight or a lazy interval below 1."""
    for key in ("gp_weight", "r1_gamma", "r2_gamma"):
        if reg[key] < 0:
            raise ValueError(f"reg.{key} must be >= 0, got {reg[key]}.")
    if reg.lazy_interval < 1:
        raise ValueError(f"reg.lazy_interval must be >= 1 (1 = regularise every step), got {reg.lazy_interval}.")
    InstanceNoise(reg.instance_noise_std, reg.instance_noise_anneal_steps)  # checks its own two keys


def build_d_penalties(reg: ml_collections.ConfigDict) -> tuple[DPenalty, ...]:
    """D's penalties of every D update: the WGAN-GP gradient penalty (`reg.gp_weight`)."""
    return (GradientPenalty(reg.gp_weight),) if reg.gp_weight > 0 else ()


def build_d_reg(reg: ml_collections.ConfigDict) -> tuple[DPenalty, ...]:
    """D's lazy penalties, R1 then R2: in the `Dreg` phase every `reg.lazy_interval` steps (every D update if 1)."""
    penalties: list[DPenalty] = []
    if reg.r1_gamma > 0:
        penalties.append(r1_penalty(reg.r1_gamma))
    if reg.r2_gamma > 0:
        penalties.append(r2_penalty(reg.r2_gamma))
    return tuple(penalties)


def input_gradients(d_fn: DiscriminatorFn, x: jax.Array, labels: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """(grad_x of D's logit for every example of `x`, same shape as `x`; D's logits of `x`, [N]): one forward pass
    and one backward pass of the sum of the logits, each example's own gradient when D does not couple examples."""
    logits, pullback = jax.vjp(lambda x_: adversarial_logits(d_fn(x_, labels)), x)
    (grads,) = pullback(jnp.ones_like(logits))
    return grads, logits


def per_example_sq_norm(g: jax.Array) -> jax.Array:
    """||g_i||^2 for every example i of g [N, ...], in float32: [N]."""
    return jnp.sum(jnp.square(g.astype(jnp.float32)).reshape(g.shape[0], -1), axis=1)


@dataclasses.dataclass(frozen=True)
class GradientPenalty:
    """WGAN-GP: weight * E[(||grad D(x_hat)|| - 1)^2], x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1)."""

    weight: float = 10.0

    def __call__(self, d_fn: DiscriminatorFn, real: jax.Array, fake: jax.Array, labels: jax.Array | None,
                 key: jax.Array, step: jax.Array) -> tuple[jax.Array, Metrics]:
        eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
        x_hat = eps * real + (1.0 - eps) * jax.lax.stop_gradient(fake)
        g, _ = input_gradients(d_fn, x_hat, labels)
        norms = optax.safe_norm(g.reshape(g.shape[0], -1).astype(jnp.float32), 1e-12, axis=1)
        gp = jnp.mean(jnp.square(norms - 1.0))
        return self.weight * gp, {"Loss/D/gp": gp, "D/grad_norm_interp": jnp.mean(norms)}


@dataclasses.dataclass(frozen=True)
class ZeroCenteredPenalty:
    """gamma / 2 * E||grad_x D(x)||^2 on reals (R1) or fakes (R2)."""

    gamma: float
    on: str = "real"  # "real" (R1) or "fake" (R2)

    def __post_init__(self):
        if self.on not in ("real", "fake"):
            raise ValueError(f"`on` must be 'real' (R1) or 'fake' (R2), got {self.on!r}.")

    @property
    def name(self) -> str:
        return "r1" if self.on == "real" else "r2"

    def of_inputs(self, d_fn: DiscriminatorFn, x: jax.Array, labels: jax.Array | None
                  ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(gamma / 2 * E||grad_x D(x)||^2, E||grad_x D(x)||^2, D's logits of x): the logits for a caller that
        also reads them (StyleGAN2's Dreg counts their signs for ADA), at no extra forward pass."""
        grads, logits = input_gradients(d_fn, x, labels)
        value = jnp.mean(per_example_sq_norm(grads))
        return 0.5 * self.gamma * value, value, logits

    def __call__(self, d_fn: DiscriminatorFn, real: jax.Array, fake: jax.Array, labels: jax.Array | None,
                 key: jax.Array, step: jax.Array) -> tuple[jax.Array, Metrics]:
        x = real if self.on == "real" else jax.lax.stop_gradient(fake)
        weighted, value, _ = self.of_inputs(d_fn, x, labels)
        return weighted, {f"Loss/D/{self.name}": value}


def r1_penalty(gamma: float) -> ZeroCenteredPenalty:
    """R1: gamma / 2 * E_real ||grad_x D(x)||^2 (Mescheder et al. 2018)."""
    return ZeroCenteredPenalty(gamma, "real")


def r2_penalty(gamma: float) -> ZeroCenteredPenalty:
    """R2: gamma / 2 * E_fake ||grad_x D(x)||^2 (Mescheder et al. 2018)."""
    return ZeroCenteredPenalty(gamma, "fake")


def path_lengths(synthesize: Callable[[jax.Array], jax.Array], ws: jax.Array, key: jax.Array) -> jax.Array:
    """|J_w^T y| per example [N], y ~ N(0, I) / sqrt(H * W) an image [N, H, W, C]: sqrt of the mean over ws
    [N, ..., w_dim] (StyleGAN2: [N, num_ws, w_dim]) of the squared norm of d sum(img * y) / d w."""
    img, pullback = jax.vjp(synthesize, ws)
    noise = normal(key, img.shape, jnp.float32) / np.sqrt(img.shape[1] * img.shape[2])
    (grads,) = pullback(noise.astype(img.dtype))
    sq_norms = jnp.sum(jnp.square(grads.astype(jnp.float32)), axis=-1).reshape(ws.shape[0], -1)
    return jnp.sqrt(jnp.mean(sq_norms, axis=1))


def path_length_penalty(synthesize: Callable[[jax.Array], jax.Array], ws: jax.Array, key: jax.Array,
                        pl_mean: jax.Array, weight: float = 2.0, decay: float = 0.01
                        ) -> tuple[jax.Array, jax.Array, Metrics]:
    """(weight * E[(|J^T y| - a)^2], the new running mean a, metrics); a = lerp(pl_mean, E|J^T y|, decay).

    StyleGAN2's path-length regulariser (Karras et al. 2020, eq. 4). As in the reference, the penalty uses the
    freshly updated mean (its gradient flows through the batch mean); the returned mean is detached, for the
    caller's state. Lazy regularisation multiplies the penalty by the phase interval; that is the caller's business.
    """
    lengths = path_lengths(synthesize, ws, key)
    new_mean = pl_mean + decay * (jnp.mean(lengths) - pl_mean)
    penalty = jnp.mean(jnp.square(lengths - new_mean))
    loss = weight * penalty
    metrics = {"Loss/pl_penalty": penalty, "Loss/G/reg": loss, "Loss/pl_mean": new_mean}
    return loss, jax.lax.stop_gradient(new_mean), metrics


@dataclasses.dataclass(frozen=True)
class InstanceNoise:
    """Add N(0, std_t^2) to D's inputs; std_t falls linearly from `std` to 0 over `anneal_steps` (0 = constant)."""

    std: float
    anneal_steps: int = 0

    def __post_init__(self):
        if self.std < 0 or self.anneal_steps < 0:
            raise ValueError(f"Instance noise needs std >= 0 and anneal_steps >= 0, got {self.std} and "
                             f"{self.anneal_steps} (config keys `reg.instance_noise_std`, "
                             "`reg.instance_noise_anneal_steps`).")

    def std_at(self, step: jax.Array) -> jax.Array:
        """The noise std at train step `step`."""
        if self.anneal_steps == 0:
            return jnp.asarray(self.std, jnp.float32)
        return self.std * jnp.maximum(0.0, 1.0 - jnp.asarray(step, jnp.float32) / self.anneal_steps)

    def __call__(self, x: jax.Array, key: jax.Array, step: jax.Array) -> jax.Array:
        return x + self.std_at(step).astype(x.dtype) * jax.random.normal(key, x.shape, x.dtype)
