"""Sampling from a trained G: latent interpolation (lerp, slerp), the truncation trick, per-class grids, sample sets.

The truncation trick here is BigGAN's (Brock et al. 2019): every component of z with |z_i| > threshold is redrawn
until it falls inside, i.e. z ~ N(0, I) truncated to [-threshold, threshold]^d (drawn directly with
`jax.random.truncated_normal`). It trades variety for fidelity as the threshold shrinks. `scale_toward_mean` is
the other common form (StyleGAN's psi, applied in z space): z' = mean + psi * (z - mean).

Every latent is drawn with one key per example index (`train_step.sample_latents`), so a seed gives the same
images whatever the batch size or device count.

G_ema and BatchNorm: the running statistics in the state belong to the live G's weights, not to the EMA weights.
`generator_variables(state, gan)` pairs the EMA weights with BigGAN's *standing statistics* instead (Brock et al.
2019, Appendix C.1): each BatchNorm's mean and variance recomputed for the EMA weights at sample and eval time,
averaged over `STANDING_BATCHES` batches of fresh z with G in training mode (`standing_statistics`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data.label_distribution import draw_labels
from jaxgan.engine.state import GAN, TrainState
from jaxgan.engine.train_step import KeyStreams, sample_latents
from jaxgan.sampling.images import image_grid, sample_picture, save_png

INTERPOLATIONS = ("lerp", "slerp")
_PARALLEL_EPS = 1e-6  # below this sin(angle), slerp falls back to lerp
_MIN_KEEP = 1e-6  # a running statistic with 1 - momentum below this is one no batch moves
STANDING_BATCHES, STANDING_BATCH_SIZE = 16, 64  # BigGAN's standing statistics: batches of fresh z, their size
EVAL_NOISE_STREAM = 0x6E6F6973  # fold_in tag of the evaluation samples' per-layer noise key


def lerp(z0: jax.Array, z1: jax.Array, t: jax.Array) -> jax.Array:
    """(len(t), d) points on the segment from z0 to z1 at fractions t."""
    t = jnp.asarray(t, jnp.float32)[:, None]
    return (1.0 - t) * z0[None] + t * z1[None]


def slerp(z0: jax.Array, z1: jax.Array, t: jax.Array) -> jax.Array:
    """(len(t), d) spherical interpolation (White 2016): constant angular speed, keeps the norm when |z0| = |z1|."""
    cos = jnp.dot(z0, z1) / (jnp.linalg.norm(z0) * jnp.linalg.norm(z1))
    omega = jnp.arccos(jnp.clip(cos, -1.0, 1.0))
    sin = jnp.sin(omega)
    t = jnp.asarray(t, jnp.float32)[:, None]
    safe = jnp.where(sin < _PARALLEL_EPS, 1.0, sin)
    spherical = (jnp.sin((1.0 - t) * omega) * z0[None] + jnp.sin(t * omega) * z1[None]) / safe
    return jnp.where(sin < _PARALLEL_EPS, lerp(z0, z1, t[:, 0]), spherical)


def interpolation_latents(key: jax.Array, pairs: int, steps: int, z_dim: int, method: str = "slerp") -> jax.Array:
    """(pairs * steps, z_dim): for each of `pairs` random (z0, z1), `steps` points from z0 to z1, row by row."""
    if method not in INTERPOLATIONS:
        raise ValueError(f"Unknown interpolation {method!r}; choose one of {INTERPOLATIONS}.")
    if pairs < 1 or steps < 2:
        raise ValueError(f"Need pairs >= 1 and steps >= 2, got pairs={pairs}, steps={steps}.")
    ends = sample_latents(key, 2 * pairs, z_dim)
    path = lerp if method == "lerp" else slerp
    t = jnp.linspace(0.0, 1.0, steps)
    return jnp.concatenate([path(ends[2 * i], ends[2 * i + 1], t) for i in range(pairs)])


def truncated_latents(key: jax.Array, n: int, z_dim: int, threshold: float) -> jax.Array:
    """(n, z_dim) z ~ N(0, I) with every component redrawn until |z_i| <= threshold (BigGAN's truncation)."""
    if threshold <= 0:
        raise ValueError(f"The truncation threshold must be > 0, got {threshold}.")
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))
    return jax.vmap(lambda k: jax.random.truncated_normal(k, -threshold, threshold, (z_dim,)))(keys)


