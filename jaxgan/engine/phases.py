"""The phases of a GAN train step, as in StyleGAN2-ADA: `Dmain`, `Dreg`, `Gmain` and `Greg`.

Each phase is a top-level pure function `(spec, ..., state, batch, keys) -> (state, metrics)`; bound to its
frozen `StepSpec` with `functools.partial` it is a `PhaseFn` `(state, batch, keys) -> (state, metrics)` that
`jaxgan.engine.train_step` runs from a table with intervals, inside one jitted program.

- `d_main`: one D update on a real batch and fakes of fresh z, D treating the fakes as constants.
- `d_reg`: StyleGAN2's lazy regulariser, its own D update on `interval * n_disc` times the lazy penalties (R1, R2):
  the number of D updates it stands for.
- `g_main`: one G update on fresh z through the D that was *just* updated (alternating, not simultaneous).
- `g_reg`: its own G update on `interval` times the lazy G penalties.
- `d_then_g_main`: the last D update and G's update on ONE forward pass of G (`generate_with_pullback`): D trains
  on G(z), and G's gradient is the pullback of dL_G/dG(z) through the updated D. This is PyTorch DCGAN's
  `netD(fake.detach())` then `netD(fake)` without the second G forward pass.

Every loss sees both sides: in G's phase D(x) is computed by the current D as a constant, so `loss.g_loss(real,
fake)` can compare them (relativistic losses); XLA drops that forward pass when a loss does not read it. The losses
give one value per example; a phase minimises their mean (G's with top-k training: the mean over the k kept fakes).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import optax

from jaxgan.engine.grad_norms import grad_norm, logged_only
from jaxgan.engine.state import GAN, TrainState, apply_train, update_net
from jaxgan.terms import ema
from jaxgan.terms.losses import GANLoss, adversarial_logits
from jaxgan.terms.topk import TopKSchedule, top_k_mean

Metrics = dict[str, jax.Array]
Batch = dict[str, jax.Array]
# D in training mode with the params being differentiated: (examples, labels) -> logits.
DiscriminatorFn = Callable[[jax.Array, jax.Array | None], jax.Array]
GeneratorFn = Callable[[jax.Array, jax.Array | None], jax.Array]
# A differentiable transform of D's inputs: (examples, key, step) -> examples.
InputTransform = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


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


def _named(key: jax.Array, name: str) -> jax.Array:
    return jax.random.fold_in(key, zlib.crc32(name.encode()))


class KeyStreams(NamedTuple):
    """The named random streams of one train step, all from fold_in(rng, step); one sub-stream per phase."""

    key: jax.Array

    @classmethod
    def of_step(cls, rng: jax.Array, step: jax.Array) -> KeyStreams:
        """The streams of the train step `step` of the run whose base key is `rng`."""
        return cls(jax.random.fold_in(rng, step))

    def phase(self, name: str) -> KeyStreams:
        """The streams of the phase (or part of a phase) called `name`."""
        return KeyStreams(_named(self.key, name))

    def z(self) -> jax.Array:
        """The key of this phase's latents (`sample_latents`)."""
        return _named(self.key, "z")

    def d_input(self, seen: str) -> jax.Array:
        """The key of D's input transform for the inputs `seen`: "real", "fake" or "penalty"."""
        return _named(self.key, f"d_input/{seen}")

    def penalty(self, i: int) -> jax.Array:
        """The key of the i-th penalty of this phase."""
        return jax.random.fold_in(_named(self.key, "penalty"), i)


