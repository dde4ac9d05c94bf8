"""StyleGAN2's lazy regularisation (Karras et al. 2020, Sec. 3.1 and Appendix B; stylegan2-ada-pytorch
`training_loop.py` and `loss.py`): Greg runs on steps with step % 4 == 0 on 4 x the path-length penalty, Dreg on
steps with step % 16 == 0 on 16 x R1, and each net's Adam takes lr * c and betas ** c, c = k / (k + 1).

The phases are checked with plain SGD (lr 1) swapped in for Adam, so a phase's update is minus its gradient and the
x-interval factor shows (Adam's first step would normalise it away). The expected gradients are computed here from
an explicit per-example Jacobian (path length) and an explicit input gradient (R1), not with the phases' code.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import load_experiment_config

from jaxgan.engine.phases import KeyStreams, sample_latents
from jaxgan.engine.state import create_state
from jaxgan.engine.train_step import make_phase_step
from jaxgan.objectives import validate
from jaxgan.objectives.factory import build_gan
from jaxgan.objectives.stylegan2 import stylegan2_spec
from jaxgan.objectives.stylegan2_phases import initial_aux, mapped_ws, stylegan2_phases, synthesize

B, RES, PL_MEAN = 4, 8, 0.3


def tiny_config():
    """The digits config at 8x8, 4..16 maps, 8-d latents, batch 4, ADA off; Adam (0.5, 0.99) so c shows on b1."""
    c = load_experiment_config("stylegan2_digits").get_config()
    c.data.image_size = RES
    c.model.z_dim = c.model.stylegan2.w_dim = 8
    c.model.stylegan2.channel_base, c.model.stylegan2.channel_max = 64, 16
    c.train.batch_size = B
    c.reg.r1_gamma = 1.0
    c.ada.preset = ""
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.b1, opt.b2, opt.eps = 0.01, 0.5, 0.99, 1e-8
    validate(c)
    return c


@pytest.fixture(scope="module")
def setup():
    """(spec with SGD(1) for both nets, the phase table, a state, a batch of reals)."""
    config = tiny_config()
    gan = dataclasses.replace(build_gan(config, (RES, RES, 1)), g_tx=optax.sgd(1.0), d_tx=optax.sgd(1.0))
    spec = stylegan2_spec(config, gan)
    state = create_state(gan, (RES, RES, 1), 0, ema=True, aux={**initial_aux(), "pl_mean": jnp.float32(PL_MEAN)})
    real = jax.random.uniform(jax.random.PRNGKey(1), (1, B, RES, RES, 1), minval=-1, maxval=1)
    return spec, {p.name: p for p in stylegan2_phases(spec)}, state, {"x": real}


def path_length_penalty(spec, state, params, step):
    """pl_weight * E[(|J_i^T y_i| - a)^2] from each example's own Jacobian block, with Greg's keys of `step`."""
    keys = KeyStreams.of_step(state.rng, step).phase("Greg")
    n = B // spec.pl_batch_shrink
    z = sample_latents(keys.z(), n, spec.gan.z_dim)
    ws, _ = mapped_ws(spec, state.nets["G"], params, z, None, keys)
    jac = jax.jacrev(lambda w: synthesize(spec, state.nets["G"], params, w, keys))(ws)  # [n, H, W, C, n, num_ws, w_dim]
    y = jax.random.normal(keys.penalty(0), (n, RES, RES, 1)) / RES  # N(0, I) / sqrt(H * W)
    jty = jnp.einsum("ihwc,ihwcikl->ikl", y, jac)  # example i's own block only
    lengths = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(jty), axis=2), axis=1))
    mean = PL_MEAN + spec.pl_decay * (jnp.mean(lengths) - PL_MEAN)
    return spec.pl_weight * jnp.mean(jnp.square(lengths - mean))


def r1_penalty(spec, state, params, real):
    """gamma / 2 * E||d D(x) / d x||^2 on the reals (ADA off)."""
    d = lambda x: spec.gan.discriminator.apply({"params": params, **state.nets["D"].collections}, x)
    grads = jax.grad(lambda x: jnp.sum(d(x)))(real)
    return 0.5 * spec.r1_gamma * jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))


def flat(tree):
    """All leaves of a pytree as one float64 vector."""
    return np.concatenate([np.asarray(leaf, np.float64).ravel() for leaf in jax.tree.leaves(tree)])


@functools.cache
def phase_step(phase, due=None):
    """The jitted program of a step that runs only `phase`, due (default) or not, as the trainer picks it by step
    number (`PhasedStep.program`); compiled once per kind for the tests of this file."""
    return jax.jit(make_phase_step([phase], 1).program(frozenset({phase.name}) if due is None else due))


def phase_updates(phase, state, batch, steps, net):
    """{step: the change of `net`'s params ("G" or "D")} when a step that runs only `phase` runs at `step`."""
    step_fn = make_phase_step([phase], 1)
    before = flat(state.nets[net].params)
    return {step: flat(phase_step(phase, step_fn.due_at(step))(state.replace(step=jnp.int32(step)), batch)[0]
                       .nets[net].params) - before
            for step in steps}


def assert_scaled_gradient(update, grad, interval):
    """update == -interval * grad (SGD, lr 1), and clearly not -grad (the multiplier is there)."""
    expected = -interval * grad
    error = np.linalg.norm(update - expected) / np.linalg.norm(expected)
    assert error < 1e-3, f"update differs from -{interval} x grad by {error:.2e} (relative)"


def test_greg_steps_on_4_times_the_path_length_penalty_every_4th_step(setup):
    spec, phases, state, batch = setup
    assert spec.pl_interval == 4 and phases["Greg"].interval == 4
    reference = jax.jit(lambda params, step: jax.grad(path_length_penalty, argnums=2)(spec, state, params, step))
    for step, update in phase_updates(phases["Greg"], state, batch, range(6), "G").items():
        if step % 4:
            assert not update.any(), f"Greg changed G on step {step}"
        else:
            assert_scaled_gradient(update, flat(reference(state.nets["G"].params, step)), 4)


def test_dreg_steps_on_16_times_r1_every_16th_step(setup):
    spec, phases, state, batch = setup
    assert spec.r1_interval == 16 and phases["Dreg"].interval == 16
    grad = flat(jax.grad(r1_penalty, argnums=2)(spec, state, state.nets["D"].params, batch["x"][0]))
    for step, update in phase_updates(phases["Dreg"], state, batch, (0, 1, 8, 15, 16, 17), "D").items():
        if step % 16:
            assert not update.any(), f"Dreg changed D on step {step}"
        else:
            assert_scaled_gradient(update, grad, 16)


def test_dreg_counts_the_signs_of_the_real_logits_its_r1_differentiated(setup):
    """R1's own forward pass feeds ADA: Dreg adds sum(sign(D(x))) and B to the accumulator; r1 is E||grad||^2."""
    spec, phases, state, batch = setup
    batch = {"x": jnp.repeat(batch["x"][:, :1], B, axis=1)}  # one image 4 times: 4 equal signs, a sum of +-4
    new, metrics = phase_step(phases["Dreg"])(state, batch)
    logits = np.asarray(spec.gan.discriminator.apply(state.nets["D"].variables(), batch["x"][0]))
    assert float(new.aux["ada_sign_sum"]) == np.sum(np.sign(logits)) != 0 and float(new.aux["ada_count"]) == B
    r1 = r1_penalty(spec, state, state.nets["D"].params, batch["x"][0]) / (0.5 * spec.r1_gamma)
    np.testing.assert_allclose(float(metrics["Loss/r1_penalty"]), float(r1), rtol=1e-5)


def test_dmain_and_gmain_step_on_the_softplus_losses_written_out(setup):
    """Dmain on softplus(-D(x)) + softplus(D(G(z))) (its SGD(1) step is -grad), Gmain on softplus(-D(G(z)))."""
    spec, phases, state, batch = setup
    D = lambda params, x: spec.gan.discriminator.apply({"params": params, **state.nets["D"].collections}, x)
    keys = KeyStreams.of_step(state.rng, state.step)

    def fakes(params, name):
        k = keys.phase(name)
        ws, _ = mapped_ws(spec, state.nets["G"], params, sample_latents(k.z(), B, spec.gan.z_dim), None, k)
        return synthesize(spec, state.nets["G"], params, ws, k)

    fake = fakes(state.nets["G"].params, "Dmain")
    d_loss = lambda p: jnp.mean(jax.nn.softplus(-D(p, batch["x"][0]))) + jnp.mean(jax.nn.softplus(D(p, fake)))
    g_loss = lambda p: jnp.mean(jax.nn.softplus(-D(state.nets["D"].params, fakes(p, "Gmain"))))
    new, metrics = phase_step(phases["Dmain"])(state, batch)
    value, grad = jax.jit(jax.value_and_grad(d_loss))(state.nets["D"].params)
    np.testing.assert_allclose(float(metrics["Loss/D"]), float(value), rtol=1e-5)
    assert_scaled_gradient(flat(new.nets["D"].params) - flat(state.nets["D"].params), flat(grad), 1)
    _, metrics = phase_step(phases["Gmain"])(state, batch)  # the gradient through G: the value says which loss
    np.testing.assert_allclose(float(metrics["Loss/G"]), float(jax.jit(g_loss)(state.nets["G"].params)), rtol=1e-5)


def adam_steps(lr, b1, b2, eps, grads):
    """Adam's updates for a sequence of gradients, written out (Kingma & Ba 2015, Algorithm 1)."""
    m = v = np.zeros_like(grads[0])
    updates = []
    for t, g in enumerate(grads, start=1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        updates.append(-lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps))
    return updates


@pytest.mark.parametrize("net, k", [("G", 4), ("D", 16)])
def test_adam_of_each_net_takes_lr_times_c_and_betas_to_the_c(net, k):
    """G's optimizer (Gmain and Greg share it) and D's (Dmain and Dreg) run Adam(lr c, b1^c, b2^c), c = k/(k+1)."""
    gan = build_gan(tiny_config(), (RES, RES, 1))
    tx = gan.g_tx if net == "G" else gan.d_tx
    grads = [np.array([0.5, -2.0, 1e-3]), np.array([-1.0, 0.25, 3.0]), np.array([0.1, 0.1, -0.2])]
    params = jnp.zeros(3)
    opt_state = tx.init(params)
    c = k / (k + 1)
    for got, expected in zip(_updates(tx, opt_state, params, grads), adam_steps(0.01 * c, 0.5**c, 0.99**c, 1e-8, grads),
                             strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    plain = adam_steps(0.01, 0.5, 0.99, 1e-8, grads)  # without the correction the updates differ
    assert not np.allclose(_updates(tx, opt_state, params, grads)[1], plain[1], rtol=1e-3)


def _updates(tx, opt_state, params, grads):
    """tx's updates for a sequence of gradients."""
    out = []
    for g in grads:
        update, opt_state = tx.update(jnp.asarray(g, jnp.float32), opt_state, params)
        out.append(np.asarray(update))
    return out
