"""StyleGAN2-ADA's objective as a phase table: Gmain, Greg, Dmain, Dreg, G_ema and ADA, in one compiled step.

Follows NVlabs stylegan2-ada-pytorch `training/loss.py` (StyleGAN2Loss) and `training/training_loop.py`:

- `Gmain` (every step): softplus(-D(ADA(G(z)))) with style mixing and random noise; the mapping updates w_avg.
  A conditional G's fakes (in Gmain, Greg and Dmain) take labels drawn from the training set's class shares
  (`label_probs`), independently of the real batch's, as the reference's `gen_c`.
- `Greg` (every `pl_interval` = 4 steps): pl_interval * pl_weight * E[(|J_w^T y| - a)^2] on batch // 2 latents,
  with the running mean a (`aux["pl_mean"]`) updated with decay 0.01.
- `Dmain` (every step): softplus(D(ADA(G(z)))) + softplus(-D(ADA(x))); sum(sign(D(ADA(x)))) goes to ADA.
- `Dreg` (every `r1_interval` = 16 steps): r1_interval * gamma / 2 * E||grad_x D(ADA(x))||^2, the gradient taken
  w.r.t. the un-augmented reals; its real logits go to ADA too, as the reference counts them.
- `G_ema`: half-life `ema_kimg` thousand images, ramped up to `cur_nimg * ema_rampup` (cur_nimg = images before
  this step, so the first step copies G). G_ema uses G's `buffers` (w_avg, constant noise), as the reference copies
  them.
- `ADA`: after every `ada_interval`-th step (step + 1 divisible), p += sign(r_t - target) * B * interval / (kimg *
  1000), clipped to [0, 1], r_t the mean sign since the last adjustment; ada_target = 0 keeps p fixed (ablations).

The order is the reference's: G's phases, then D's, so Gmain sees the D of the previous step (still alternating). The
lazy phases' Adam takes lr * c and betas ** c, c = k / (k + 1) (`jaxgan.objectives.factory`). The running values live in
`TrainState.aux` (`initial_aux`): `pl_mean`, `ada_p`, and the sign accumulator `ada_sign_sum` / `ada_count`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from jaxgan.data.label_distribution import draw_labels
from jaxgan.engine.grad_norms import grad_norm
from jaxgan.engine.phases import Batch, KeyStreams, Metrics, reals, sample_latents, update_net
from jaxgan.engine.state import GAN, NetState, TrainState
from jaxgan.engine.train_step import Phase
from jaxgan.models.stylegan2.generator import BUFFERS, Generator
from jaxgan.models.stylegan2.losses import mixing_cutoff, pl_batch_size, style_mix
from jaxgan.terms import ada, ema
from jaxgan.terms.losses import GANLoss, get_loss
from jaxgan.terms.regularizers import ZeroCenteredPenalty, path_length_penalty


@dataclasses.dataclass(frozen=True)
class StyleGAN2Spec:
    """What the StyleGAN2 phases need besides the state: the nets and the objective's constants, all static."""

    gan: GAN
    batch_size: int  # the global batch (ADA's and G_ema's image counts)
    augment: ada.AugmentSpec | None = None  # None: D sees the images as they are
    ada_target: float = 0.6  # 0: p stays at its initial value
    ada_interval: int = 4
    ada_kimg: float = 500.0
    style_mixing_prob: float = 0.9
    pl_weight: float = 2.0
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    pl_interval: int = 4
    r1_gamma: float = 10.0
    r1_interval: int = 16
    ema_kimg: float = 10.0
    ema_rampup: float | None = None
    label_probs: tuple[float, ...] | None = None  # the training set's class shares (fake labels); None: uniform
    loss: GANLoss = dataclasses.field(default_factory=lambda: get_loss("non_saturating"))  # the reference's logistic


def initial_aux(p: float = 0.0) -> dict[str, jax.Array]:
    """The StyleGAN2 entries of `TrainState.aux`: the path-length mean, ADA's p and its sign accumulator."""
    zero = lambda: jnp.zeros((), jnp.float32)  # separate buffers: the step donates the state
    return {"pl_mean": zero(), "ada_p": jnp.full((), p, jnp.float32), "ada_sign_sum": zero(), "ada_count": zero()}


def fake_labels(spec: StyleGAN2Spec, keys: KeyStreams, n: int) -> jax.Array | None:
    """A conditional G's labels for n fakes, drawn from the training set's class shares independently of the real
    batch (the reference's gen_c); None for an unconditional G."""
    classes = spec.gan.num_classes
    if classes is None:
        return None
    probs = spec.label_probs or (1.0 / classes,) * classes
    return draw_labels(keys.phase("labels").key, n, probs)


