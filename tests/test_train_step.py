"""The one-program train step: its G gradient, its effect on the state, and that it compiles once."""

import chex
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.config import base_config
from jaxgan.engine.state import GAN, create_state
from jaxgan.engine.train_step import (
    KeyStreams,
    jit_train_step,
    make_train_step,
    sample_latents,
    without_grad_norms,
)
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.objectives.factory import build_gan, build_train_step
from jaxgan.terms.losses import get_loss

SHAPE = (6,)


def small_gan(lr=0.1):
    g = MLPGenerator(SHAPE, hidden=(16,), activation="linear")
    d = MLPDiscriminator(hidden=(16,))
    return GAN(g, d, optax.sgd(lr), optax.sgd(lr), z_dim=4)


def real_batch(n_disc=1, batch=8, seed=0, shape=SHAPE):
    x = jax.random.normal(jax.random.PRNGKey(seed), (n_disc, batch, *shape))
    return {"x": x}


def test_g_gradient_is_taken_through_the_updated_d_and_matches_exact_autodiff():
    lr = 0.1
    gan = small_gan(lr)
    loss = get_loss("non_saturating")
    state = create_state(gan, SHAPE, seed=0)
    batch = real_batch()
    new_state, _ = make_train_step(gan, loss)(state, batch)

    # Reference: D takes its SGD step first, then G's loss is measured through the new D (one z for both).
    keys = KeyStreams.of_step(state.rng, state.step).phase("Dmain/0+Gmain")
    z = sample_latents(keys.z(), 8, gan.z_dim)
    G = lambda p: gan.generator.apply({"params": p}, z)
    D = lambda p, x: gan.discriminator.apply({"params": p}, x)
    real = batch["x"][0]
    g_params, d_params = state.nets["G"].params, state.nets["D"].params
    d_grad = jax.grad(lambda p: jnp.mean(loss.d_loss(D(p, real), D(p, G(g_params)))))(d_params)
    d_new = jax.tree.map(lambda p, g: p - lr * g, state.nets["D"].params, d_grad)
    chex.assert_trees_all_close(new_state.nets["D"].params, d_new, rtol=1e-5, atol=1e-6)
    g_grad = jax.grad(lambda p: jnp.mean(loss.g_loss(D(d_new, real), D(d_new, G(p)))))(state.nets["G"].params)
    g_new = jax.tree.map(lambda p, g: p - lr * g, state.nets["G"].params, g_grad)
    chex.assert_trees_all_close(new_state.nets["G"].params, g_new, rtol=1e-5, atol=1e-6)
    # ... and not through the old D: that reference (a simultaneous update) differs.
    g_old = jax.grad(lambda p: jnp.mean(loss.g_loss(D(d_params, real), D(d_params, G(p)))))(g_params)
    assert not np.allclose(jax.flatten_util.ravel_pytree(g_old)[0], jax.flatten_util.ravel_pytree(g_grad)[0],
                           rtol=1e-3)


def test_one_step_changes_both_networks_and_keeps_structure_and_dtypes():
    config = base_config()
    config.model.name = "dcgan"
    config.model.dcgan.ngf = config.model.dcgan.ndf = 8
    config.ema.decay = 0.999
    gan = build_gan(config, (32, 32, 1))
    state = create_state(gan, (32, 32, 1), seed=0, ema=True)
    before = jax.tree.map(np.asarray, state)
    step = jit_train_step(build_train_step(config, gan))
    state, metrics = step(state, real_batch(shape=(32, 32, 1)))
    chex.assert_trees_all_equal_shapes_and_dtypes(before, state)
    assert jax.tree.structure(before) == jax.tree.structure(state)
    for net in ("G", "D"):
        for old, new in zip(jax.tree.leaves(before.nets[net].params),
                            jax.tree.leaves(state.nets[net].params), strict=True):
            assert not np.allclose(old, new), f"{net} params did not change"
    # BatchNorm running statistics moved too, and the EMA started tracking G: at step 0 the warm-up decay is
    # min(0.999, 1/10) = 0.1, so EMA = 0.1 * G's initial params + 0.9 * G's new params.
    first_stat = lambda s: jax.tree.leaves(s.nets["G"].collections)[0]
    assert not np.allclose(first_stat(before), first_stat(state))
    expected_ema = jax.tree.map(lambda e, p: 0.1 * e + 0.9 * p, before.ema["G"], state.nets["G"].params)
    chex.assert_trees_all_close(state.ema["G"], expected_ema, rtol=1e-5, atol=1e-7)
    assert int(state.step) == 1
    for key in ("Loss/D", "Loss/G", "D/real", "D/fake", "D/real_prob", "Grad/D_norm", "Grad/G_norm"):
        assert np.isfinite(float(metrics[key])), key


