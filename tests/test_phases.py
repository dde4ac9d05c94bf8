"""The phase table: lazy Dreg worked by hand, fresh or shared z for G, a loss defined here, custom phases."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from parallel_worker import IMAGE_SHAPE, init_state, tiny_gan

from jaxgan.engine.phases import StepSpec, d_main
from jaxgan.engine.sharding import batch_sharding, data_mesh, jit_data_parallel, replicated
from jaxgan.engine.state import GAN, create_state
from jaxgan.engine.train_step import (
    KeyStreams,
    Phase,
    gan_phases,
    make_phase_step,
    make_train_step,
    sample_latents,
)
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.terms.losses import GANLoss, get_loss, relativistic
from jaxgan.terms.regularizers import GradientPenalty, r1_penalty, r2_penalty

SHAPE = (3,)
W0, C0 = np.array([0.5, -1.0, 2.0], np.float32), np.array([0.3, 0.1, -0.2], np.float32)


class ConstantG(nn.Module):
    """G(z) = c for every z: its fakes are known without the keys."""

    @nn.compact
    def __call__(self, z, labels=None, train=True):
        c = self.param("c", lambda key: jnp.asarray(C0))
        return jnp.broadcast_to(c, (z.shape[0], *SHAPE))


class LinearD(nn.Module):
    """D(x) = w . x + b: grad_x D = w for every x, so R1 = gamma / 2 * |w|^2."""

    @nn.compact
    def __call__(self, x, labels=None, train=True):
        w = self.param("w", lambda key: jnp.asarray(W0))
        b = self.param("b", nn.initializers.zeros, ())
        return x @ w + b


def linear_gan(lr):
    return GAN(ConstantG(), LinearD(), optax.sgd(lr), optax.sgd(lr), z_dim=2)


def test_lazy_dreg_is_its_own_update_every_k_steps_scaled_by_k_worked_by_hand():
    lr, gamma, k = 0.1, 0.5, 2
    gan = linear_gan(lr)
    step = jax.jit(make_train_step(gan, get_loss("wasserstein"), d_reg=(r1_penalty(gamma),), d_reg_interval=k))
    state = create_state(gan, SHAPE, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 3)).astype(np.float32)
    w, c = W0.astype(np.float64), C0.astype(np.float64)
    for t in range(2):
        state, metrics = step(state, {"x": jnp.asarray(x[t])})
        r1 = float(w @ w)
        if t % k == 0:  # Dreg: its own SGD step on k * gamma / 2 * |w|^2, whose gradient is k * gamma * w
            w = w - lr * k * gamma * w
        w = w - lr * (c - x[t, 0].mean(axis=0))  # Dmain: d/dw of w . (c - mean x) (b's gradient is 0)
        c = c + lr * w  # Gmain through the new D: d/dc of -(w . c + b) is -w
        np.testing.assert_allclose(np.asarray(state.nets["D"].params["w"]), w, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(state.nets["G"].params["c"]), c, rtol=1e-5)
        np.testing.assert_allclose(float(metrics["Loss/D/r1"]), r1 if t % k == 0 else 0.0, rtol=1e-5)


def test_with_n_disc_two_lazy_dreg_stands_for_k_times_n_disc_d_updates_worked_by_hand():
    """Dreg runs every k train steps = every k * n_disc Dmain updates, so it is scaled by k * n_disc: gamma per D
    update is the same as with n_disc = 1 (a scale of k alone would halve it)."""
    lr, gamma, k, n_disc = 0.05, 0.5, 2, 2
    gan = linear_gan(lr)
    step = jax.jit(make_train_step(gan, get_loss("wasserstein"), n_disc=n_disc, d_reg=(r1_penalty(gamma),),
                                   d_reg_interval=k))
    state = create_state(gan, SHAPE, seed=0)
    x = np.random.default_rng(2).standard_normal((3, n_disc, 4, 3)).astype(np.float32)
    w, c = W0.astype(np.float64), C0.astype(np.float64)
    for t in range(3):
        state, _ = step(state, {"x": jnp.asarray(x[t])})
        if t % k == 0:  # Dreg: SGD on k * n_disc * gamma / 2 * |w|^2
            w = w - lr * k * n_disc * gamma * w
        for i in range(n_disc):  # the n_disc Dmain updates, each on its own real batch
            w = w - lr * (c - x[t, i].mean(axis=0))
        c = c + lr * w  # Gmain through the last D
        np.testing.assert_allclose(np.asarray(state.nets["D"].params["w"]), w, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(state.nets["G"].params["c"]), c, rtol=1e-5)


def test_with_interval_one_the_penalty_joins_every_d_update_worked_by_hand():
    lr, gamma = 0.1, 0.5
    gan = linear_gan(lr)
    step = jax.jit(make_train_step(gan, get_loss("wasserstein"), d_reg=(r1_penalty(gamma),), d_reg_interval=1))
    state = create_state(gan, SHAPE, seed=0)
    x = np.random.default_rng(1).standard_normal((1, 4, 3)).astype(np.float32)
    state, _ = step(state, {"x": jnp.asarray(x)})
    w = W0 - lr * ((C0 - x[0].mean(axis=0)) + gamma * W0)  # one update on the loss plus R1
    np.testing.assert_allclose(np.asarray(state.nets["D"].params["w"]), w, rtol=1e-5)


def small_mlp_gan(lr=0.1):
    return GAN(MLPGenerator((6,), hidden=(16,), activation="linear"), MLPDiscriminator(hidden=(16,)),
               optax.sgd(lr), optax.sgd(lr), z_dim=4)


@pytest.mark.parametrize("fresh", [True, False])
def test_with_n_disc_two_g_draws_fresh_z_by_default_or_reuses_the_last_d_updates(fresh):
    lr, loss = 0.1, get_loss("non_saturating")
    gan = small_mlp_gan(lr)
    state = create_state(gan, (6,), seed=0)
    x = jax.random.normal(jax.random.PRNGKey(5), (2, 8, 6))
    new_state, _ = make_train_step(gan, loss, n_disc=2, g_fresh_z=fresh)(state, {"x": x})
    keys = KeyStreams.of_step(state.rng, state.step)
    G = lambda p, z: gan.generator.apply({"params": p}, z)
    D = lambda p, v: gan.discriminator.apply({"params": p}, v)
    d, zs = state.nets["D"].params, []
    for i, name in enumerate(["Dmain/0", "Dmain/1" if fresh else "Dmain/1+Gmain"]):
        zs.append(sample_latents(keys.phase(name).z(), 8, 4))
        grad = jax.grad(lambda p, i=i: jnp.mean(loss.d_loss(D(p, x[i]), D(p, G(state.nets["G"].params, zs[-1])))))(d)
        d = jax.tree.map(lambda p, g: p - lr * g, d, grad)
    z_g = sample_latents(keys.phase("Gmain").z(), 8, 4) if fresh else zs[-1]
    assert not np.allclose(z_g, zs[0]) and fresh == (not np.allclose(z_g, zs[1]))
    g_grad = jax.grad(lambda p: jnp.mean(loss.g_loss(D(d, x[1]), D(d, G(p, z_g)))))(state.nets["G"].params)
    expected = jax.tree.map(lambda p, g: p - lr * g, state.nets["G"].params, g_grad)
    for got, want in zip(jax.tree.leaves(new_state.nets["G"].params), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_a_loss_defined_here_trains_g_toward_the_data():
    """RaLSGAN (Jolicoeur-Martineau 2019, eq. 17), written only in this test: G's mean moves to the data's."""

    def ra_least_squares(real, fake):  # one value per example, as the losses of jaxgan.terms.losses
        return jnp.square(real - jnp.mean(fake) - 1.0) + jnp.square(fake - jnp.mean(real) + 1.0)

    loss = relativistic(ra_least_squares)
    assert isinstance(loss, GANLoss)
    gan = GAN(MLPGenerator((1,), hidden=(16,), activation="linear"), MLPDiscriminator(hidden=(16,)),
              optax.adam(1e-2, b1=0.5), optax.adam(1e-2, b1=0.5), z_dim=2)
    state = create_state(gan, (1,), seed=0)
    step = jax.jit(make_train_step(gan, loss))
    data = 3.0 + 0.5 * jax.random.normal(jax.random.PRNGKey(1), (150, 1, 64, 1))
    z = sample_latents(jax.random.PRNGKey(2), 512, 2)
    start = float(jnp.mean(gan.generate(state.nets["G"].variables(), z)))
    for t in range(150):
        state, _ = step(state, {"x": data[t]})
    end = float(jnp.mean(gan.generate(state.nets["G"].variables(), z)))
    assert abs(end - 3.0) < 0.5 < abs(start - 3.0), (start, end)


def test_the_table_names_its_phases_and_runs_a_custom_lazy_phase_every_k_steps():
    gan = small_mlp_gan()
    spec = StepSpec(gan, get_loss("hinge"), n_disc=2, d_reg=(r1_penalty(1.0),), d_reg_interval=4)
    table = gan_phases(spec)
    assert [p.name for p in table] == ["Dreg", "Dmain/0", "Dmain/1", "Gmain", "G_ema"]
    assert [p.interval for p in table] == [4, 1, 1, 1, 1]
    assert [p.name for p in gan_phases(StepSpec(gan, get_loss("hinge")))] == ["Dmain/0+Gmain", "G_ema"]

    def count(state, batch, keys):  # a researcher's own phase: counts its runs in D's last bias
        d = jax.tree.map(lambda p: p, state.nets["D"].params)
        d["Dense_1"]["bias"] = d["Dense_1"]["bias"] + 1.0
        return state.with_nets(D=state.nets["D"].replace(params=d)), {"counted": jnp.ones(())}

    step = jax.jit(make_phase_step((Phase("count", count, interval=3),), n_disc=1))
    state = create_state(gan, (6,), seed=0)
    bias0, counted = float(state.nets["D"].params["Dense_1"]["bias"][0]), []
    for _ in range(7):
        state, metrics = step(state, {"x": jnp.zeros((1, 8, 6))})
        counted.append(float(metrics["counted"]))
    assert counted == [1, 0, 0, 1, 0, 0, 1]  # steps 0, 3 and 6
    assert float(state.nets["D"].params["Dense_1"]["bias"][0]) == pytest.approx(bias0 + 3)
    with pytest.raises(ValueError, match="unique"):
        make_phase_step((Phase("a", count), Phase("a", count)), n_disc=1)


def test_a_phase_runs_alone_dmain_moves_only_d():
    gan = small_mlp_gan()
    state = create_state(gan, (6,), seed=0)
    spec = StepSpec(gan, get_loss("hinge"))
    batch = {"x": jax.random.normal(jax.random.PRNGKey(0), (1, 8, 6))}
    new, metrics = jax.jit(lambda s, b: d_main(spec, 0, s, b, KeyStreams.of_step(s.rng, s.step)))(state, batch)
    assert int(new.step) == 0 and {"Loss/D", "D/real", "D/fake", "Grad/D_norm"} <= set(metrics)
    assert not np.allclose(new.nets["D"].params["Dense_0"]["kernel"], state.nets["D"].params["Dense_0"]["kernel"])
    kernel = lambda s: s.nets["G"].params["Dense_0"]["kernel"]
    np.testing.assert_array_equal(kernel(new), kernel(state))


def test_lazy_dreg_fresh_z_and_a_relativistic_loss_give_the_same_steps_on_one_device_and_eight():
    gan = tiny_gan("mlp")
    step = make_train_step(gan, get_loss("relativistic_pairing"), n_disc=2, d_penalties=(GradientPenalty(1.0),),
                           d_reg=(r1_penalty(1.0), r2_penalty(1.0)), d_reg_interval=2)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 2, 16, *IMAGE_SHAPE)).astype(np.float32)

    def run(fn, state, put):
        history = []
        for t in range(3):  # steps 0 and 2 run Dreg, step 1 skips it
            state, metrics = fn(state, put({"x": x[t]}))
            history.append(metrics)
        return jax.device_get((state, history))

    one = run(jax.jit(step), init_state(gan, ema=True), jax.device_put)
    mesh = data_mesh()
    eight = run(jit_data_parallel(step, mesh), jax.device_put(init_state(gan, ema=True), replicated(mesh)),
                lambda b: jax.device_put(b, batch_sharding(mesh)))
    assert [float(m["Loss/D/r1"]) > 0 for m in one[1]] == [True, False, True]
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(eight), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_each_phase_names_its_ops_for_profiles():
    """The compiled step's ops carry their phase's name (jax.named_scope), so a trace shows D's and G's time."""
    gan = small_mlp_gan()
    state = create_state(gan, (6,), seed=0)
    batch = {"x": jnp.zeros((2, 8, 6))}
    text = jax.jit(make_train_step(gan, get_loss("hinge"), n_disc=2)).lower(state, batch).as_text(debug_info=True)
    for name in ("Dmain/0", "Dmain/1", "Gmain"):
        assert f"/{name}/" in text, name  # e.g. jit(train_step)/Dmain/0/dot_general


def counting_table():
    """Main phase 'main' every step, lazy 'every2' and 'every3': each adds its own power of ten to D's last bias."""
    def add(amount, name):
        def run(state, batch, keys):
            d = jax.tree.map(lambda p: p, state.nets["D"].params)
            d["Dense_1"]["bias"] = d["Dense_1"]["bias"] + amount
            return state.with_nets(D=state.nets["D"].replace(params=d)), {name: jnp.ones(())}
        return run

    return (Phase("main", add(1.0, "main")), Phase("every2", add(10.0, "every2"), 2),
            Phase("every3", add(100.0, "every3"), 3))