@dataclasses.dataclass(frozen=True)
class StepSpec:
    """What a GAN's phases need besides the state: the nets, the loss and the extra terms, all static; `g_name` and
    `d_name` say which of the state's nets they train, so a second D reuses them with `d_name="D2"`."""

    gan: GAN
    loss: GANLoss
    n_disc: int = 1
    d_penalties: tuple[DPenalty, ...] = ()  # in every D update
    d_reg: tuple[DPenalty, ...] = ()  # in `d_reg`, every d_reg_interval steps (in every D update when 1)
    d_reg_interval: int = 1
    g_penalties: tuple[GPenalty, ...] = ()  # in every G update
    g_reg: tuple[GPenalty, ...] = ()  # in `g_reg`, every g_reg_interval steps (in every G update when 1)
    g_reg_interval: int = 1
    d_input: InputTransform | None = None
    report_probs: bool = False
    g_top_k: TopKSchedule | None = None  # top-k training: G's loss only through the k best-scored fakes
    g_name: str = "G"  # the networks these phases train, by their names in `TrainState.nets` (a second D: "D2")
    d_name: str = "D"


def sample_latents(key: jax.Array, batch_size: int, z_dim: int) -> jax.Array:
    """z ~ N(0, I), one key per example index, so the noise of a global batch is the same on any device count."""
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch_size))
    return jax.vmap(lambda k: jax.random.normal(k, (z_dim,)))(keys)


def reals(batch: Batch, i: int) -> tuple[jax.Array, jax.Array | None]:
    """The i-th real batch of a step and its labels (None for unlabelled data)."""
    labels = batch.get("label")
    return batch["x"][i], None if labels is None else labels[i]


def seen(spec: StepSpec, x: jax.Array, key: jax.Array, step: jax.Array) -> jax.Array:
    """What D sees of `x`: `spec.d_input` applied with `key`, or `x` itself without one."""
    return x if spec.d_input is None else spec.d_input(x, key, step)


def generate(spec: StepSpec, state: TrainState, z: jax.Array, labels) -> tuple[jax.Array, TrainState]:
    """G(z) in training mode, with G's updated collections (BatchNorm statistics) kept in the state."""
    fake, coll = apply_train(spec.gan.generator, state.nets[spec.g_name], z, labels)
    return fake, state.with_net(spec.g_name, state.nets[spec.g_name].replace(collections=coll))


def generate_with_pullback(spec: StepSpec, state: TrainState, z: jax.Array, labels
                           ) -> tuple[jax.Array, Callable, TrainState]:
    """G(z), the pullback of G's params through it (`jax.vjp`), and the state with G's new collections."""
    forward = lambda params: apply_train(spec.gan.generator, state.nets[spec.g_name], z, labels, params=params)
    fake, pullback, coll = jax.vjp(forward, state.nets[spec.g_name].params, has_aux=True)
    return fake, pullback, state.with_net(spec.g_name, state.nets[spec.g_name].replace(collections=coll))


def _sum_terms(terms: Sequence[Callable[[int], tuple[jax.Array, Metrics]]]) -> tuple[jax.Array, Metrics]:
    total, metrics = jnp.zeros((), jnp.float32), {}
    for i, term in enumerate(terms):
        value, m = term(i)
        total, metrics = total + value, {**metrics, **m}
    return total, metrics


def _logit_metrics(spec: StepSpec, real_out: jax.Array, fake_out: jax.Array) -> Metrics:
    real, fake = adversarial_logits(real_out), adversarial_logits(fake_out)
    metrics = {"D/real": jnp.mean(real), "D/fake": jnp.mean(fake)}
    if spec.report_probs:
        metrics["D/real_prob"] = jnp.mean(jax.nn.sigmoid(real))
        metrics["D/fake_prob"] = jnp.mean(jax.nn.sigmoid(fake))
    return metrics


