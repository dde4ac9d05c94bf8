"""SRGAN (jaxgan.objectives.srgan): LR is HR downsampled, the pixel shuffle is depth-to-space, the phases train,
PSNR is 10 log10(1 / MSE), a stopped and resumed run equals a straight one, and bad configs get one line."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_resume import assert_trees_equal, metric_rows, no_eval, stop_at

from jaxgan.engine.state import apply_train
from jaxgan.errors import JaxganError
from jaxgan.models.srresnet import pixel_shuffle
from jaxgan.objectives import srgan, validate
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.runs import load_run
from jaxgan.run.train import train_and_evaluate

N = 2  # steps before the stop; resume runs are configured for 2N


def tiny_config(**train):
    """4x on the native 8x8 digits (LR 2x2) with 4-wide nets, 12 held-out images."""
    c = srgan.default_config()
    c.data.image_size = 0
    c.model.update(dict(features=4, blocks=1, d_features=4, d_convs=2, d_dense=8))
    c.eval.num_images = 12
    c.train.update(dict(batch_size=8, num_steps=2 * N, log_every=1, eval_every=N, sample_every=1000,
                        checkpoint_every=2 * N, progress=False, async_checkpoint=False, num_devices=1))
    c.train.update(train)
    return c


@pytest.mark.parametrize("method", ["box", "bicubic"])
def test_low_resolution_is_the_4x_downsample_of_high_resolution(method):
    const = jnp.full((1, 8, 12, 1), 0.3)
    np.testing.assert_allclose(srgan.downsample(const, 4, method), np.full((1, 2, 3, 1), 0.3), atol=1e-6)
    # A ramp along the width, pixel i = 0.01 i: LR pixel j averages pixels 4j .. 4j+3, so it is 0.01 (4j + 1.5);
    # the bicubic kernel reproduces linear functions too, away from the edges it renormalises.
    ramp = jnp.broadcast_to(0.01 * jnp.arange(32.0)[None, None, :, None], (1, 4, 32, 1))
    lr = np.asarray(srgan.downsample(ramp, 4, method))[0, 0, :, 0]
    expected = 0.01 * (4 * np.arange(8) + 1.5)
    inner = slice(None) if method == "box" else slice(2, -2)
    np.testing.assert_allclose(lr[inner], expected[inner], atol=1e-5)
    # One lit pixel in four: the block means are 1/4. Antialiasing keeps that (the widened kernel's shifts sum to
    # one); sampling the bicubic interpolant at the LR centres without it would alias to -1/16.
    impulses = jnp.broadcast_to((jnp.arange(32) % 4 == 0)[None, None, :, None], (1, 4, 32, 1)).astype(jnp.float32)
    lr = np.asarray(srgan.downsample(impulses, 4, method))[0, 0, :, 0]
    np.testing.assert_allclose(lr[inner], 0.25, atol=1e-5)
    # Box: each LR pixel is the mean of its 4x4 block, on a random image (leading axes pass through).
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 8, 8, 3)).astype(np.float32)
    if method == "box":
        blocks = np.array([[x[:, :, 4 * r:4 * r + 4, 4 * q:4 * q + 4].mean(axis=(2, 3)) for q in range(2)]
                           for r in range(2)])
        np.testing.assert_allclose(srgan.downsample(x, 4, "box"), blocks.transpose(2, 3, 0, 1, 4), atol=1e-6)


def test_pixel_shuffle_is_depth_to_space_in_pytorch_order():
    x = np.random.default_rng(1).normal(size=(2, 3, 5, 2 * 9)).astype(np.float32)
    r, c = 3, 2
    expected = np.empty((2, 9, 15, c), np.float32)
    for h in range(3):
        for w in range(5):
            for i in range(r):
                for j in range(r):
                    expected[:, h * r + i, w * r + j, :] = x[:, h, w, [ch * r * r + i * r + j for ch in range(c)]]
    np.testing.assert_array_equal(pixel_shuffle(jnp.asarray(x), r), expected)
    with pytest.raises(ValueError, match="divisible by 4"):
        pixel_shuffle(jnp.zeros((1, 2, 2, 6)), 2)


def test_psnr_is_ten_log10_of_one_over_the_mse_on_unit_range_images():
    reference = -np.ones((2, 4, 4, 1), np.float32)  # 0 in [0, 1]
    images = np.stack([np.zeros((4, 4, 1)), np.full((4, 4, 1), -0.5)]).astype(np.float32)  # 0.5 and 0.25
    values = np.asarray(srgan.psnr(images, reference))
    np.testing.assert_allclose(values, [10 * np.log10(1 / 0.25), 10 * np.log10(1 / 0.0625)], rtol=1e-6)
    # Out-of-range values are clipped to [0, 1] first, as the saved 8-bit images would be.
    np.testing.assert_allclose(srgan.psnr(np.full_like(images, 3.0), reference), [0.0, 0.0], atol=1e-6)


def fixed_batch():
    """16 HR digits (8x8) in [-1, 1], as (1, B, H, W, C)."""
    from sklearn.datasets import load_digits

    images = load_digits().images[:16, :, :, None].astype(np.float32) / 8.0 - 1.0
    return {"x": jnp.asarray(images[None])}


def test_phase_table_trains_and_its_terms_are_the_weighted_losses():
    config = tiny_config()
    config.srgan.update(dict(pixel_weight=2.0, adv_weight=0.5, feature_weight=0.25))
    config.optim.g.lr = config.optim.d.lr = 3e-3
    features = lambda x: jnp.mean(x, axis=(1, 2))  # a stand-in phi: channel means
    spec = srgan.build_spec(config, (8, 8, 1))
    spec = dataclasses.replace(spec, features=features)
    state = srgan.init_state(spec, (8, 8, 1), seed=0)
    batch = fixed_batch()
    hr = batch["x"][0]
    lr = srgan.downsample(hr, 4)
    sr, _ = apply_train(spec.generator, state.nets["G"], lr)  # what G's phase sees: D is not used by G's pass
    step = jax.jit(srgan.make_srgan_step(spec))
    new, metrics = step(state, batch)
    assert [k for k in metrics if k.startswith("Loss/G_")] == ["Loss/G_adv", "Loss/G_feature", "Loss/G_pixel"]
    np.testing.assert_allclose(metrics["Loss/G_pixel"], np.mean((np.asarray(sr) - np.asarray(hr)) ** 2), rtol=1e-5)
    np.testing.assert_allclose(metrics["Loss/G_feature"], np.mean((features(sr) - features(hr)) ** 2), rtol=1e-5)
    np.testing.assert_allclose(metrics["Loss/G"], 2.0 * metrics["Loss/G_pixel"] + 0.5 * metrics["Loss/G_adv"]
                               + 0.25 * metrics["Loss/G_feature"], rtol=1e-6)
    # G's adversarial term is -log D(G(LR)) through the D that Dmain just updated.
    logits, _ = apply_train(spec.discriminator, new.nets["D"], sr)
    np.testing.assert_allclose(metrics["Loss/G_adv"], np.mean(jax.nn.softplus(-logits)), rtol=1e-5)
    first = float(metrics["Loss/G_pixel"])
    for _ in range(15):
        new, metrics = step(new, batch)
    assert int(new.step) == 16
    assert float(metrics["Loss/G_pixel"]) < 0.7 * first


def test_stop_and_resume_through_the_loop_is_bit_identical_to_a_straight_run(tmp_path):
    config = tiny_config()
    stopped = train_and_evaluate(config, tmp_path / "run", eval_fn=stop_at(N))
    assert int(stopped.step) == N
    with Checkpointer(tmp_path / "run" / "checkpoints", read_only=True) as ckpt:
        assert ckpt.all_steps() == [N] and ckpt.read_meta(N)["data_batches"] == N
    resumed = jax.device_get(train_and_evaluate(config, tmp_path / "run", eval_fn=no_eval))
    straight = jax.device_get(train_and_evaluate(config, tmp_path / "straight", eval_fn=no_eval))
    assert int(resumed.step) == 2 * N and set(resumed.nets) == {"G", "D"}
    assert_trees_equal(resumed, straight)  # params, BatchNorm statistics, Adam moments, RNG key
    assert metric_rows(tmp_path / "run") == metric_rows(tmp_path / "straight")
    assert (tmp_path / "run" / "samples" / f"step_{2 * N:07d}.png").is_file()
    restored = load_run(tmp_path / "straight")  # from the checkpoint alone: the objective's restore target
    assert isinstance(restored.networks, srgan.SRSpec)
    assert_trees_equal(jax.device_get(restored.state), straight)


def test_held_out_images_are_fixed_and_kept_out_of_training():
    from jaxgan.data import build_dataset

    full = build_dataset(tiny_config().data, seed=3)
    train, held = srgan.split_held_out(full, 12)
    kept = train.source.read.indices
    assert train.num_examples == len(set(kept)) == full.num_examples - 12 and held.shape == (12, 8, 8, 1)
    np.testing.assert_array_equal(held, np.delete(full.all_images(), kept, axis=0))
    batch = next(train.batches(8))["x"]  # training batches read only the kept images
    assert all(any(np.array_equal(x, y) for y in full.all_images()[kept]) for x in batch)
    np.testing.assert_array_equal(srgan.split_held_out(build_dataset(tiny_config().data, seed=5), 12)[1], held)


@pytest.mark.parametrize("change, message", [
    (lambda c: setattr(c.srgan, "pixle_weight", 1.0), "unknown config key 'srgan.pixle_weight'"),
    (lambda c: setattr(c.srgan, "feature_weight", 1.0), "needs a feature network: set eval.classifier"),
    (lambda c: setattr(c.srgan, "scale", 3), "power of two"),
    (lambda c: setattr(c.srgan, "downsample", "nearest"), "Unknown srgan.downsample"),
    (lambda c: setattr(c.train, "best_metric", "eval/fid"), "FID needs eval.classifier"),
])
def test_bad_configs_get_one_line_naming_the_key(change, message):
    config = srgan.default_config()
    change(config)
    with pytest.raises((ValueError, JaxganError), match=message) as error:
        validate(config)  # the objectives' check: unknown keys, then srgan's own
    assert "\n" not in str(error.value)
