"""PacGAN's packed discriminator: D judges m samples at once (Lin et al. 2018, "PacGAN: The power of two samples in
generative adversarial networks", NeurIPS).

`pack_examples` turns a batch (B, ..., C) into (B / m, ..., m * C): examples m*i, m*i + 1, ..., m*i + m - 1 form pack
i, concatenated along the last (feature or channel) axis in that order. `PackedDiscriminator` wraps any unconditional
D so that it sees packs and returns one logit per pack; real and fake are packed separately (D is called on each), so
a pack never mixes them. A collapsed G produces packs of near-identical samples, which a packed D can tell from real
packs: that is PacGAN's penalty on mode collapse.

Penalties that differentiate D w.r.t. its input (R1, R2, WGAN-GP) keep working: the gradient of a pack's logit w.r.t.
each example is that example's slice of the gradient w.r.t. the pack input, so a per-example squared norm summed over
a pack is the pack input's squared norm. R1/R2 average per-example squared norms over the B examples, so on a packed
D they equal gamma / 2 * E_pack ||grad D(pack)||^2 / m (R1 on the pack input with gamma / m). WGAN-GP's per-example
norms are norms of those slices, each pushed to 1 (and its interpolation weights differ within a pack).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def pack_examples(x: jax.Array, pack: int) -> jax.Array:
    """(B, ..., C) -> (B / pack, ..., pack * C): runs of `pack` consecutive examples joined on the last axis."""
    batch = x.shape[0]
    if batch % pack:
        raise ValueError(f"PacGAN packs {pack} examples into one D input, but the batch has {batch} examples (not a "
                         f"multiple of {pack}); set train.batch_size to a multiple of model.pack={pack}.")
    grouped = x.reshape((batch // pack, pack, *x.shape[1:]))
    grouped = jnp.moveaxis(grouped, 1, -2)  # (B / pack, ..., pack, C): the pack's examples next to the features
    return grouped.reshape((*grouped.shape[:-2], pack * x.shape[-1]))


class PackedDiscriminator(nn.Module):
    """Any unconditional D on packs of `pack` examples: (B, ...) -> one logit per pack, shape (B / pack,)."""

    inner: nn.Module
    pack: int

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        if labels is not None:
            raise ValueError("A packed D (model.pack > 1) is unconditional: a pack mixes examples of different "
                             "classes. Set model.pack=1 or model.d_cond='none'.")
        if self.is_initializing() and x.shape[0] % self.pack:
            x = jnp.concatenate([x] * self.pack)  # params depend on one pack's shape; init may see a batch of 1
        return self.inner(pack_examples(x, self.pack), None, train=train)
