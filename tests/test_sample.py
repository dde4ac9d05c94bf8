"""Sampling: interpolation and truncation against numpy/scipy, batched generation, and tools/sample.py end to end."""

import functools
import sys
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import load_tool
from PIL import Image
from scipy import stats

from jaxgan.config import base_config
from jaxgan.engine.state import GAN, create_state
from jaxgan.engine.train_step import sample_latents
from jaxgan.errors import JaxganError
from jaxgan.models.mlp import MLPDiscriminator
from jaxgan.objectives.factory import build_gan
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.run_info import run_meta
from jaxgan.sampling.generate import (
    class_labels,
    interpolation_latents,
    lerp,
    make_generate,
    scale_toward_mean,
    seed_latents,
    slerp,
    truncated_latents,
    write_sample_set,
)
from jaxgan.sampling.images import image_grid, unit_range_to_uint8
from jaxgan.sampling.seeds import write_seed_images, write_video

SHAPE = (8, 8, 1)
REPO = Path(__file__).resolve().parents[1]




def angle(a, b):
    return np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))


def test_lerp_and_slerp_against_numpy():
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal(6), rng.standard_normal(6)
    t = np.linspace(0, 1, 7)
    np.testing.assert_allclose(lerp(jnp.asarray(z0), jnp.asarray(z1), t), (1 - t)[:, None] * z0 + t[:, None] * z1,
                               rtol=1e-5, atol=1e-6)
    omega = angle(z0, z1)
    expected = (np.sin((1 - t) * omega)[:, None] * z0 + np.sin(t * omega)[:, None] * z1) / np.sin(omega)
    path = np.asarray(slerp(jnp.asarray(z0), jnp.asarray(z1), t), np.float64)
    np.testing.assert_allclose(path, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(path[[0, -1]], [z0, z1], rtol=1e-5, atol=1e-5)

    z1 = z1 / np.linalg.norm(z1) * np.linalg.norm(z0)  # equal norms: slerp stays on the sphere at constant speed
    path = np.asarray(slerp(jnp.asarray(z0), jnp.asarray(z1), t), np.float64)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-5)
    steps = [angle(path[i], path[i + 1]) for i in range(len(t) - 1)]
    np.testing.assert_allclose(steps, angle(z0, z1) / (len(t) - 1), rtol=1e-3)

    parallel = slerp(jnp.asarray(z0), jnp.asarray(2 * z0), t)  # no angle: falls back to lerp
    np.testing.assert_allclose(parallel, lerp(jnp.asarray(z0), jnp.asarray(2 * z0), t), rtol=1e-5)