def mapped_ws(spec: StyleGAN2Spec, net: NetState, params, z: jax.Array, labels, keys: KeyStreams):
    """(ws, G's collections with the new w_avg): G's mapping in train mode, style-mixed with a second latent."""
    G, variables = spec.gan.generator, {"params": params, **net.collections}
    ws, updates = G.apply(variables, z, labels, train=True, method=Generator.map, mutable=[BUFFERS])
    if spec.style_mixing_prob > 0:
        cutoff = mixing_cutoff(keys.phase("mixing").key, ws.shape[1], spec.style_mixing_prob)
        z2 = sample_latents(keys.phase("mixing").z(), z.shape[0], spec.gan.z_dim)
        ws2 = G.apply(variables, z2, labels, train=True, update_w_avg=False, method=Generator.map)
        ws = style_mix(ws, ws2, cutoff)
    return ws, {**net.collections, **updates}


def synthesize(spec: StyleGAN2Spec, net: NetState, params, ws: jax.Array, keys: KeyStreams) -> jax.Array:
    """G's synthesis network on ws with random per-layer noise from this phase's stream."""
    return spec.gan.generator.apply({"params": params, **net.collections}, ws, "random",
                                    method=Generator.synthesize, rngs={"noise": keys.phase("noise").key})


def run_g(spec: StyleGAN2Spec, net: NetState, params, z: jax.Array, labels, keys: KeyStreams):
    """(G(z) in training mode, G's updated collections)."""
    ws, collections = mapped_ws(spec, net, params, z, labels, keys)
    return synthesize(spec, net, params, ws, keys), collections


def run_d(spec: StyleGAN2Spec, net: NetState, params, img: jax.Array, labels, key: jax.Array,
          p: jax.Array) -> jax.Array:
    """D's logits [N] of ADA(img) with probability p (differentiable w.r.t. img and params)."""
    if spec.augment is not None:
        img = ada.augment(img, key, p, spec.augment)
    return spec.gan.discriminator.apply({"params": params, **net.collections}, img, labels)


def count_signs(aux: dict, real_logits: jax.Array) -> dict:
    """aux with sum(sign(D(real))) and the count of real logits added, for ADA's r_t."""
    signs = jnp.sign(jax.lax.stop_gradient(real_logits).astype(jnp.float32))
    return {**aux, "ada_sign_sum": aux["ada_sign_sum"] + jnp.sum(signs),
            "ada_count": aux["ada_count"] + signs.size}


def g_main(spec: StyleGAN2Spec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Gmain: one G update on spec.loss's G side of D(ADA(G(z, c))) (the reference: softplus(-D(...))), c fresh fake
    labels, gradients flowing through ADA into G."""
    n = batch["x"].shape[1]
    z, labels = sample_latents(keys.z(), n, spec.gan.z_dim), fake_labels(spec, keys, n)

    real, real_labels = reals(batch, 0)
    d, p = state.nets["D"], state.aux["ada_p"]
    # D(x) as a constant for losses that compare both sides (relativistic); XLA drops it when the loss ignores it.
    real_logits = jax.lax.stop_gradient(run_d(spec, d, d.params, real, real_labels, keys.d_input("real"), p))

    def loss_fn(params):
        fake, collections = run_g(spec, state.nets["G"], params, z, labels, keys)
        logits = run_d(spec, d, d.params, fake, labels, keys.d_input("fake"), p)
        loss = jnp.mean(spec.loss.g_loss(real_logits, logits))  # the reference's: softplus(-D(G(z)))
        return loss, (collections, {"Loss/G": loss, "Loss/scores/fake": jnp.mean(logits)})

    grads, (collections, metrics) = jax.grad(loss_fn, has_aux=True)(state.nets["G"].params)
    metrics["Grad/G_norm"] = grad_norm(grads)
    g = update_net(spec.gan.g_tx, state.nets["G"].replace(collections=collections), grads)
    return state.with_nets(G=g), metrics


def g_reg(spec: StyleGAN2Spec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Greg: one G update on pl_interval times the path-length penalty, on batch // pl_batch_shrink latents."""
    n = pl_batch_size(batch["x"].shape[1], spec.pl_batch_shrink)
    z, labels = sample_latents(keys.z(), n, spec.gan.z_dim), fake_labels(spec, keys, n)

    def loss_fn(params):
        ws, collections = mapped_ws(spec, state.nets["G"], params, z, labels, keys)
        synth = lambda w: synthesize(spec, state.nets["G"], params, w, keys)
        loss, pl_mean, metrics = path_length_penalty(synth, ws, keys.penalty(0), state.aux["pl_mean"],
                                                     spec.pl_weight, spec.pl_decay)
        return spec.pl_interval * loss, (collections, pl_mean, metrics)

    grads, (collections, pl_mean, metrics) = jax.grad(loss_fn, has_aux=True)(state.nets["G"].params)
    metrics["Grad/Greg"] = grad_norm(grads)
    g = update_net(spec.gan.g_tx, state.nets["G"].replace(collections=collections), grads)
    return state.with_nets(G=g).replace(aux={**state.aux, "pl_mean": pl_mean}), metrics


def d_main(spec: StyleGAN2Spec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Dmain: one D update on spec.loss's D side (the reference: softplus(D(ADA(G(z, c)))) + softplus(-D(ADA(x),
    c_x))), c fresh fake labels; counts sign(D(ADA(x))) for ADA."""
    real, labels = reals(batch, 0)
    z, gen_labels = sample_latents(keys.z(), real.shape[0], spec.gan.z_dim), fake_labels(spec, keys, real.shape[0])
    g = state.nets["G"]
    fake, g_collections = run_g(spec, g, g.params, z, gen_labels, keys)  # updates w_avg, as the reference
    fake, p = jax.lax.stop_gradient(fake), state.aux["ada_p"]

    def loss_fn(params):
        fake_logits = run_d(spec, state.nets["D"], params, fake, gen_labels, keys.d_input("fake"), p)
        real_logits = run_d(spec, state.nets["D"], params, real, labels, keys.d_input("real"), p)
        loss = jnp.mean(spec.loss.d_loss(real_logits, fake_logits))  # reference: softplus(-D(x)) + softplus(D(G(z)))
        metrics = {"Loss/D": loss, "Loss/scores/real": jnp.mean(real_logits),
                   "Loss/signs/real": jnp.mean(jnp.sign(real_logits)), "D/real": jnp.mean(real_logits),
                   "D/fake": jnp.mean(fake_logits)}
        return loss, (real_logits, metrics)

    grads, (real_logits, metrics) = jax.grad(loss_fn, has_aux=True)(state.nets["D"].params)
    metrics["Grad/D_norm"] = grad_norm(grads)
    g, d = state.nets["G"].replace(collections=g_collections), update_net(spec.gan.d_tx, state.nets["D"], grads)
    return state.with_nets(G=g, D=d).replace(aux=count_signs(state.aux, real_logits)), metrics


def d_reg(spec: StyleGAN2Spec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Dreg: one D update on r1_interval * gamma / 2 * E||grad_x D(ADA(x))||^2 (x the un-augmented reals)."""
    real, labels = reals(batch, 0)
    r1_penalty = ZeroCenteredPenalty(spec.r1_gamma, "real")

    def loss_fn(params):
        d_fn = lambda x, y: run_d(spec, state.nets["D"], params, x, y, keys.d_input("penalty"), state.aux["ada_p"])
        loss, r1, logits = r1_penalty.of_inputs(d_fn, real, labels)  # grad w.r.t. x before ADA
        return spec.r1_interval * loss, (logits, {"Loss/r1_penalty": r1, "Loss/D/reg": loss})

    grads, (real_logits, metrics) = jax.grad(loss_fn, has_aux=True)(state.nets["D"].params)
    metrics["Grad/Dreg"] = grad_norm(grads)
    return state.with_nets(D=update_net(spec.gan.d_tx, state.nets["D"], grads)
                           ).replace(aux=count_signs(state.aux, real_logits)), metrics


