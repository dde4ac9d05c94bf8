"""The alternating minimax update as one compiled XLA program.

A train step runs `n_disc` D phases, then one G phase, inside one `jax.jit`:

- `d_phase`: one D update on a real batch and a batch of fakes that D treats as constants.
- `g_phase`: one G update through the D that was *just* updated (the alternating update of Goodfellow et al.,
  not a simultaneous one).

The last D phase and the G phase share one forward pass of G: `jax.vjp` returns G(z) and its pullback, D trains on
G(z), and G's gradient is the pullback of dL_G/dG(z) computed through the updated D. This is the classic recipe
(PyTorch DCGAN's `netD(fake.detach())` then `netD(fake)`) without the second G forward pass.

Researchers change the objective by passing functions in: `loss` is a `GANLoss`, `d_penalties` are extra terms of
D's loss (gradient penalty, R1, ...), `g_penalties` extra terms of G's loss, and `d_input` transforms every input of
D, real or fake, in both phases and inside the penalties (DiffAugment, instance noise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import optax

from jaxgan.losses import GANLoss
from jaxgan.state import GAN, GANState, NetState

Metrics = dict[str, jax.Array]
Batch = dict[str, jax.Array]
# D in training mode with the params being differentiated: (examples, labels) -> logits.
DiscriminatorFn = Callable[[jax.Array, jax.Array | None], jax.Array]
GeneratorFn = Callable[[jax.Array, jax.Array | None], jax.Array]
# A differentiable transform of D's inputs: (examples, key, step) -> examples.
InputTransform = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
_INPUT_STREAM = 2**31 - 1  # fold_in data of the input transform's keys, apart from the penalties' 0, 1, ...


def adversarial_logits(d_out: jax.Array) -> jax.Array:
    """D's real/fake logits: `d_out` itself, or its first column when D also has an auxiliary output (AC-GAN)."""
    return d_out if d_out.ndim == 1 else d_out[:, 0]


class DPenalty(Protocol):
    """An extra term of D's loss: returns (weighted value, metrics); differentiated w.r.t. D's params."""

    def __call__(self, d_fn: DiscriminatorFn, real: jax.Array, fake: jax.Array,
                 labels: jax.Array | None, key: jax.Array, step: jax.Array) -> tuple[jax.Array, Metrics]:
        ...


class GPenalty(Protocol):
    """An extra term of G's loss: returns (weighted value, metrics); differentiated w.r.t. G's params."""

    def __call__(self, g_fn: GeneratorFn, z: jax.Array, labels: jax.Array | None, key: jax.Array,
                 step: jax.Array) -> tuple[jax.Array, Metrics]:
        ...


def sample_latents(key: jax.Array, batch_size: int, z_dim: int) -> jax.Array:
    """z ~ N(0, I), one key per example index, so the noise of a global batch is the same on any device count."""
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch_size))
    return jax.vmap(lambda k: jax.random.normal(k, (z_dim,)))(keys)


def d_step_keys(state: GANState, i: int) -> tuple[jax.Array, jax.Array]:
    """(z key, penalty key) of the i-th D update of the step at `state.step`: fold_in(rng, step), then i."""
    step_key = jax.random.fold_in(state.rng, state.step)
    z_key, d_key = jax.random.split(jax.random.fold_in(step_key, i))
    return z_key, d_key


def ema_decay_at(step: jax.Array, decay: float, warmup: bool) -> jax.Array:
    """EMA decay at `step`; with warm-up min(decay, (1 + t) / (10 + t)) so early averages track the params."""
    if not warmup:
        return jnp.asarray(decay, jnp.float32)
    t = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + t) / (10.0 + t))


def _apply_train(module, net: NetState, x: jax.Array, labels: jax.Array | None, params=None):
    """Run a module in training mode; returns (output, updated mutable collections)."""
    variables = {"params": net.params if params is None else params, **net.collections}
    out, updates = module.apply(variables, x, labels, train=True, mutable=list(net.collections))
    return out, {**net.collections, **updates}


def _update(tx: optax.GradientTransformation, net: NetState, grads) -> NetState:
    updates, opt_state = tx.update(grads, net.opt_state, net.params)
    return net.replace(params=optax.apply_updates(net.params, updates), opt_state=opt_state)