def test_interpolation_rows_run_between_pairs_of_fresh_latents():
    key = jax.random.PRNGKey(1)
    rows = np.asarray(interpolation_latents(key, pairs=2, steps=4, z_dim=3, method="lerp")).reshape(2, 4, 3)
    ends = np.asarray(sample_latents(key, 4, 3))
    np.testing.assert_allclose(rows[:, 0], ends[[0, 2]], rtol=1e-6)
    np.testing.assert_allclose(rows[:, -1], ends[[1, 3]], rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown interpolation"):
        interpolation_latents(key, 1, 4, 3, method="cubic")


def test_truncated_latents_follow_the_truncated_normal():
    threshold = 0.5
    z = np.asarray(truncated_latents(jax.random.PRNGKey(0), 4000, 4, threshold))
    assert np.abs(z).max() <= threshold
    truncnorm = stats.truncnorm(-threshold, threshold)
    assert stats.kstest(z.ravel(), truncnorm.cdf).pvalue > 1e-3
    # One key per example index: the first rows do not depend on how many are drawn.
    np.testing.assert_array_equal(z[:3], truncated_latents(jax.random.PRNGKey(0), 3, 4, threshold))
    np.testing.assert_allclose(scale_toward_mean(jnp.asarray(z[:2]), 0.25, 1.0), 1.0 + 0.25 * (z[:2] - 1.0),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        truncated_latents(jax.random.PRNGKey(0), 2, 4, 0.0)


def mlp_generator(ema_scale=None):
    config = base_config()
    config.model.z_dim = 8
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (16,)
    config.data.image_size = SHAPE[0]
    gan = build_gan(config, SHAPE)
    state = jax.jit(functools.partial(create_state, gan, SHAPE, 0, ema=ema_scale is not None))()
    if ema_scale is not None:  # make the EMA differ from G's params, to see which one is sampled
        state = state.with_ema(G=jax.tree.map(lambda p: p * ema_scale, state.nets["G"].params))
    return config, gan, state


def test_generation_in_padded_batches_equals_one_call():
    _, gan, state = mlp_generator()
    z = sample_latents(jax.random.PRNGKey(2), 10, gan.z_dim)
    variables = {"params": state.nets["G"].params}
    np.testing.assert_allclose(make_generate(gan, variables, batch_size=3)(z), gan.generate(variables, z),
                               rtol=1e-5, atol=1e-6)


def test_sample_tool_writes_every_output_from_the_ema_and_repeats_with_a_seed(tmp_path):
    config, gan, state = mlp_generator(ema_scale=0.5)
    with Checkpointer(tmp_path / "run" / "checkpoints") as ckpt:
        ckpt.save(5, state, run_meta(config, 5, 5, SHAPE, None))
    tool = load_tool("sample")
    args = ["--workdir", str(tmp_path / "run"), "--num-samples", "10", "--grid", "9", "--interp-pairs", "2",
            "--interp-steps", "5", "--truncation", "0.5"]
    for out, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert tool.main([*args, "--out", str(tmp_path / out), "--seed", str(seed)]) == 0

    names = ["samples.png", "interp_lerp.png", "interp_slerp.png", "truncated.png"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "samples.png").read_bytes() != (tmp_path / "c" / "samples.png").read_bytes()
    assert not (tmp_path / "a" / "classes.png").exists()  # unconditional model
    assert Image.open(tmp_path / "a" / "interp_slerp.png").size == (5 * 9 + 1, 2 * 9 + 1)  # 2 rows of 5, 1 px gaps

    a, b = np.load(tmp_path / "a" / "samples.npz"), np.load(tmp_path / "b" / "samples.npz")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["samples"].shape == (10, *SHAPE) and a["truncated"].shape == (9, *SHAPE)
    assert np.abs(a["truncated_z"]).max() <= 0.5
    ema = {"params": state.ema["G"]}
    np.testing.assert_allclose(a["samples"], gan.generate(ema, jnp.asarray(a["z"])), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a["truncated"], gan.generate(ema, jnp.asarray(a["truncated_z"])), rtol=1e-5,
                               atol=1e-6)


def test_sample_tool_drs_keeps_what_d_scores_higher(tmp_path):
    config, gan, state = mlp_generator(ema_scale=0.5)
    config.ema.decay = 0.999  # the full-run restore DRS needs (it reads D) rebuilds the EMA from the config
    with Checkpointer(tmp_path / "run" / "checkpoints") as ckpt:
        ckpt.save(5, state, run_meta(config, 5, 5, SHAPE, None))
    tool = load_tool("sample")
    args = ["--workdir", str(tmp_path / "run"), "--num-samples", "300", "--drs", "--drs-percentile", "90",
            "--drs-burn-in", "500"]
    for out in ("a", "b"):
        assert tool.main([*args, "--out", str(tmp_path / out)]) == 0
    a, b = np.load(tmp_path / "a" / "drs_samples.npz"), np.load(tmp_path / "b" / "drs_samples.npz")
    np.testing.assert_array_equal(a["samples"], b["samples"])  # one seed, one result
    assert a["samples"].shape == (300, *SHAPE) and 0 < a["acceptance_rate"] < 0.5
    # DRS keeps a sample of G (the EMA) with a probability rising with D's logit: kept samples score higher.
    logits = functools.partial(gan.discriminator.apply, state.nets["D"].variables(), train=False)
    plain = gan.generate({"params": state.ema["G"]}, sample_latents(jax.random.PRNGKey(9), 300, gan.z_dim))
    assert float(jnp.mean(logits(jnp.asarray(a["samples"])))) > float(jnp.mean(logits(plain))) + 0.01
    assert (tmp_path / "a" / "drs_samples.png").exists()


class ConditionalG(nn.Module):
    """A small class-conditional G: each class shifts the pre-activation by its own embedding."""

    @nn.compact
    def __call__(self, z, labels=None, train=False):
        h = nn.Dense(64)(z) + nn.Embed(3, 64)(labels)
        return jnp.tanh(h).reshape(-1, *SHAPE)


def test_conditional_models_get_one_grid_row_per_class(tmp_path):
    g = ConditionalG()
    variables = g.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)), jnp.zeros((1,), jnp.int32))
    gan = GAN(g, MLPDiscriminator((8,)), optax.sgd(0.1), optax.sgd(0.1), z_dim=4, num_classes=3)
    paths = write_sample_set(gan, variables, tmp_path, num=6, seed=1, grid=6, interp_pairs=2, interp_steps=3,
                             per_class=4)
    z = jnp.tile(sample_latents(jax.random.split(jax.random.PRNGKey(1), 5)[0], 4, 4), (3, 1))
    expected = image_grid(np.asarray(gan.generate(variables, z, class_labels(3, 4))), cols=4)
    np.testing.assert_array_equal(np.asarray(Image.open(paths["classes"]))[..., None], expected)
    labels = np.load(paths["npz"])["labels"]
    assert labels.shape == (6,) and set(labels) <= {0, 1, 2}
    with pytest.raises(ValueError, match="class-conditional"):
        make_generate(gan, variables)(z)


