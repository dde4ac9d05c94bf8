"""Top-k training of G (Sinha et al. 2020): G's update keeps only the k fakes that D scores highest.

Sinha, Zhao, Goyal, Raffel & Odena, *Top-k Training of GANs: Improving GAN Performance by Throwing Away Bad
Samples*, NeurIPS 2020, Sec. 3: in G's update, the fakes D rates worst (most fake) would pull G toward D's current
"real" region from far away; dropping them from G's loss lets G refine the samples that are already near a mode.
k starts at the batch size and decays by gamma once per dataset epoch to a floor of nu * batch (their defaults:
gamma = 0.99, nu = 0.5-0.75). The epoch is counted in train steps (`epoch_steps`): floor(N / (B * n_disc)) for N
examples, a global batch of B and n_disc real batches per step, the full batches the loader serves per epoch.
`train.topk_decay_steps` > 0 sets another period explicitly; infinite data (the mixtures) needs one.

Only G's loss changes: it is the mean of G's per-example losses (`jaxgan.terms.losses`) over the k kept fakes; the other
fakes still enter D's update, and the `Loss/G` reported is the whole batch's mean. Any loss of (D(x), D(G(z))) works:
example i of a relativistic loss also reads its paired real (RpGAN) or the batch means (RaGAN). With a packed D
(PacGAN) a "fake" is one pack.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class TopKSchedule:
    """k(step) = max(floor(n * decay ** (step // decay_steps)), floor(n * fraction_min), 1) of the n fakes."""

    fraction_min: float  # nu: the floor of k / n; 1.0 keeps every fake (top-k off)
    decay: float = 0.99  # gamma: k / n is multiplied by this every `decay_steps` steps
    decay_steps: int = 100  # train steps per decay of k: the paper's epoch (`decay_period`)

    def __post_init__(self):
        if not 0.0 < self.fraction_min <= 1.0 or not 0.0 < self.decay <= 1.0 or self.decay_steps < 1:
            raise ValueError(f"Top-k training needs 0 < fraction_min <= 1, 0 < decay <= 1 and decay_steps >= 1, got "
                             f"{self.fraction_min}, {self.decay}, {self.decay_steps} (config keys "
                             "`train.topk_fraction_min`, `train.topk_decay`, `train.topk_decay_steps`).")

    def k_at(self, step: jax.Array, n: int) -> jax.Array:
        """How many of `n` fakes G's update keeps at train step `step` (an int32 scalar, traced)."""
        epochs = (jnp.asarray(step) // self.decay_steps).astype(jnp.float32)
        fraction = jnp.maximum(self.decay ** epochs, self.fraction_min)
        return jnp.clip(jnp.floor(n * fraction + 1e-4), 1, n).astype(jnp.int32)


def epoch_steps(num_examples: int, batch_size: int, n_disc: int = 1) -> int:
    """Train steps per dataset epoch: floor(N / (B * n_disc)), at least 1 (each step reads n_disc batches of B)."""
    return max(num_examples // (batch_size * n_disc), 1)


def decay_period(decay_steps: int, num_examples: int | None, batch_size: int, n_disc: int = 1) -> int:
    """k's decay period in train steps: `decay_steps` when > 0, else one dataset epoch (`epoch_steps`)."""
    if decay_steps > 0:
        return decay_steps
    if num_examples is None:
        raise ValueError("train.topk_decay_steps=0 decays k once per dataset epoch, but this dataset has no epochs "
                         "(infinite samples); set train.topk_decay_steps > 0, k's decay period in train steps.")
    return epoch_steps(num_examples, batch_size, n_disc)


def top_k_mask(scores: jax.Array, k: jax.Array) -> jax.Array:
    """True for the k entries of `scores` (1-D) with the highest values (ties broken by index); k may be traced."""
    ranks = jnp.argsort(jnp.argsort(-scores, stable=True), stable=True)
    return ranks < k


def top_k_mean(losses: jax.Array, scores: jax.Array, k: jax.Array) -> jax.Array:
    """The mean of the per-example `losses` [N] over the k examples with the highest `scores` (D's fake logits)."""
    keep = top_k_mask(jax.lax.stop_gradient(scores), k)
    return jnp.sum(jnp.where(keep, losses, 0.0)) / k.astype(losses.dtype)
