"""CycleGAN (Zhu et al. 2017): two generators and two discriminators on unpaired images, one jitted step.

Order within a step (D then G, so each G update sees the Ds it must now fool):
1. every generator output of the step in one forward pass with its pullback (`jax.vjp`): B' = G_ab(A) and the
   identity image G_ab(B), A' = G_ba(B) and G_ba(A), then the reconstructions A'' = G_ba(B'), B'' = G_ab(A');
2. D phase: D_b trains on B against a history-pool draw of B' (pool "b"), D_a on A against pool "a"'s draw of A';
3. G phase: both generators update on crit(D_b(B'), real) + crit(D_a(A'), real)
   + lambda_cycle (|A'' - A|_1 + |B'' - B|_1) + lambda_cycle * lambda_identity (|G_ab(B) - B|_1 + |G_ba(A) - A|_1)
   through the Ds of step 2, pulled back through step 1.
The authors' code updates G first and then D on the same fakes (drawn through the pool); here D goes first, as in
pix2pix and the core, so the alternation is the same in every jaxgan model.

RNG: the step's key is k = fold_in(state.rng, state.step); generator call i (0..3 in the order above) draws its
dropout with fold_in(fold_in(k, 0), i) (and fold_in(., j) for its j-th image set when calls are not merged);
pool "b" draws with fold_in(k, 1), pool "a" with fold_in(k, 2).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jaxgan.state import NetState
from jaxgan.translation.losses import TranslationLoss, l1
from jaxgan.translation.pool import query_pool
from jaxgan.translation.state import TranslationModels, TranslationState, apply_train, update

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
# The generator calls of a step, in dependency order: (generator, (output, input), ...).
_CALLS = (("g_ab", ("fake_b", "a"), ("idt_b", "b")), ("g_ba", ("fake_a", "b"), ("idt_a", "a")),
          ("g_ba", ("rec_a", "fake_b")), ("g_ab", ("rec_b", "fake_a")))


def per_example(module) -> bool:
    """Whether `module` treats each image of a batch alone (no BatchNorm), so calls can be merged into one batch."""
    return getattr(module, "norm", "batch") != "batch"


def run_merged(module, net: NetState, inputs: list[jax.Array], key, params=None, merge: bool = True
               ) -> tuple[list[jax.Array], dict]:
    """Apply `module` in training mode to each of `inputs`: as one concatenated batch if `merge`, else in turn."""
    if merge:
        out, coll = apply_train(module, net, jnp.concatenate(inputs), key, params=params)
        return jnp.split(out, len(inputs)), coll
    outs = []
    for i, x in enumerate(inputs):
        out, coll = apply_train(module, net, x, None if key is None else jax.random.fold_in(key, i), params=params)
        outs, net = [*outs, out], net.replace(collections=coll)
    return outs, net.collections


def make_cyclegan_step(models: TranslationModels, loss: TranslationLoss, *, lambda_cycle: float = 10.0,
                       lambda_identity: float = 0.5
                       ) -> Callable[[TranslationState, Batch], tuple[TranslationState, Metrics]]:
    """Return the un-jitted step `(state, {"a", "b"}) -> (state, metrics)`; jit it with `jit_train_step`.

    Networks without BatchNorm (the paper's instance norm) get each call's images as one batch: a generator
    translates its domain's images and the other domain's identity images together, and a D sees real and fake
    together. That is the same function (every image is normalised alone) with fewer, larger convolutions.
    """
    identity = lambda_identity > 0

    def generate(params, nets, a, b, key):
        """Every generator output of the step; BatchNorm collections (if any) thread through the calls."""
        images, colls = {"a": a, "b": b}, {n: nets[n].collections for n in ("g_ab", "g_ba")}
        for i, (g, *pairs) in enumerate(_CALLS):
            pairs = [(out, src) for out, src in pairs if identity or not out.startswith("idt")]
            net, G = nets[g].replace(collections=colls[g]), models.generators[g]
            outs, colls[g] = run_merged(G, net, [images[src] for _, src in pairs], jax.random.fold_in(key, i),
                                        params=params[g], merge=per_example(G))
            images.update({out: y for (out, _), y in zip(pairs, outs, strict=True)})
        return {k: v for k, v in images.items() if k not in ("a", "b")}, colls

    def d_phase(d: NetState, name: str, real, fake) -> tuple[NetState, Metrics]:
        """One update of D `name`: real images of its domain against (pooled) fakes."""
        D = models.discriminators[name]

        def loss_fn(params):
            (fake_logits, real_logits), coll = run_merged(D, d, [fake, real], None, params, per_example(D))
            value = loss.d_loss(real_logits, fake_logits)
            return value, (coll, {f"Loss/{name}": value, f"D/{name}_real": jnp.mean(real_logits),
                                  f"D/{name}_fake": jnp.mean(fake_logits)})

        grads, (coll, metrics) = jax.grad(loss_fn, has_aux=True)(d.params)
        metrics[f"Grad/{name}_norm"] = optax.tree.norm(grads)
        return update(models.d_tx, d.replace(collections=coll), grads), metrics

    def g_loss(outputs, nets, a, b):
        """Both generators' objective as a function of their outputs, through the current Ds."""
        logits_b, coll_b = apply_train(models.discriminators["d_b"], nets["d_b"], outputs["fake_b"], None)
        logits_a, coll_a = apply_train(models.discriminators["d_a"], nets["d_a"], outputs["fake_a"], None)
        m = {"Loss/G_adv_ab": loss.g_loss(logits_b), "Loss/G_adv_ba": loss.g_loss(logits_a),
             "Loss/G_cycle_a": l1(outputs["rec_a"], a), "Loss/G_cycle_b": l1(outputs["rec_b"], b)}
        total = m["Loss/G_adv_ab"] + m["Loss/G_adv_ba"] + lambda_cycle * (m["Loss/G_cycle_a"] + m["Loss/G_cycle_b"])
        if identity:
            m["Loss/G_identity_a"], m["Loss/G_identity_b"] = l1(outputs["idt_a"], a), l1(outputs["idt_b"], b)
            total += lambda_cycle * lambda_identity * (m["Loss/G_identity_a"] + m["Loss/G_identity_b"])
        return total, ({"d_a": coll_a, "d_b": coll_b}, m)

    def train_step(state: TranslationState, batch: Batch) -> tuple[TranslationState, Metrics]:
        """Generator forward, D_a and D_b updates on pooled fakes, then both G updates, as one program."""
        a, b, nets = batch["a"], batch["b"], dict(state.nets)
        key = jax.random.fold_in(state.rng, state.step)
        params = {g: nets[g].params for g in ("g_ab", "g_ba")}
        forward = lambda p: generate(p, nets, a, b, jax.random.fold_in(key, 0))
        outputs, pullback, g_colls = jax.vjp(forward, params, has_aux=True)
        metrics, pools = {}, {}
        for i, dom in enumerate(("b", "a")):  # D_b (pool "b" of G_ab's fakes), then D_a
            fake = jax.lax.stop_gradient(outputs[f"fake_{dom}"])
            pools[dom], fake = query_pool(state.pools[dom], fake, jax.random.fold_in(key, i + 1))
            nets[f"d_{dom}"], m = d_phase(nets[f"d_{dom}"], f"d_{dom}", batch[dom], fake)
            metrics.update(m)
        (total, (d_colls, m)), doutputs = jax.value_and_grad(g_loss, has_aux=True)(outputs, nets, a, b)
        (grads,) = pullback(doutputs)
        metrics.update(m)
        metrics.update({"Loss/G": total, "Grad/G_norm": optax.tree.norm(grads), "Pool/count": pools["b"].count})
        for g in ("g_ab", "g_ba"):
            nets[g] = update(models.g_tx, nets[g].replace(collections=g_colls[g]), grads[g])
        for d in ("d_a", "d_b"):
            nets[d] = nets[d].replace(collections=d_colls[d])
        return state.replace(step=state.step + 1, nets=nets, pools=pools), metrics

    return train_step
