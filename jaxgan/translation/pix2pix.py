"""pix2pix (Isola et al. 2017): conditional GAN on paired images, as a table of two phases run in one program.

G translates A to B; D judges (A, B) pairs patch by patch. The phases, in order (as the authors' `optimize_parameters`):
- `D_b`: one D update on 0.5 [crit(D(A, B), real) + crit(D(A, B'), fake)], B' = G(A) held constant;
- `G`: one G update on crit(D(A, B'), real) + lambda * |B' - B|_1, measured through the D that `D_b` just updated;
  G's gradient is the pullback of the loss's gradient w.r.t. B' (`jax.vjp`).
G runs forward once per step: `forward` computes B' with its pullback before the phases, and the table is bound to
it (G does not change before its own phase, so the D phase's fake and G's pullback are those of the step's G).

RNG: G's dropout key is the step's "G_forward" stream (`KeyStreams.of_step(rng, step).phase("G_forward")`), shared
by both phases, so D's fake and G's gradient see one dropout mask (as PyTorch's single `netG(real_A)`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxgan.engine.grad_norms import grad_norm
from jaxgan.engine.phases import KeyStreams
from jaxgan.engine.state import TrainState, apply_train, update_net
from jaxgan.engine.train_step import Phase, run_phases
from jaxgan.translation.losses import TranslationLoss, l1
from jaxgan.translation.state import TranslationModels

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Pix2PixSpec:
    """What pix2pix's phases need besides the state: the networks, the adversarial loss and the L1 weight."""

    models: TranslationModels
    loss: TranslationLoss
    lambda_l1: float = 100.0


def pair(a: jax.Array, b: jax.Array) -> jax.Array:
    """D's input: the conditioning image and the (real or generated) output stacked on channels."""
    return jnp.concatenate([a, b.astype(a.dtype)], axis=-1)


def forward(spec: Pix2PixSpec, state: TrainState, a: jax.Array) -> tuple[jax.Array, Callable, dict]:
    """(G(A), the pullback of G's params through it, G's updated collections), with the step's one dropout mask."""
    g, G = state.nets["g_ab"], spec.models.generators["g_ab"]
    key = KeyStreams.of_step(state.rng, state.step).phase("G_forward").key
    run = lambda params: apply_train(G, g, a, params=params, rngs={"dropout": key})
    return jax.vjp(run, g.params, has_aux=True)


def d_b(spec: Pix2PixSpec, fwd: tuple, state: TrainState, batch: Batch, keys: KeyStreams
        ) -> tuple[TrainState, Metrics]:
    """D_b: one D update, real pairs (A, B) against fake pairs (A, G(A)) of the step's `forward` pass `fwd`."""
    a, b, d, D = batch["a"], batch["b"], state.nets["d_b"], spec.models.discriminators["d_b"]
    fake = jax.lax.stop_gradient(fwd[0])

    def loss_fn(params):
        net = d.replace(params=params)
        fake_logits, coll = apply_train(D, net, pair(a, fake))
        real_logits, coll = apply_train(D, net.replace(collections=coll), pair(a, b))
        value = spec.loss.d_loss(real_logits, fake_logits)
        return value, (coll, {"Loss/D": value, "D/real": jnp.mean(real_logits), "D/fake": jnp.mean(fake_logits)})

    grads, (coll, metrics) = jax.grad(loss_fn, has_aux=True)(d.params)
    metrics["Grad/D_norm"] = grad_norm(grads)
    d = update_net(spec.models.d_tx, d.replace(collections=coll), grads)
    return state.replace(nets={**state.nets, "d_b": d}), metrics


def g_ab(spec: Pix2PixSpec, fwd: tuple, state: TrainState, batch: Batch, keys: KeyStreams
         ) -> tuple[TrainState, Metrics]:
    """G: one update through the current D, adversarial + lambda * L1, pulled back through `fwd`'s G(A)."""
    a, b, d, D = batch["a"], batch["b"], state.nets["d_b"], spec.models.discriminators["d_b"]
    fake, pullback, g_coll = fwd

    def loss_wrt_fake(fake):
        logits, coll = apply_train(D, d, pair(a, fake))
        adv, rec = spec.loss.g_loss(logits), l1(fake, b)
        return adv + spec.lambda_l1 * rec, (coll, {"Loss/G_adv": adv, "Loss/G_L1": rec})

    (value, (d_coll, metrics)), dfake = jax.value_and_grad(loss_wrt_fake, has_aux=True)(fake)
    (grads,) = pullback(dfake)
    metrics.update({"Loss/G": value, "Grad/G_norm": grad_norm(grads)})
    g = update_net(spec.models.g_tx, state.nets["g_ab"].replace(collections=g_coll), grads)
    return state.replace(nets={**state.nets, "g_ab": g, "d_b": d.replace(collections=d_coll)}), metrics


def pix2pix_phases(spec: Pix2PixSpec, fwd: tuple) -> tuple[Phase, ...]:
    """pix2pix's table, bound to the step's G pass `fwd` (`forward`): D_b, then G."""
    return (Phase("D_b", functools.partial(d_b, spec, fwd)), Phase("G", functools.partial(g_ab, spec, fwd)))


def make_pix2pix_step(models: TranslationModels, loss: TranslationLoss, *, lambda_l1: float = 100.0
                      ) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """Return the un-jitted step `(state, {"a", "b"}) -> (state, metrics)`: G's pass, then `pix2pix_phases`."""
    spec = Pix2PixSpec(models, loss, lambda_l1)

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        return run_phases(pix2pix_phases(spec, forward(spec, state, batch["a"])), state, batch)

    return train_step
