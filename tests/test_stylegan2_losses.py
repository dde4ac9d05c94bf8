"""StyleGAN2 objective pieces: path length on its synthesis network against finite differences, style mixing."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models.stylegan2 import Generator
from jaxgan.models.stylegan2.losses import mixing_cutoff, pl_batch_size, style_mix
from jaxgan.terms.regularizers import path_length_penalty, path_lengths


def _tiny_synthesis():
    g = Generator(8, 3, z_dim=4, w_dim=4, mapping_layers=1, channel_base=32, channel_max=4)
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 4))
    v = g.init(jax.random.PRNGKey(1), z)
    ws = g.apply(v, z, method=Generator.map)
    return (lambda w: g.apply(v, w, noise_mode="const", method=Generator.synthesize)), ws


def test_path_lengths_match_a_finite_difference_jacobian():
    synthesize, ws = _tiny_synthesis()
    key = jax.random.PRNGKey(7)
    got = np.asarray(path_lengths(synthesize, ws, key))
    img = synthesize(ws)
    y = jax.random.normal(key, img.shape) / np.sqrt(img.shape[1] * img.shape[2])  # the same draw
    n, num_ws, w_dim = ws.shape
    h = 1e-3  # the tiny G bends fast (4-channel demodulation): 1e-2 is 4% off, 1e-3 within 0.4%
    eye = jnp.eye(num_ws * w_dim).reshape(-1, num_ws, w_dim) * h  # one central difference per w coordinate
    project = lambda w: jnp.sum(synthesize(w) * y, axis=(1, 2, 3))  # <G(w_n), y_n> per example n
    fd = jax.vmap(lambda e: (project(ws + e) - project(ws - e)) / (2 * h))(eye)  # [num_ws * w_dim, N]
    grads = np.asarray(fd).T.reshape(n, num_ws, w_dim)
    want = np.sqrt(np.mean(np.sum(grads ** 2, axis=2), axis=1))
    np.testing.assert_allclose(got, want, rtol=1e-2)
    assert np.all(got > 0)


def test_path_length_loss_updates_the_running_mean():
    synthesize, ws = _tiny_synthesis()
    key = jax.random.PRNGKey(7)
    lengths = np.asarray(path_lengths(synthesize, ws, key))
    loss, new_mean, metrics = path_length_penalty(synthesize, ws, key, jnp.float32(0.5), weight=2.0, decay=0.01)
    want_mean = 0.5 + 0.01 * (lengths.mean() - 0.5)
    np.testing.assert_allclose(float(new_mean), want_mean, rtol=1e-5)
    np.testing.assert_allclose(float(loss), 2.0 * np.mean((lengths - want_mean) ** 2), rtol=1e-4)
    assert set(metrics) == {"Loss/pl_penalty", "Loss/G/reg", "Loss/pl_mean"}
    assert pl_batch_size(64) == 32 and pl_batch_size(1) == 1


def test_style_mixing_cutoff_and_mix():
    cutoffs = np.asarray(jax.vmap(lambda k: mixing_cutoff(k, 8, 1.0))(jax.random.split(jax.random.PRNGKey(0), 500)))
    assert cutoffs.min() == 1 and cutoffs.max() == 7  # U{1, ..., num_ws - 1}, as torch's random_(1, num_ws)
    never = jax.vmap(lambda k: mixing_cutoff(k, 8, 0.0))(jax.random.split(jax.random.PRNGKey(0), 50))
    assert bool(jnp.all(never == 8))
    some = np.asarray(jax.vmap(lambda k: mixing_cutoff(k, 8, 0.9))(jax.random.split(jax.random.PRNGKey(1), 4000)))
    assert abs(np.mean(some < 8) - 0.9) < 0.02
    a, b = jnp.zeros((2, 8, 3)), jnp.ones((2, 8, 3))
    mixed = np.asarray(style_mix(a, b, jnp.int32(5)))
    assert np.all(mixed[:, :5] == 0) and np.all(mixed[:, 5:] == 1)


def test_path_length_loss_differentiates_wrt_g_params():
    """Greg needs second-order gradients (the reference's create_graph=True): d loss / d params through the VJP."""
    g = Generator(8, 3, z_dim=4, w_dim=4, mapping_layers=1, channel_base=32, channel_max=4)
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 4))
    v = g.init(jax.random.PRNGKey(1), z)

    def loss_fn(params):
        variables = {**v, "params": params}
        ws = g.apply(variables, z, method=Generator.map)
        synthesize = lambda w: g.apply(variables, w, noise_mode="const", method=Generator.synthesize)
        return path_length_penalty(synthesize, ws, jax.random.PRNGKey(2), jnp.float32(0.0))[0]

    grads = jax.jit(jax.grad(loss_fn))(v["params"])
    flat = jnp.concatenate([jnp.ravel(x) for x in jax.tree.leaves(grads)])
    assert bool(jnp.all(jnp.isfinite(flat))) and float(jnp.sum(jnp.abs(flat))) > 0
    conv_w = grads["synthesis"]["b8"]["conv1"]["weight"]
    assert float(jnp.sum(jnp.abs(conv_w))) > 0  # the penalty reaches the synthesis weights
