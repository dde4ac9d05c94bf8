"""The translation train steps: pix2pix's D-then-G update against a direct computation, and merged CycleGAN calls."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.engine.state import NetState
from jaxgan.translation.cyclegan import run_merged
from jaxgan.translation.losses import get_translation_loss, l1
from jaxgan.translation.networks import PatchDiscriminator, ResNetGenerator, UNetGenerator
from jaxgan.translation.pix2pix import make_pix2pix_step
from jaxgan.translation.state import TranslationModels, create_state


def test_pix2pix_step_updates_d_then_g_through_the_new_d():
    lr, lambda_l1 = 0.05, 100.0
    G = UNetGenerator(out_channels=3, num_downs=2, ngf=2, norm="none", dropout=0.0)
    D = PatchDiscriminator(ndf=2, n_layers=1, norm="none")
    models = TranslationModels("pix2pix", {"g_ab": G}, {"d_b": D}, optax.sgd(lr), optax.sgd(lr))
    state = create_state(models, (8, 8, 3), seed=0)
    rng = np.random.default_rng(0)
    batch = {k: jnp.asarray(rng.uniform(-1, 1, (2, 8, 8, 3)), jnp.float32) for k in ("a", "b")}
    new, metrics = jax.jit(make_pix2pix_step(models, get_translation_loss("non_saturating"), lambda_l1=lambda_l1))(
        state, batch)

    # Reference: D descends 0.5 [BCE(D(a, b), 1) + BCE(D(a, G(a)), 0)]; then G descends
    # BCE(D_new(a, G(a)), 1) + lambda |G(a) - b|, measured through the D that was just updated.
    a, b = batch["a"], batch["b"]
    g0, d0 = state.nets["g_ab"].params, state.nets["d_b"].params
    gen = lambda p: G.apply({"params": p}, a)
    disc = lambda p, y: D.apply({"params": p}, jnp.concatenate([a, y], -1))
    d_loss = lambda p: 0.5 * (jnp.mean(jax.nn.softplus(-disc(p, b))) + jnp.mean(jax.nn.softplus(disc(p, gen(g0)))))
    g_loss = lambda p, d: jnp.mean(jax.nn.softplus(-disc(d, gen(p)))) + lambda_l1 * l1(gen(p), b)

    @jax.jit
    def reference():
        d1 = jax.tree.map(lambda p, g: p - lr * g, d0, jax.grad(d_loss)(d0))
        g1 = jax.tree.map(lambda p, g: p - lr * g, g0, jax.grad(g_loss)(g0, d1))
        return d1, g1, d_loss(d0), g_loss(g0, d1)

    d1, g1, d_value, g_value = reference()
    chex.assert_trees_all_close(new.nets["d_b"].params, d1, rtol=1e-4, atol=1e-6)
    chex.assert_trees_all_close(new.nets["g_ab"].params, g1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(metrics["Loss/G"], g_value, rtol=1e-5)
    np.testing.assert_allclose(metrics["Loss/D"], d_value, rtol=1e-5)
    assert int(new.step) == 1


def test_merged_calls_equal_separate_calls_for_instance_norm():
    G = ResNetGenerator(out_channels=3, ngf=2, n_blocks=1, norm="instance")
    x = [jnp.asarray(np.random.default_rng(i).uniform(-1, 1, (2, 8, 8, 3)), jnp.float32) for i in range(2)]
    abstract = jax.eval_shape(lambda: G.init(jax.random.PRNGKey(0), x[0], train=False))["params"]
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda a: rng.normal(0, 0.2, a.shape).astype(np.float32), abstract)
    net = NetState(params=params, collections={}, opt_state=())
    merged, separate = jax.jit(lambda: (run_merged(G, net, x, None, merge=True)[0],
                                        run_merged(G, net, x, None, merge=False)[0]))()
    for m, s in zip(merged, separate, strict=True):
        np.testing.assert_allclose(m, s, rtol=1e-5, atol=1e-6)