def test_the_loop_runs_one_program_per_combination_of_due_lazy_phases():
    """`PhasedStep.program(due_at(step))` runs only the due phases, equals the lax.cond form step by step, and its
    main-only program holds no conditional and none of the lazy phases' work."""
    gan = small_mlp_gan()
    step = make_phase_step(counting_table(), n_disc=1)
    assert step.step_kinds() == (frozenset(), {"every2"}, {"every3"}, {"every2", "every3"})
    assert [sorted(step.due_at(s)) for s in range(7)] == [["every2", "every3"], [], ["every2"], ["every3"],
                                                         ["every2"], [], ["every2", "every3"]]
    programs = {due: jax.jit(step.program(due)) for due in step.step_kinds()}
    batch = {"x": jnp.zeros((1, 8, 6))}
    by_kind = cond_form = create_state(gan, (6,), seed=0)
    bias0, cond_step = float(by_kind.nets["D"].params["Dense_1"]["bias"][0]), jax.jit(step)
    for s in range(7):
        by_kind, metrics = programs[step.due_at(s)](by_kind, batch)
        cond_form, cond_metrics = cond_step(cond_form, batch)
        assert jax.tree.map(float, metrics) == jax.tree.map(float, cond_metrics)  # zeros for a skipped phase
        chex.assert_trees_all_equal(by_kind, cond_form)
    # 7 x main, every2 on steps 0, 2, 4, 6 and every3 on 0, 3, 6
    assert float(by_kind.nets["D"].params["Dense_1"]["bias"][0]) == pytest.approx(bias0 + 7 + 40 + 300)
    main_hlo = programs[frozenset()].lower(by_kind, batch).compile().as_text()
    cond_hlo = cond_step.lower(by_kind, batch).compile().as_text()
    assert "conditional(" in cond_hlo and "conditional(" not in main_hlo


def test_a_k_step_dispatch_runs_each_run_of_one_step_kind_as_its_program():
    """A 4-step dispatch from step 1 (kinds: -, every2, every3, every2) equals 4 single steps; the kinds split it."""
    from jaxgan.engine.multistep import make_multi_step, step_runs

    gan = small_mlp_gan()
    step = make_phase_step(counting_table(), n_disc=1)
    kinds = tuple(step.due_at(s) for s in range(1, 5))
    assert step_runs((frozenset(), frozenset(), {"a"}, frozenset())) == [(frozenset(), 0, 2), ({"a"}, 2, 1),
                                                                           (frozenset(), 3, 1)]
    state = create_state(gan, (6,), seed=0).replace(step=jnp.int32(1))
    batches = {"x": jnp.zeros((4, 1, 8, 6))}
    for unroll in (False, True):
        multi, metrics = jax.jit(make_multi_step(step, 4, unroll, kinds))(state, batches)
        single = state
        for s in range(4):
            single, _ = jax.jit(step.program(kinds[s]))(single, {"x": batches["x"][s]})
        chex.assert_trees_all_equal(multi, single)
        assert np.asarray(metrics["every2"]).tolist() == [0, 1, 0, 1] and int(multi.step) == 5
