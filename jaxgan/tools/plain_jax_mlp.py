"""The seeds' MLP GAN step written directly in JAX, with no library around it: what jaxgan's step must match.

The same maths as jaxgan's default MLP GAN (z 100 -> 128 -> 128 -> 784 tanh, D 784 -> 128 -> 128 -> 1, leaky ReLU
0.2, the non-saturating loss, Adam 2e-4 / 0.5 / 0.999, D updated first and G through the updated D on the same
fakes), as one jitted function with the state donated, the key carried in the state. `jaxgan benchmark --models
mlp --plain-jax` times it beside jaxgan's step: as a user would jit it, and (`--rounds`) also with the XLA compile
options jaxgan's step asks for, which separates what the options gain from what jaxgan's wrapper costs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

Params = list[tuple[jax.Array, jax.Array]]


def init_mlp(key: jax.Array, sizes: list[int]) -> Params:
    """LeCun-normal weights and zero biases for the dense layers sizes[0] -> ... -> sizes[-1]."""
    keys = jax.random.split(key, len(sizes) - 1)
    shapes = zip(keys, sizes[:-1], sizes[1:], strict=True)
    return [(jax.random.normal(k, (a, b)) / jnp.sqrt(a), jnp.zeros(b)) for k, a, b in shapes]


def mlp(params: Params, h: jax.Array) -> jax.Array:
    """Dense layers with leaky ReLU (slope 0.2) between them."""
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = jax.nn.leaky_relu(h, 0.2)
    return h


def make_plain_step(batch: int, z_dim: int = 100, hidden: tuple[int, ...] = (128, 128),
                    shape: tuple[int, ...] = (28, 28, 1), compiler_options: dict | None = None):
    """(init(seed) -> state, step(state, x) -> (state, (D loss, G loss))), step jitted with the state donated and
    `compiler_options` (default: XLA's)."""
    opt = optax.adam(2e-4, b1=0.5, b2=0.999)
    pixels = math.prod(shape)

    def init(seed: int):
        kg, kd, key = jax.random.split(jax.random.PRNGKey(seed), 3)
        g, d = init_mlp(kg, [z_dim, *hidden, pixels]), init_mlp(kd, [pixels, *hidden, 1])
        return g, d, opt.init(g), opt.init(d), key

    def step(state, x):
        g, d, g_opt, d_opt, key = state
        key, z_key = jax.random.split(key)
        fake, g_vjp = jax.vjp(lambda g: jnp.tanh(mlp(g, jax.random.normal(z_key, (batch, z_dim)))), g)
        real = x.reshape(batch, pixels)
        d_loss = lambda d: jnp.mean(jax.nn.softplus(-mlp(d, real)[:, 0]) + jax.nn.softplus(mlp(d, fake)[:, 0]))
        d_value, d_grads = jax.value_and_grad(d_loss)(d)
        updates, d_opt = opt.update(d_grads, d_opt, d)
        d = optax.apply_updates(d, updates)
        g_loss = lambda fake: jnp.mean(jax.nn.softplus(-mlp(d, fake)[:, 0]))
        g_value, fake_grads = jax.value_and_grad(g_loss)(fake)
        updates, g_opt = opt.update(g_vjp(fake_grads)[0], g_opt, g)
        return (optax.apply_updates(g, updates), d, g_opt, d_opt, key), (d_value, g_value)

    return jax.jit(init, static_argnums=0), jax.jit(step, donate_argnums=0, compiler_options=compiler_options)


def plain_setup(batch: int, sizes: Any, compiler_options: dict | None = None) -> tuple[Callable, Callable, jax.Array]:
    """(init, jitted step, one batch of images in [-1, 1]) of the plain step at `batch` and the benchmark's `sizes`."""
    init, step = make_plain_step(batch, sizes.z_dim, tuple(sizes.mlp_hidden), tuple(sizes.mlp_shape),
                                 compiler_options)
    x = jax.random.uniform(jax.random.PRNGKey(1), (batch, *sizes.mlp_shape), minval=-1.0, maxval=1.0)
    return init, step, x


def time_plain_step(batch: int, steps: int, warmup: int, sizes: Any, time_calls: Callable) -> dict:
    """Images/s of the plain step at `batch` and the benchmark's `sizes`, timed by the benchmark's `time_calls`."""
    init, step, x = plain_setup(batch, sizes)
    state, losses = step(init(0), x)  # compile and first call
    seconds, state, losses = time_calls(step, state, x, steps, warmup)
    return {"kind": "plain_jax", "model": "mlp", "batch": batch, "steps": steps,
            "images_per_s": batch * steps / seconds, "ms_per_step": 1e3 * seconds / steps,
            "finite": bool(jnp.isfinite(losses[0]))}


def rows_beside(jax_rows: list[dict], batches: list[int], sizes: Any, steps: int, warmup: int,
                time_calls: Callable, emit: Callable) -> list[dict]:
    """The plain step's row per batch size, and the ratio row of jaxgan's float32 K=1 MLP step to it."""
    rows = []
    for batch in batches:
        plain = time_plain_step(batch, steps, warmup, sizes, time_calls)
        rows.append(plain)
        emit(plain)
        ours = [r for r in jax_rows if (r["model"], r["batch"], r["dtype"], r["k"]) == ("mlp", batch, "float32", 1)]
        for row in ours:
            rows.append({"kind": "ratio", "model": "mlp", "batch": batch, "reference": "plain_jax",
                         "grad_norms": row["grad_norms"], "ratio": row["images_per_s"] / plain["images_per_s"],
                         "jaxgan_images_per_s": row["images_per_s"], "plain_jax_images_per_s": plain["images_per_s"]})
            emit(rows[-1])
    return rows


def alternating_rounds(ours: tuple[Callable, Any, dict], batch: int, sizes: Any, steps: int, warmup: int,
                       rounds: int, time_calls: Callable, compiler_options: dict | None = None) -> dict:
    """Median images/s over `rounds` rounds of `steps` steps of jaxgan's jitted step `ours` = (fn, state, batch),
    the plain step as XLA compiles it by default and, given jaxgan's `compiler_options`, the plain step with them;
    they take turns, the order rotated by one each round. `ratio` is jaxgan's over the plain step's;
    `ratio_same_options` (with options) is jaxgan's over the plain step's under the same options: the wrapper's cost."""
    runs = {"jaxgan": list(ours)}
    plain_options = {"plain_jax": None, **({"plain_jax_same_options": compiler_options} if compiler_options else {})}
    for name, options in plain_options.items():
        init, step, x = plain_setup(batch, sizes, options)
        runs[name] = [step, init(0), x]
    speeds: dict[str, list[float]] = {name: [] for name in runs}
    for name, (fn, state, data) in runs.items():  # compile and warm up each before timing any
        runs[name][1] = time_calls(fn, state, data, 1, warmup)[1]
    names = list(runs)
    for i in range(rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            fn, state, data = runs[name]
            seconds, runs[name][1], _ = time_calls(fn, state, data, steps, 0)
            speeds[name].append(batch * steps / seconds)
    ips = {name: statistics.median(values) for name, values in speeds.items()}
    row = {"kind": "rounds", "model": "mlp", "batch": batch, "reference": "plain_jax", "rounds": rounds,
           "steps": steps, "compiler_options": compiler_options or {}, "jaxgan_images_per_s": ips["jaxgan"],
           "plain_jax_images_per_s": ips["plain_jax"], "ratio": ips["jaxgan"] / ips["plain_jax"]}
    if "plain_jax_same_options" in ips:
        row["plain_jax_same_options_images_per_s"] = ips["plain_jax_same_options"]
        row["ratio_same_options"] = ips["jaxgan"] / ips["plain_jax_same_options"]
    return row