def conditional_gan():
    g = ConditionalG()
    variables = g.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)), jnp.zeros((1,), jnp.int32))
    return GAN(g, MLPDiscriminator((8,)), optax.sgd(0.1), optax.sgd(0.1), z_dim=4, num_classes=3), variables


def test_seeds_and_class_work_for_any_generator(tmp_path):
    gan, variables = conditional_gan()
    paths = write_seed_images(gan, variables, tmp_path, [3, 8], class_idx=2)
    assert [p.name for p in paths] == ["seed0003.png", "seed0008.png"]
    for seed, path in zip((3, 8), paths, strict=True):  # the seed's own z, whatever else is drawn, of class 2
        z = sample_latents(jax.random.PRNGKey(seed), 1, gan.z_dim)
        expected = unit_range_to_uint8(gan.generate(variables, z, jnp.full((1,), 2, jnp.int32)))[0]
        np.testing.assert_array_equal(np.asarray(Image.open(path))[..., None], expected)
    written = np.load(write_sample_set(gan, variables, tmp_path / "set", num=5, grid=5, interp_pairs=1,
                                       interp_steps=2, class_idx=1)["npz"])
    assert set(written["labels"]) == {1}
    np.testing.assert_allclose(written["samples"], gan.generate(variables, jnp.asarray(written["z"]),
                                                                jnp.ones(5, jnp.int32)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"pass --class in \[0, 2\], got 3"):
        write_seed_images(gan, variables, tmp_path, [0], class_idx=3)
    _, plain, state = mlp_generator()
    with pytest.raises(ValueError, match="--class 1 needs a class-conditional G"):
        write_seed_images(plain, {"params": state.nets["G"].params}, tmp_path, [0], class_idx=1)
    with pytest.raises(ValueError, match="need a StyleGAN2 run"):
        write_seed_images(plain, {"params": state.nets["G"].params}, tmp_path, [0], psi=0.5)


def test_video_loops_through_the_seeds(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    _, gan, state = mlp_generator()
    variables = {"params": state.nets["G"].params}
    path = write_video(gan, variables, tmp_path / "loop.gif", [4, 5, 6], steps=3)
    frames = iio.imread(path, index=None)
    assert frames.shape[:3] == (9, *SHAPE[:2])  # 3 seeds x 3 steps, back to the first
    seeds = unit_range_to_uint8(gan.generate(variables, seed_latents([4, 5, 6], gan.z_dim)))[..., 0]
    for i, seed_image in enumerate(seeds):  # every `steps`-th frame is a seed's own image
        np.testing.assert_array_equal(frames[3 * i].reshape(SHAPE[:2] + (-1,))[..., 0], seed_image)
    assert not np.array_equal(frames[1], frames[0])  # in between: the slerp path


def test_a_video_without_imageio_or_of_another_format_is_one_line(tmp_path, monkeypatch):
    _, gan, state = mlp_generator()
    with pytest.raises(JaxganError, match=r"name a .gif or .mp4 file"):
        write_video(gan, {"params": state.nets["G"].params}, tmp_path / "loop.avi", [0, 1])
    monkeypatch.setitem(sys.modules, "imageio.v3", None)
    monkeypatch.setitem(sys.modules, "imageio", None)
    with pytest.raises(JaxganError, match=r"--video needs imageio.*jaxgan\[video\]"):
        write_video(gan, {"params": state.nets["G"].params}, tmp_path / "loop.gif", [0, 1])