def g_ema(spec: StyleGAN2Spec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """G_ema <- lerp(G, G_ema, beta), beta from the half-life in images and its ramp-up (no-op without an EMA)."""
    if "G" not in state.ema:
        return state, {}
    cur_nimg = state.step.astype(jnp.float32) * spec.batch_size
    beta = ema.ramped_half_life_decay(spec.batch_size, spec.ema_kimg * 1000.0, cur_nimg, spec.ema_rampup)
    return state.with_ema(G=ema.update(state.ema["G"], state.nets["G"].params, beta)), {"Progress/ema_beta": beta}


def ada_adjust(spec: StyleGAN2Spec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """After every ada_interval-th step: move p toward r_t = target and reset the accumulator (fixed p: reset only)."""
    aux = state.aux
    r_t = aux["ada_sign_sum"] / jnp.maximum(aux["ada_count"], 1.0)
    due = (state.step + 1) % spec.ada_interval == 0
    p = aux["ada_p"]
    if spec.augment is not None and spec.ada_target != 0:
        new_p = ada.ada_update(p, aux["ada_sign_sum"], aux["ada_count"], batch_size=spec.batch_size,
                               target=spec.ada_target, interval=spec.ada_interval, kimg=spec.ada_kimg)
        p = jnp.where(due, new_p, p)
    reset = lambda v: jnp.where(due, jnp.zeros_like(v), v)
    aux = {**aux, "ada_p": p, "ada_sign_sum": reset(aux["ada_sign_sum"]), "ada_count": reset(aux["ada_count"])}
    return state.replace(aux=aux), {"ADA/p": p, "ADA/rt": r_t}


def stylegan2_phases(spec: StyleGAN2Spec) -> tuple[Phase, ...]:
    """The table: Gmain, [Greg every pl_interval], Dmain, [Dreg every r1_interval], G_ema, ADA."""
    bind = lambda fn: functools.partial(fn, spec)
    table = [Phase("Gmain", bind(g_main))]
    if spec.pl_weight > 0:
        table.append(Phase("Greg", bind(g_reg), spec.pl_interval))
    table.append(Phase("Dmain", bind(d_main)))
    if spec.r1_gamma > 0:
        table.append(Phase("Dreg", bind(d_reg), spec.r1_interval))
    table += [Phase("G_ema", bind(g_ema)), Phase("ADA", bind(ada_adjust))]
    return tuple(table)
