"""pix2pix (Isola et al. 2017): conditional GAN on paired images, one jitted step per (A, B) batch.

G translates A to B; D judges (A, B) pairs patch by patch. Order within a step (as the authors' `optimize_parameters`):
1. G's forward pass B' = G(A), kept with its pullback (`jax.vjp`);
2. D phase: one update on 0.5 [crit(D(A, B), real) + crit(D(A, B'), fake)], B' held constant;
3. G phase: one update on crit(D(A, B'), real) + lambda * |B' - B|_1, measured through the D of step 2.
G's gradient is the pullback of the loss's gradient w.r.t. B', so G runs forward once per step.

Dropout RNG: the step's key is fold_in(state.rng, state.step); G's dropout uses fold_in(key, 0). The one forward
pass of step 1 draws one dropout mask, shared by D's fake and G's gradient (as PyTorch's single `netG(real_A)`).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jaxgan.state import NetState
from jaxgan.translation.losses import TranslationLoss, l1
from jaxgan.translation.state import TranslationModels, TranslationState, apply_train, update

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


def pair(a: jax.Array, b: jax.Array) -> jax.Array:
    """D's input: the conditioning image and the (real or generated) output stacked on channels."""
    return jnp.concatenate([a, b.astype(a.dtype)], axis=-1)


def make_pix2pix_step(models: TranslationModels, loss: TranslationLoss, *, lambda_l1: float = 100.0
                      ) -> Callable[[TranslationState, Batch], tuple[TranslationState, Metrics]]:
    """Return the un-jitted step `(state, {"a", "b"}) -> (state, metrics)`; jit it with `jit_train_step`."""
    G, D = models.generators["g_ab"], models.discriminators["d_b"]

    def d_phase(d: NetState, a, b, fake) -> tuple[NetState, Metrics]:
        """One D update: real pairs (A, B) against fake pairs (A, G(A))."""
        fake = jax.lax.stop_gradient(fake)

        def loss_fn(params):
            net = d.replace(params=params)
            fake_logits, coll = apply_train(D, net, pair(a, fake), None)
            real_logits, coll = apply_train(D, net.replace(collections=coll), pair(a, b), None)
            value = loss.d_loss(real_logits, fake_logits)
            return value, (coll, {"Loss/D": value, "D/real": jnp.mean(real_logits), "D/fake": jnp.mean(fake_logits)})

        grads, (coll, metrics) = jax.grad(loss_fn, has_aux=True)(d.params)
        metrics["Grad/D_norm"] = optax.tree.norm(grads)
        return update(models.d_tx, d.replace(collections=coll), grads), metrics

    def g_phase(g: NetState, d: NetState, a, b, fake, pullback) -> tuple[NetState, NetState, Metrics]:
        """One G update through the just-updated D: adversarial + lambda * L1, pulled back through G(A)."""

        def loss_wrt_fake(fake):
            logits, coll = apply_train(D, d, pair(a, fake), None)
            adv, rec = loss.g_loss(logits), l1(fake, b)
            return adv + lambda_l1 * rec, (coll, {"Loss/G_adv": adv, "Loss/G_L1": rec})

        (value, (d_coll, metrics)), dfake = jax.value_and_grad(loss_wrt_fake, has_aux=True)(fake)
        (grads,) = pullback(dfake)
        metrics.update({"Loss/G": value, "Grad/G_norm": optax.tree.norm(grads)})
        return update(models.g_tx, g, grads), d.replace(collections=d_coll), metrics

    def train_step(state: TranslationState, batch: Batch) -> tuple[TranslationState, Metrics]:
        """G forward, one D update, one G update: the whole pix2pix iteration as one program."""
        a, b = batch["a"], batch["b"]
        g, d = state.nets["g_ab"], state.nets["d_b"]
        dropout_key = jax.random.fold_in(jax.random.fold_in(state.rng, state.step), 0)
        forward = lambda params: apply_train(G, g, a, dropout_key, params=params)
        fake, pullback, g_coll = jax.vjp(forward, g.params, has_aux=True)
        d, d_metrics = d_phase(d, a, b, fake)
        g, d, g_metrics = g_phase(g.replace(collections=g_coll), d, a, b, fake, pullback)
        nets = {**state.nets, "g_ab": g, "d_b": d}
        return state.replace(step=state.step + 1, nets=nets), {**d_metrics, **g_metrics}

    return train_step
