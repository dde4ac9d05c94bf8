"""CycleGAN (Zhu et al. 2017): two generators and two discriminators on unpaired images, a table of three phases.

The step first runs `generate`: every generator output of the step in one forward pass with its pullback
(`jax.vjp`): B' = G_ab(A) and the identity image G_ab(B), A' = G_ba(B) and G_ba(A), then the reconstructions
A'' = G_ba(B'), B'' = G_ab(A'). The phases, in order:
- `D_b`: D_b trains on B against a history-pool draw of B' (pool "b");
- `D_a`: D_a trains on A against pool "a"'s draw of A';
- `G`: both generators update on crit(D_b(B'), real) + crit(D_a(A'), real)
  + lambda_cycle (|A'' - A|_1 + |B'' - B|_1) + lambda_cycle * lambda_identity (|G_ab(B) - B|_1 + |G_ba(A) - A|_1)
  through the Ds the D phases just updated, pulled back through `generate`.
The table is bound to that one pass (the generators do not change before `G`). The authors' code updates
G first and then D on the same fakes (drawn through the pool); here D goes first, as in pix2pix and the GAN, so the
alternation is the same in every jaxgan model.

RNG: generator call i (0..3 in the order above) draws its dropout with fold_in(k, i), k the step's "G_forward"
stream (`KeyStreams.of_step(rng, step).phase("G_forward")`, shared by every phase), and fold_in(., j) for its j-th
image set when calls are not merged; each D phase draws its pool from its own "pool" stream.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxgan.engine.grad_norms import grad_norm
from jaxgan.engine.phases import KeyStreams
from jaxgan.engine.state import NetState, TrainState, apply_train, update_net
from jaxgan.engine.train_step import Phase, run_phases
from jaxgan.translation.losses import TranslationLoss, l1
from jaxgan.translation.pool import query_pool
from jaxgan.translation.state import TranslationModels

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
# The generator calls of a step, in dependency order: (generator, (output, input), ...).
_CALLS = (("g_ab", ("fake_b", "a"), ("idt_b", "b")), ("g_ba", ("fake_a", "b"), ("idt_a", "a")),
          ("g_ba", ("rec_a", "fake_b")), ("g_ab", ("rec_b", "fake_a")))


def dropout(key: jax.Array | None) -> dict[str, jax.Array]:
    """The `rngs` of a training-mode call: dropout from `key`, none without one."""
    return {} if key is None else {"dropout": key}


def per_example(module) -> bool:
    """Whether `module` treats each image of a batch alone (no BatchNorm), so calls can be merged into one batch."""
    return getattr(module, "norm", "batch") != "batch"


def run_merged(module, net: NetState, inputs: list[jax.Array], key, params=None, merge: bool = True
               ) -> tuple[list[jax.Array], dict]:
    """Apply `module` in training mode to each of `inputs`: as one concatenated batch if `merge`, else in turn."""
    if merge:
        out, coll = apply_train(module, net, jnp.concatenate(inputs), params=params, rngs=dropout(key))
        return jnp.split(out, len(inputs)), coll
    outs = []
    for i, x in enumerate(inputs):
        out, coll = apply_train(module, net, x, params=params,
                                rngs=dropout(None if key is None else jax.random.fold_in(key, i)))
        outs, net = [*outs, out], net.replace(collections=coll)
    return outs, net.collections


@dataclasses.dataclass(frozen=True)
class CycleGANSpec:
    """What CycleGAN's phases need besides the state: the networks, the adversarial loss and the L1 weights."""

    models: TranslationModels
    loss: TranslationLoss
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5


def generate(spec: CycleGANSpec, state: TrainState, batch: Batch) -> tuple[dict, Callable, dict]:
    """(every generator output of the step, their pullback w.r.t. both generators' params, the G collections).

    Networks without BatchNorm (the paper's instance norm) get each call's images as one batch: a generator
    translates its domain's images and the other domain's identity images together. That is the same function
    (every image is normalised alone) with fewer, larger convolutions.
    """
    nets, identity = state.nets, spec.lambda_identity > 0
    key = KeyStreams.of_step(state.rng, state.step).phase("G_forward").key

    def run(params):
        images, colls = {"a": batch["a"], "b": batch["b"]}, {n: nets[n].collections for n in ("g_ab", "g_ba")}
        for i, (g, *pairs) in enumerate(_CALLS):
            pairs = [(out, src) for out, src in pairs if identity or not out.startswith("idt")]
            net, G = nets[g].replace(collections=colls[g]), spec.models.generators[g]
            outs, colls[g] = run_merged(G, net, [images[src] for _, src in pairs], jax.random.fold_in(key, i),
                                        params=params[g], merge=per_example(G))
            images.update({out: y for (out, _), y in zip(pairs, outs, strict=True)})
        return {k: v for k, v in images.items() if k not in ("a", "b")}, colls

    return jax.vjp(run, {g: nets[g].params for g in ("g_ab", "g_ba")}, has_aux=True)