def scale_toward_mean(z: jax.Array, psi: float, mean: jax.Array | float = 0.0) -> jax.Array:
    """z' = mean + psi * (z - mean): the other truncation trick (psi = 1 keeps z, psi = 0 gives the mean)."""
    return mean + psi * (z - mean)


def class_labels(num_classes: int, per_class: int) -> jax.Array:
    """(num_classes * per_class,) labels, class c filling row c of a grid with `per_class` columns."""
    return jnp.repeat(jnp.arange(num_classes, dtype=jnp.int32), per_class)


def generator_variables(state: TrainState, gan: GAN | None = None) -> dict:
    """G's variables for sampling: the EMA params when the state has them, else G's params.

    With `gan`, EMA params are paired with standing BatchNorm statistics recomputed for them
    (`standing_statistics`, from a key fixed by the state's rng and step); without it, or without an EMA, with the
    live G's running statistics.
    """
    if "G" not in state.ema:
        return state.nets["G"].variables()
    variables = {"params": state.ema["G"], **state.nets["G"].collections}
    if gan is None or "batch_stats" not in state.nets["G"].collections:
        return variables
    key = KeyStreams.of_step(state.rng, state.step).phase("standing_statistics").z()
    return {**variables, "batch_stats": standing_statistics(gan, variables, key)}


@functools.partial(jax.jit, static_argnames=("gan", "num_batches", "batch_size"))
def standing_statistics(gan: GAN, g_variables: dict, key: jax.Array, num_batches: int = STANDING_BATCHES,
                        batch_size: int = STANDING_BATCH_SIZE) -> dict:
    """G's `batch_stats` for the params in `g_variables`: each BatchNorm's batch mean and variance, averaged over
    `num_batches` batches of fresh z (and uniform random labels) with G in training mode (BigGAN's standing stats).

    A BatchNorm folds a batch's statistic b into its running average r as m * r + (1 - m) * b. Run from r = 0 it
    stores (1 - m) b, from r = 1 it stores m + (1 - m) b; their difference gives m, so b is read off exactly for
    any momentum m. A leaf that no batch moves (m = 1) keeps its value.
    """
    stats = g_variables["batch_stats"]

    def run_from(start: dict, z: jax.Array, labels: jax.Array | None) -> dict:
        variables = {**g_variables, "batch_stats": start}
        _, updates = gan.generator.apply(variables, z, labels, train=True, mutable=["batch_stats"])
        return updates["batch_stats"]

    def keep_and_batch_stat(key: jax.Array) -> tuple[dict, dict]:
        z, labels = random_inputs(gan, key, batch_size)
        from_zero = run_from(jax.tree.map(jnp.zeros_like, stats), z, labels)
        from_one = run_from(jax.tree.map(jnp.ones_like, stats), z, labels)
        keep = jax.tree.map(lambda a, b: 1.0 - (b - a), from_zero, from_one)  # 1 - m
        return keep, jax.tree.map(lambda a, k: a / jnp.where(k > _MIN_KEEP, k, 1.0), from_zero, keep)

    keep, per_batch = jax.lax.map(keep_and_batch_stat, jax.random.split(key, num_batches))
    mean = jax.tree.map(lambda b: jnp.mean(b, axis=0), per_batch)
    return jax.tree.map(lambda m, old, k: jnp.where(k[0] > _MIN_KEEP, m, old), mean, stats, keep)


def make_batched_generate(gan: GAN, batch_size: int = 256) -> Callable[..., jax.Array]:
    """`generate(g_variables, z, labels=None, noise_key=None) -> samples` on the device: G in inference mode, jitted
    once, in fixed-size batches (the last one padded), so a G of any size compiles one program whatever n is.
    `noise_key` keys G's per-layer noise (batch from row s: fold_in(noise_key, s)); None for G's default."""
    forward = jax.jit(gan.generate)

    def generate(g_variables: dict, z: jax.Array, labels: jax.Array | None = None,
                 noise_key: jax.Array | None = None) -> jax.Array:
        if gan.num_classes is not None and labels is None:
            raise ValueError(f"This G is class-conditional ({gan.num_classes} classes): pass labels.")
        if noise_key is None:
            return _in_batches(forward, g_variables, z, labels, batch_size)
        keyed = lambda start, v, x, y: forward(v, x, y, noise_key=jax.random.fold_in(noise_key, start))
        return _in_batches(keyed, g_variables, z, labels, batch_size, pass_start=True)

    return generate