def make_train_step(
    gan: GAN,
    loss: GANLoss,
    *,
    n_disc: int = 1,
    d_penalties: Sequence[DPenalty] = (),
    g_penalties: Sequence[GPenalty] = (),
    ema_decay: float = 0.999,
    ema_warmup: bool = True,
    report_probs: bool = False,
    d_input: InputTransform | None = None,
) -> Callable[[GANState, Batch], tuple[GANState, Metrics]]:
    """Return the pure, un-jitted step `(state, batch) -> (state, metrics)`; see `jit_train_step`.

    `batch["x"]` has shape (n_disc, B, ...): one real batch per D update; `batch["label"]`, (n_disc, B), is
    needed by class-conditional models. `report_probs` adds mean sigmoid(D) for BCE-type losses.
    """
    if n_disc < 1:
        raise ValueError(f"n_disc must be >= 1, got {n_disc}.")
    G, D = gan.generator, gan.discriminator

    def seen(x, key, step, i):
        """What D sees of `x`: `d_input` applied with the i-th key of its own stream (x itself without one)."""
        if d_input is None:
            return x
        return d_input(x, jax.random.fold_in(jax.random.fold_in(key, _INPUT_STREAM), i), step)

    def d_phase(state: GANState, real, fake, labels, key) -> tuple[GANState, Metrics]:
        """One D update: minimise loss.d_loss(D(x), D(G(z))) plus the D penalties."""
        fake = jax.lax.stop_gradient(fake)

        def loss_fn(params):
            net = state.d.replace(params=params)
            real_logits, coll = _apply_train(D, net, seen(real, key, state.step, 0), labels)
            fake_logits, coll = _apply_train(D, net.replace(collections=coll), seen(fake, key, state.step, 1), labels)
            value = loss.d_loss(real_logits, fake_logits)
            real_adv, fake_adv = adversarial_logits(real_logits), adversarial_logits(fake_logits)
            metrics = {"Loss/D": value, "D/real": jnp.mean(real_adv), "D/fake": jnp.mean(fake_adv)}
            if report_probs:
                metrics["D/real_prob"] = jnp.mean(jax.nn.sigmoid(real_adv))
                metrics["D/fake_prob"] = jnp.mean(jax.nn.sigmoid(fake_adv))
            d_fn = lambda x, y: _apply_train(D, net.replace(collections=coll), seen(x, key, state.step, 2), y)[0]
            total = value
            for i, penalty in enumerate(d_penalties):
                term, m = penalty(d_fn, real, fake, labels, jax.random.fold_in(key, i), state.step)
                total, metrics = total + term, {**metrics, **m}
            metrics["Loss/D_total"] = total
            return total, (coll, metrics)

        grads, (coll, metrics) = jax.grad(loss_fn, has_aux=True)(state.d.params)
        metrics["Grad/D_norm"] = optax.tree.norm(grads)
        d = _update(gan.d_tx, state.d.replace(collections=coll), grads)
        return state.replace(d=d), metrics

    def g_phase(state: GANState, fake, g_pullback, z, labels, key) -> tuple[GANState, Metrics]:
        """One G update through the just-updated D: pull dL_G/dG(z) back through G's forward pass."""

        def loss_wrt_fake(fake):
            fake_logits, coll = _apply_train(D, state.d, seen(fake, key, state.step, 0), labels)
            return loss.g_loss(fake_logits), coll

        (value, d_coll), dfake = jax.value_and_grad(loss_wrt_fake, has_aux=True)(fake)
        (grads,) = g_pullback(dfake)
        metrics = {"Loss/G": value}
        if g_penalties:
            def penalty_loss(params):
                g_fn = lambda z_, y_: _apply_train(G, state.g, z_, y_, params=params)[0]
                total, ms = 0.0, {}
                for i, penalty in enumerate(g_penalties):
                    term, m = penalty(g_fn, z, labels, jax.random.fold_in(key, i), state.step)
                    total, ms = total + term, {**ms, **m}
                return total, ms

            pen_grads, pen_metrics = jax.grad(penalty_loss, has_aux=True)(state.g.params)
            grads = jax.tree.map(jnp.add, grads, pen_grads)
            metrics.update(pen_metrics)
        metrics["Grad/G_norm"] = optax.tree.norm(grads)
        g = _update(gan.g_tx, state.g, grads)
        return state.replace(g=g, d=state.d.replace(collections=d_coll)), metrics

    def train_step(state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
        """n_disc D updates, then one G update, all in one program."""
        reals, all_labels = batch["x"], batch.get("label")
        if reals.shape[0] != n_disc:
            raise ValueError(f"batch['x'] must have a leading axis of n_disc={n_disc} real batches, "
                             f"got shape {reals.shape}.")
        batch_size = reals.shape[1]
        g_key = jax.random.fold_in(jax.random.fold_in(state.rng, state.step), n_disc)
        d_metrics = []
        for i in range(n_disc):
            labels = None if all_labels is None else all_labels[i]
            z_key, d_key = d_step_keys(state, i)
            z = sample_latents(z_key, batch_size, gan.z_dim)

            def g_forward(params, z=z, labels=labels, g=state.g):
                return _apply_train(G, g, z, labels, params=params)

            if i < n_disc - 1:  # earlier D steps only need G(z), not its pullback
                fake, g_coll = g_forward(state.g.params)
            else:
                fake, g_pullback, g_coll = jax.vjp(g_forward, state.g.params, has_aux=True)
            state = state.replace(g=state.g.replace(collections=g_coll))
            state, m = d_phase(state, reals[i], fake, labels, d_key)
            d_metrics.append(m)
        state, g_metrics = g_phase(state, fake, g_pullback, z, labels, g_key)

        if state.g_ema_params is not None:
            beta = ema_decay_at(state.step, ema_decay, ema_warmup)
            ema = jax.tree.map(lambda e, p: beta * e + (1.0 - beta) * p, state.g_ema_params,
                               state.g.params)
            state = state.replace(g_ema_params=ema)
        metrics = {k: jnp.mean(jnp.stack([m[k] for m in d_metrics])) for k in d_metrics[0]}
        metrics.update(g_metrics)
        return state.replace(step=state.step + 1), metrics

    return train_step


def jit_train_step(step_fn: Callable[..., Any], **jit_kwargs) -> Callable:
    """jit a step with the state donated, so XLA updates the params in place."""
    return jax.jit(step_fn, donate_argnums=(0,), **jit_kwargs)
