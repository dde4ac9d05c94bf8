"""Class conditioning: conditional BatchNorm and label embeddings for G, projection and AC-GAN heads for D.

Labels come from the data pipeline (`batch["label"]`); the train step gives the fakes the labels of the real batch
they are trained against, so G learns p(x | y) under the data's class frequencies.

D's output convention: a (B,) array of logits, or for AC-GAN a (B, 2) array `[logit, log p(y | x)]` whose first column
is the adversarial logit (`jaxgan.terms.losses.adversarial_logits`) and whose second is the auxiliary classifier's
log-likelihood of the given label; the loss variant `jaxgan.terms.losses.auxiliary_classifier` turns it into the AC-GAN
losses.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.spectral import apply_layer

D_HEADS = ("none", "projection", "acgan")
G_CONDITIONING = ("none", "cbn", "embed")


def require_labels(labels: jax.Array | None, who: str) -> jax.Array:
    """Return `labels`, or raise a clear error when a class-conditional network was called without them."""
    if labels is None:
        raise ValueError(f"{who} is class-conditional and needs labels: pass labels=... (int class ids, shape (B,)), "
                         "or use an unconditional model (model.g_cond='none', model.d_cond='none').")
    return labels


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017; SNGAN's conditional G)."""

    num_classes: int
    momentum: float = 0.9
    epsilon: float = 1e-5
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array, train: bool) -> jax.Array:
        h = nn.BatchNorm(use_running_average=not train, use_scale=False, use_bias=False, momentum=self.momentum,
                         epsilon=self.epsilon, dtype=self.dtype, name="bn")(x)
        width = x.shape[-1]
        gamma = nn.Embed(self.num_classes, width, embedding_init=nn.initializers.ones, name="gamma")(labels)
        beta = nn.Embed(self.num_classes, width, embedding_init=nn.initializers.zeros, name="beta")(labels)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (width,)
        return h * gamma.reshape(shape).astype(h.dtype) + beta.reshape(shape).astype(h.dtype)


class LabelEmbedGenerator(nn.Module):
    """Any G conditioned on the class by a learned embedding of the label concatenated to z."""

    generator: nn.Module
    num_classes: int
    embed_dim: int = 64

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        labels = require_labels(labels, "This generator")
        e = nn.Embed(self.num_classes, self.embed_dim, name="label_embed")(labels)
        return self.generator(jnp.concatenate([z, e.astype(z.dtype)], axis=-1), None, train=train)


class DiscriminatorHead(nn.Module):
    """Features (B, F) -> D's output: a linear logit, plus <embed(y), h> (projection) or log p(y | x) (AC-GAN)."""

    kind: str = "none"  # none | projection (Miyato & Koyama 2018) | acgan (Odena et al. 2017)
    num_classes: int | None = None
    spectral_norm: bool = False

    @nn.compact
    def __call__(self, h: jax.Array, labels: jax.Array | None, train: bool) -> jax.Array:
        if self.kind not in D_HEADS:
            raise ValueError(f"Unknown D head {self.kind!r}; choose one of {D_HEADS} (config key `model.d_cond`).")
        h = h.astype(jnp.float32)
        init = nn.initializers.xavier_uniform()
        logit = apply_layer(nn.Dense(1, kernel_init=init, name="logit"), h, sn=self.spectral_norm, train=train)[:, 0]
        return conditional_output(self.kind, logit, h, labels, self.num_classes, spectral_norm=self.spectral_norm,
                                  train=train)


def conditional_output(kind: str, logit: jax.Array, h: jax.Array, labels: jax.Array | None, num_classes: int | None,
                       *, spectral_norm: bool = False, train: bool = True) -> jax.Array:
    """D's output from its adversarial `logit` (B,) and features `h` (B, F): the logit alone, plus <embed(y), h>
    (projection), or [logit, log p(y | x)] (AC-GAN). Call it inside a compact method: its layers join the caller."""
    if kind == "none":
        return logit
    labels = require_labels(labels, f"This discriminator ({kind} head)")
    init = nn.initializers.xavier_uniform()
    if kind == "projection":
        embed = nn.Embed(num_classes, h.shape[-1], embedding_init=init, name="embed")
        e = apply_layer(embed, labels, sn=spectral_norm, train=train)
        return logit + jnp.sum(e * h, axis=-1)
    classifier = nn.Dense(num_classes, kernel_init=init, name="classifier")
    log_probs = jax.nn.log_softmax(apply_layer(classifier, h, sn=spectral_norm, train=train))
    log_p_label = jnp.take_along_axis(log_probs, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]
    return jnp.stack([logit, log_p_label], axis=-1)