def test_step_compiles_once_across_calls():
    gan = small_gan()
    traces = []
    inner = make_train_step(gan, get_loss("hinge"), n_disc=2)

    def counted(state, batch):
        traces.append(1)
        return inner(state, batch)

    step = jit_train_step(counted)
    state = create_state(gan, SHAPE, seed=0)
    for i in range(4):
        state, _ = step(state, real_batch(n_disc=2, seed=i))
    assert len(traces) == 1
    assert int(state.step) == 4


def test_n_disc_updates_d_n_times_per_step():
    gan = small_gan()
    state = create_state(gan, SHAPE, seed=0)
    state, _ = jax.jit(make_train_step(gan, get_loss("wasserstein"), n_disc=3))(state, real_batch(3))
    # optax's sgd keeps no count, so read the number of D updates off a counting optimizer instead.
    counting = GAN(gan.generator, gan.discriminator, optax.sgd(0.1),
                   optax.chain(optax.scale_by_adam(), optax.sgd(0.1)), z_dim=4)
    state = create_state(counting, SHAPE, seed=0)
    state, _ = jax.jit(make_train_step(counting, get_loss("wasserstein"), n_disc=3))(state, real_batch(3))
    assert int(state.nets["D"].opt_state[0].count) == 3


def test_latents_do_not_depend_on_batch_split():
    key = jax.random.PRNGKey(3)
    full = sample_latents(key, 8, 5)
    assert full.shape == (8, 5)
    np.testing.assert_allclose(full[:4], sample_latents(key, 4, 5))
    assert float(jnp.abs(jnp.mean(sample_latents(key, 4096, 5)))) < 0.05


def test_ema_follows_the_warm_up_schedule_computed_by_hand():
    gan = small_gan()
    for decay, warmup in ((0.9, True), (0.5, False)):
        state = create_state(gan, SHAPE, seed=0, ema=True)
        step = jax.jit(make_train_step(gan, get_loss("hinge"), ema_decay=decay, ema_warmup=warmup))
        ema = np.asarray(state.ema["G"]["Dense_0"]["kernel"])
        for t in range(4):
            state, _ = step(state, real_batch(seed=t))
            beta = min(decay, (1 + t) / (10 + t)) if warmup else decay  # 0.1, 0.18, 0.25, 0.31 with warm-up
            ema = beta * ema + (1 - beta) * np.asarray(state.nets["G"].params["Dense_0"]["kernel"])
            np.testing.assert_allclose(np.asarray(state.ema["G"]["Dense_0"]["kernel"]), ema, rtol=1e-5,
                                       atol=1e-7)


def test_without_grad_norms_drops_only_the_norms_and_the_update_is_the_same():
    gan = small_gan()
    step = make_train_step(gan, get_loss("non_saturating"), n_disc=2)
    state, batch = create_state(gan, SHAPE, seed=0), real_batch(n_disc=2)
    want_state, want = jax.jit(step)(state, batch)
    plain_function = lambda s, b: step(s, b)  # the wrapper also takes a step that is not a PhasedStep
    for slim in (without_grad_norms(step), without_grad_norms(plain_function)):
        got_state, got = jax.jit(slim)(state, batch)
        assert float(want["Grad/D_norm"]) > 0 and float(want["Grad/G_norm"]) > 0
        assert set(got) == {k for k in want if not k.startswith("Grad/")}
        chex.assert_trees_all_equal(got_state, want_state)
        chex.assert_trees_all_equal(got, {k: want[k] for k in got})


def test_grad_norms_off_leaves_them_out_of_the_compiled_program():
    gan = small_gan()
    step = make_train_step(gan, get_loss("non_saturating"))
    state, batch = create_state(gan, SHAPE, seed=0), real_batch()
    count = lambda fn: jax.jit(fn).lower(state, batch).compile().as_text().count(" sqrt(")
    assert count(without_grad_norms(step)) < count(step)  # SGD takes no sqrt: the norms are the only ones