def d_phase(spec: CycleGANSpec, fwd: tuple, dom: str, state: TrainState, batch: Batch, keys: KeyStreams
            ) -> tuple[TrainState, Metrics]:
    """D_`dom`: one update on real images of domain `dom` against a pool draw of the step's fakes of it (`fwd`)."""
    name = f"d_{dom}"
    d, D = state.nets[name], spec.models.discriminators[name]
    fake = jax.lax.stop_gradient(fwd[0][f"fake_{dom}"])
    pool, fake = query_pool(state.aux["pools"][dom], fake, keys.phase("pool").key)

    def loss_fn(params):
        (fake_logits, real_logits), coll = run_merged(D, d, [fake, batch[dom]], None, params, per_example(D))
        value = spec.loss.d_loss(real_logits, fake_logits)
        return value, (coll, {f"Loss/{name}": value, f"D/{name}_real": jnp.mean(real_logits),
                              f"D/{name}_fake": jnp.mean(fake_logits)})

    grads, (coll, metrics) = jax.grad(loss_fn, has_aux=True)(d.params)
    metrics.update({f"Grad/{name}_norm": grad_norm(grads), f"Pool/{dom}_count": pool.count})
    d = update_net(spec.models.d_tx, d.replace(collections=coll), grads)
    return state.with_net(name, d).replace(aux={**state.aux, "pools": {**state.aux["pools"], dom: pool}}), metrics


def g_objective(spec: CycleGANSpec, outputs: dict, nets: dict, a, b) -> tuple[jax.Array, tuple[dict, Metrics]]:
    """Both generators' objective as a function of their outputs, through the current Ds."""
    logits_b, coll_b = apply_train(spec.models.discriminators["d_b"], nets["d_b"], outputs["fake_b"])
    logits_a, coll_a = apply_train(spec.models.discriminators["d_a"], nets["d_a"], outputs["fake_a"])
    m = {"Loss/G_adv_ab": spec.loss.g_loss(logits_b), "Loss/G_adv_ba": spec.loss.g_loss(logits_a),
         "Loss/G_cycle_a": l1(outputs["rec_a"], a), "Loss/G_cycle_b": l1(outputs["rec_b"], b)}
    total = m["Loss/G_adv_ab"] + m["Loss/G_adv_ba"] + spec.lambda_cycle * (m["Loss/G_cycle_a"] + m["Loss/G_cycle_b"])
    if spec.lambda_identity > 0:
        m["Loss/G_identity_a"], m["Loss/G_identity_b"] = l1(outputs["idt_a"], a), l1(outputs["idt_b"], b)
        total += spec.lambda_cycle * spec.lambda_identity * (m["Loss/G_identity_a"] + m["Loss/G_identity_b"])
    return total, ({"d_a": coll_a, "d_b": coll_b}, m)


def g_phase(spec: CycleGANSpec, fwd: tuple, state: TrainState, batch: Batch, keys: KeyStreams
            ) -> tuple[TrainState, Metrics]:
    """G: both generators' update through the current Ds, pulled back through the step's `generate` pass `fwd`."""
    outputs, pullback, g_colls = fwd
    objective = functools.partial(g_objective, spec)
    (total, (d_colls, metrics)), doutputs = jax.value_and_grad(objective, has_aux=True)(
        outputs, state.nets, batch["a"], batch["b"])
    (grads,) = pullback(doutputs)
    metrics.update({"Loss/G": total, "Grad/G_norm": grad_norm(grads)})
    nets = dict(state.nets)
    for g in ("g_ab", "g_ba"):
        nets[g] = update_net(spec.models.g_tx, nets[g].replace(collections=g_colls[g]), grads[g])
    for d in ("d_a", "d_b"):
        nets[d] = nets[d].replace(collections=d_colls[d])
    return state.replace(nets=nets), metrics


def cyclegan_phases(spec: CycleGANSpec, fwd: tuple) -> tuple[Phase, ...]:
    """CycleGAN's table, bound to the step's `generate` pass `fwd`: D_b (pool "b" of G_ab's fakes), D_a, then G."""
    return (Phase("D_b", functools.partial(d_phase, spec, fwd, "b")),
            Phase("D_a", functools.partial(d_phase, spec, fwd, "a")), Phase("G", functools.partial(g_phase, spec, fwd)))


def make_cyclegan_step(models: TranslationModels, loss: TranslationLoss, *, lambda_cycle: float = 10.0,
                       lambda_identity: float = 0.5
                       ) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """Return the un-jitted step `(state, {"a", "b"}) -> (state, metrics)`: the G pass, then `cyclegan_phases`."""
    spec = CycleGANSpec(models, loss, lambda_cycle, lambda_identity)

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        return run_phases(cyclegan_phases(spec, generate(spec, state, batch)), state, batch)

    return train_step