def d_update(spec: StepSpec, state: TrainState, real, fake, labels, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """One D update: minimise E[loss.d_loss(D(x), D(G(z)))] plus D's every-step penalties; fakes are constants."""
    fake, D, step = jax.lax.stop_gradient(fake), spec.gan.discriminator, state.step
    penalties = spec.d_penalties + (spec.d_reg if spec.d_reg_interval == 1 else ())

    def loss_fn(params):
        net = state.nets[spec.d_name].replace(params=params)
        real_out, coll = apply_train(D, net, seen(spec, real, keys.d_input("real"), step), labels)
        fake_out, coll = apply_train(D, net.replace(collections=coll), seen(spec, fake, keys.d_input("fake"), step),
                                     labels)
        value = jnp.mean(spec.loss.d_loss(real_out, fake_out))
        net = net.replace(collections=coll)
        d_fn = lambda x, y: apply_train(D, net, seen(spec, x, keys.d_input("penalty"), step), y)[0]
        terms = [lambda i, p=p: p(d_fn, real, fake, labels, keys.penalty(i), step) for p in penalties]
        extra, metrics = _sum_terms(terms)
        metrics.update({"Loss/D": value, "Loss/D_total": value + extra})
        return value + extra, (coll, metrics, (real_out, fake_out))

    grads, (coll, metrics, outs) = jax.grad(loss_fn, has_aux=True)(state.nets[spec.d_name].params)
    diagnostics = lambda g, outs: {"Grad/D_norm": optax.tree.norm(g), **_logit_metrics(spec, *outs)}
    metrics.update(logged_only(diagnostics, grads, outs))  # on the logged steps (`jaxgan.engine.grad_norms`)
    d = update_net(spec.gan.d_tx, state.nets[spec.d_name].replace(collections=coll), grads)
    return state.with_net(spec.d_name, d), metrics


def g_update(spec: StepSpec, state: TrainState, real, fake, pullback, z, labels, keys: KeyStreams
             ) -> tuple[TrainState, Metrics]:
    """One G update through the current D: pull dL_G/dG(z) back through G's forward pass, plus G's penalties."""
    D, step = spec.gan.discriminator, state.step
    real_seen = seen(spec, real, keys.d_input("real"), step)
    real_out = jax.lax.stop_gradient(apply_train(D, state.nets[spec.d_name], real_seen, labels)[0])

    def loss_wrt_fake(fake):
        fake_out, coll = apply_train(D, state.nets[spec.d_name], seen(spec, fake, keys.d_input("fake"), step), labels)
        losses = spec.loss.g_loss(real_out, fake_out)
        metrics = {"Loss/G": jnp.mean(losses)}  # the whole batch's, with top-k too
        if spec.g_top_k is None:
            return metrics["Loss/G"], (coll, metrics)
        k = spec.g_top_k.k_at(step, fake_out.shape[0])
        metrics["G/top_k"] = k.astype(jnp.float32)
        return top_k_mean(losses, adversarial_logits(fake_out), k), (coll, metrics)

    dfake, (d_coll, metrics) = jax.grad(loss_wrt_fake, has_aux=True)(fake)
    (grads,) = pullback(dfake)
    penalties = spec.g_penalties + (spec.g_reg if spec.g_reg_interval == 1 else ())
    if penalties:
        pen_grads, pen_metrics = jax.grad(_g_penalty_loss(spec, state, penalties, z, labels, keys), has_aux=True)(
            state.nets[spec.g_name].params)
        grads = jax.tree.map(jnp.add, grads, pen_grads)
        metrics.update(pen_metrics)
    metrics["Grad/G_norm"] = grad_norm(grads)
    g = update_net(spec.gan.g_tx, state.nets[spec.g_name], grads)
    d = state.nets[spec.d_name].replace(collections=d_coll)
    return state.with_net(spec.g_name, g).with_net(spec.d_name, d), metrics


def _g_penalty_loss(spec: StepSpec, state: TrainState, penalties, z, labels, keys: KeyStreams, scale: float = 1.0):
    """G's params -> (scale * the sum of `penalties`, their metrics)."""

    def loss(params):
        g_fn = lambda z_, y_: apply_train(spec.gan.generator, state.nets[spec.g_name], z_, y_, params=params)[0]
        total, metrics = _sum_terms([lambda i, p=p: p(g_fn, z, labels, keys.penalty(i), state.step)
                                     for p in penalties])
        return scale * total, metrics

    return loss


def d_main(spec: StepSpec, index: int, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Dmain: D update `index` of the step, on real batch `index` and the fakes of fresh z."""
    real, labels = reals(batch, index)
    fake, state = generate(spec, state, sample_latents(keys.z(), real.shape[0], spec.gan.z_dim), labels)
    return d_update(spec, state, real, fake, labels, keys)


def g_main(spec: StepSpec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Gmain: one G update on fresh z (labels and D(x) from the last real batch) through the current D."""
    real, labels = reals(batch, spec.n_disc - 1)
    z = sample_latents(keys.z(), real.shape[0], spec.gan.z_dim)
    fake, pullback, state = generate_with_pullback(spec, state, z, labels)
    return g_update(spec, state, real, fake, pullback, z, labels, keys)


def d_then_g_main(spec: StepSpec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """The last Dmain and Gmain on one G forward pass: D trains on G(z), G pulls back through the updated D."""
    real, labels = reals(batch, spec.n_disc - 1)
    z = sample_latents(keys.z(), real.shape[0], spec.gan.z_dim)
    fake, pullback, state = generate_with_pullback(spec, state, z, labels)
    state, d_metrics = d_update(spec, state, real, fake, labels, keys.phase("D"))
    state, g_metrics = g_update(spec, state, real, fake, pullback, z, labels, keys.phase("G"))
    return state, {**d_metrics, **g_metrics}


def d_reg_scale(spec: StepSpec) -> int:
    """The D updates one Dreg stands for: d_reg_interval train steps of n_disc D updates each.

    Dreg runs every d_reg_interval train steps, i.e. once per d_reg_interval * n_disc Dmain updates, so it carries
    that many updates' share of the penalty: gamma then means the same for any n_disc (Karras et al. 2020, App. B).
    """
    return spec.d_reg_interval * spec.n_disc


def d_reg(spec: StepSpec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Dreg: one D update on d_reg_interval * n_disc * (the lazy penalties) of the first real batch and fresh fakes."""
    real, labels = reals(batch, 0)
    z = sample_latents(keys.z(), real.shape[0], spec.gan.z_dim)
    fake, _ = apply_train(spec.gan.generator, state.nets[spec.g_name], z, labels)  # G's statistics stay: only D learns
    fake, D, step = jax.lax.stop_gradient(fake), spec.gan.discriminator, state.step

    def loss_fn(params):
        net = state.nets[spec.d_name].replace(params=params)
        d_fn = lambda x, y: apply_train(D, net, seen(spec, x, keys.d_input("penalty"), step), y)[0]
        total, metrics = _sum_terms([lambda i, p=p: p(d_fn, real, fake, labels, keys.penalty(i), step)
                                     for p in spec.d_reg])
        return d_reg_scale(spec) * total, metrics

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.nets[spec.d_name].params)
    metrics["Grad/Dreg_norm"] = grad_norm(grads)
    return state.with_net(spec.d_name, update_net(spec.gan.d_tx, state.nets[spec.d_name], grads)), metrics


def g_reg(spec: StepSpec, state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
    """Greg: one G update on g_reg_interval * (the lazy G penalties) at fresh z."""
    _, labels = reals(batch, spec.n_disc - 1)
    z = sample_latents(keys.z(), batch["x"].shape[1], spec.gan.z_dim)
    loss = _g_penalty_loss(spec, state, spec.g_reg, z, labels, keys, scale=spec.g_reg_interval)
    grads, metrics = jax.grad(loss, has_aux=True)(state.nets[spec.g_name].params)
    metrics["Grad/Greg_norm"] = grad_norm(grads)
    return state.with_net(spec.g_name, update_net(spec.gan.g_tx, state.nets[spec.g_name], grads)), metrics


def g_ema(decay: float, warmup: bool, state: TrainState, batch: Any = None, keys: Any = None
          ) -> tuple[TrainState, Metrics]:
    """G_ema: g_ema_params <- lerp toward G's params with `ema.step_decay` (no-op for a state without an EMA)."""
    if "G" not in state.ema:
        return state, {}
    beta = ema.step_decay(state.step, decay, warmup)
    return state.with_ema(G=ema.update(state.ema["G"], state.nets["G"].params, beta)), {}