def make_batched_discriminate(gan: GAN, batch_size: int = 256) -> Callable[..., jax.Array]:
    """`discriminate(d_variables, x, labels=None) -> logits`: D in inference mode, jitted once, in fixed-size
    batches (the last one padded), as `make_batched_generate` runs G."""
    forward = jax.jit(lambda variables, x, labels: gan.discriminator.apply(variables, x, labels, train=False))

    def discriminate(d_variables: dict, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        return _in_batches(forward, d_variables, x, labels, batch_size)

    return discriminate


def _in_batches(forward: Callable, variables: dict, x: jax.Array, labels: jax.Array | None,
                batch_size: int, pass_start: bool = False) -> jax.Array:
    """`forward(variables, x, labels)` over rows of `x` in batches of one size (the last padded), concatenated;
    `forward(start, variables, x, labels)` with `pass_start`, start the batch's first row."""
    n = x.shape[0]
    size = min(batch_size, n)
    out = []
    for start in range(0, n, size):
        xb = _pad(x[start:start + size], size)
        lb = None if labels is None else _pad(jnp.asarray(labels[start:start + size], jnp.int32), size)
        args = (start, variables, xb, lb) if pass_start else (variables, xb, lb)
        out.append(forward(*args)[: min(size, n - start)])
    return out[0] if len(out) == 1 else jnp.concatenate(out)


def make_generate(gan: GAN, g_variables: dict, batch_size: int = 256) -> Callable[..., np.ndarray]:
    """`generate(z, labels=None) -> np.ndarray`: G in inference mode, jitted, in fixed-size batches (padded)."""
    generate = make_batched_generate(gan, batch_size)
    return lambda z, labels=None: np.asarray(generate(g_variables, z, labels))


def _pad(x: jax.Array, size: int) -> jax.Array:
    """Pad the first axis to `size` rows with zeros (G and D in inference mode treat rows independently)."""
    return x if x.shape[0] == size else jnp.concatenate([x, jnp.zeros((size - x.shape[0], *x.shape[1:]), x.dtype)])


def random_inputs(gan: GAN, key: jax.Array, n: int, label_probs: Sequence[float] | None = None
                  ) -> tuple[jax.Array, jax.Array | None]:
    """(z, labels) of n evaluation samples: z per example index; a conditional G's labels drawn from `label_probs`
    (the training set's class shares, as the reference's metrics draw them), uniform without them."""
    z_key, label_key = jax.random.split(key)
    z = sample_latents(z_key, n, gan.z_dim)
    if gan.num_classes is not None and label_probs is not None:
        return z, draw_labels(label_key, n, label_probs)
    return z, _labels_for(gan, label_key, n)


def evaluation_noise_key(key: jax.Array) -> jax.Array:
    """The key of G's per-layer noise for the evaluation samples drawn with `key` (random, as the reference's)."""
    return jax.random.fold_in(key, EVAL_NOISE_STREAM)


def make_sample_fn(gan: GAN, g_variables: dict, batch_size: int = 256,
                   label_probs: Sequence[float] | None = None) -> Callable[[jax.Array, int], np.ndarray]:
    """`sample_fn(key, n) -> (n, ...)` samples in [-1, 1] for evaluation: random per-layer noise keyed by `key`;
    a conditional G's labels from `label_probs` (uniform without)."""
    generate = make_batched_generate(gan, batch_size)

    def sample_fn(key: jax.Array, n: int) -> np.ndarray:
        z, labels = random_inputs(gan, key, n, label_probs)
        return np.asarray(generate(g_variables, z, labels, noise_key=evaluation_noise_key(key)))

    return sample_fn


def picture_of(samples: np.ndarray, cols: int | None = None) -> np.ndarray:
    """A grid with `cols` columns for images, a point cloud for 2-D points."""
    if samples.ndim == 4:
        return image_grid(samples, cols=cols)
    return sample_picture(samples)


def _labels_for(gan: GAN, key: jax.Array, n: int, class_idx: int | None = None) -> jax.Array | None:
    """n labels for a conditional G: all `class_idx` when given, else uniform random; None for an unconditional G."""
    if class_idx is not None:
        return seed_labels(gan, n, class_idx)
    return None if gan.num_classes is None else jax.random.randint(key, (n,), 0, gan.num_classes, jnp.int32)


def seed_latents(seeds: Sequence[int], z_dim: int) -> jax.Array:
    """z [len(seeds), z_dim]: one latent per seed, the same for a seed whatever else is drawn."""
    return jnp.concatenate([sample_latents(jax.random.PRNGKey(s), 1, z_dim) for s in seeds])


def seed_labels(gan: GAN, n: int, class_idx: int | None) -> jax.Array | None:
    """n labels, all `class_idx`, for a conditional G (which needs one); None for an unconditional G (which takes
    none)."""
    if gan.num_classes is None:
        if class_idx is not None:
            raise ValueError(f"--class {class_idx} needs a class-conditional G; this run's G is unconditional.")
        return None
    if class_idx is None or not 0 <= class_idx < gan.num_classes:
        raise ValueError(f"This G is class-conditional ({gan.num_classes} classes): pass --class in "
                         f"[0, {gan.num_classes - 1}], got {class_idx}.")
    return jnp.full((n,), class_idx, jnp.int32)


def write_sample_set(gan: GAN, g_variables: dict, out_dir: str | Path, *, num: int = 64, seed: int = 0,
                     grid: int = 64, truncation: float = 0.5, interp_pairs: int = 8, interp_steps: int = 10,
                     per_class: int = 8, batch_size: int = 256, class_idx: int | None = None) -> dict[str, Path]:
    """Write samples.npz (num samples, their z and labels), samples.png (the first `grid`), interp_lerp.png and
    interp_slerp.png (one row per latent pair), truncated.png (+ in the npz), and classes.png (one row per class)
    for class-conditional G. A conditional G's labels are uniform random, or all `class_idx`. The same seed gives
    the same files. Returns {name: path}."""
    if num < 1:
        raise ValueError(f"--num must be >= 1, got {num}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    generate = make_generate(gan, g_variables, batch_size)
    k_z, k_labels, k_interp, k_trunc, k_trunc_labels = jax.random.split(jax.random.PRNGKey(seed), 5)
    z = sample_latents(k_z, num, gan.z_dim)
    labels = _labels_for(gan, k_labels, num, class_idx)
    samples = generate(z, labels)
    shown = min(grid, num)
    paths = {"samples_png": save_png(picture_of(samples[:shown]), out_dir / "samples.png")}
    for method in INTERPOLATIONS:
        zi = interpolation_latents(k_interp, interp_pairs, interp_steps, gan.z_dim, method)
        li = None if labels is None else jnp.repeat(_labels_for(gan, k_interp, interp_pairs, class_idx),
                                                    interp_steps)
        paths[f"interp_{method}"] = save_png(picture_of(generate(zi, li), cols=interp_steps),
                                             out_dir / f"interp_{method}.png")
    zt = truncated_latents(k_trunc, shown, gan.z_dim, truncation)
    truncated = generate(zt, _labels_for(gan, k_trunc_labels, shown, class_idx))
    paths["truncated"] = save_png(picture_of(truncated), out_dir / "truncated.png")
    if gan.num_classes is not None:
        lc = class_labels(gan.num_classes, per_class)
        zc = jnp.tile(sample_latents(k_z, per_class, gan.z_dim), (gan.num_classes, 1))  # same z in every row
        paths["classes"] = save_png(picture_of(generate(zc, lc), cols=per_class), out_dir / "classes.png")
    arrays = {"samples": samples, "z": np.asarray(z), "truncated": truncated, "truncated_z": np.asarray(zt),
              "truncation": np.float32(truncation)}
    if labels is not None:
        arrays["labels"] = np.asarray(labels)
    paths["npz"] = out_dir / "samples.npz"
    np.savez(paths["npz"], **arrays)
    return paths
