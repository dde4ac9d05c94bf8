"""The GAN learns: an MLP GAN trained on the ring of 8 Gaussians covers the modes, in float32 and in bf16.

The methods of experiments/configs/mlp_ring8.py (z of size 2, G 128-128-128 and D 128-128 with leaky ReLU,
non-saturating loss, Adam (beta1 0.5) decayed linearly to 1% with D's lr twice G's, instance noise of std 1 annealed
to 0 over 3,000 steps for coverage, samples from an EMA of G for precision), shortened here to 8,000 steps of batch
128 to stay fast. The full recipe (20,000 steps of 256) is measured in docs/results.md. Without the noise the GAN
collapses to 2-4 modes; without the EMA and the decay about 30% of the samples sit on bridges between modes.
"""

import jax
import numpy as np
import pytest
from conftest import load_experiment_config

from jaxgan.data import build_dataset, stack_batches
from jaxgan.engine.multistep import jit_multi_step
from jaxgan.engine.state import create_state
from jaxgan.engine.train_step import sample_latents
from jaxgan.objectives.factory import build_gan, build_train_step

STEPS, K, NUM_SAMPLES = 8000, 200, 2000
HQ_STDS, MIN_COUNT = 3.0, 20  # a mode counts as covered with >= 20 of the 2,000 samples (1%) within 3 std of it


def ring8_config(compute_dtype: str):
    """experiments/configs/mlp_ring8.py's recipe at STEPS steps of batch 128, in `compute_dtype`, without evaluation."""
    c = load_experiment_config("mlp_ring8").get_config()
    assert c.reg.instance_noise_std > 0 and c.ema.decay > 0 and c.optim.d.schedule == "linear"
    c.model.compute_dtype = compute_dtype
    c.train.num_steps, c.train.batch_size = STEPS, 128
    return c


def train_and_sample(config) -> tuple[np.ndarray, object]:
    """Train with K steps per dispatch; return G_ema's samples (float32) and the dataset."""
    dataset = build_dataset(config.data, seed=config.seed)
    gan = build_gan(config, dataset.example_shape)
    step = jit_multi_step(build_train_step(config, gan), K)
    state = jax.jit(lambda: create_state(gan, dataset.example_shape, config.seed, ema=True))()
    batches = stack_batches(stack_batches(dataset.batches(config.train.batch_size), config.n_disc), K)
    for _ in range(STEPS // K):
        state, metrics = step(state, next(batches))
        assert np.isfinite(np.asarray(metrics["Loss/D"])).all()
    z = sample_latents(jax.random.PRNGKey(1000), NUM_SAMPLES, gan.z_dim)
    samples = jax.jit(gan.generate)({"params": state.ema["G"]}, z)
    return np.asarray(samples, np.float32), dataset


def coverage(samples: np.ndarray, modes: np.ndarray, std: float) -> tuple[int, float]:
    """(modes covered, fraction of samples within 3 std of their nearest mode)."""
    distances = np.linalg.norm(samples[:, None] - modes[None], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(samples)), nearest] <= HQ_STDS * std
    counts = np.bincount(nearest[good], minlength=len(modes))
    return int(np.sum(counts >= MIN_COUNT)), float(good.mean())


@pytest.mark.parametrize("compute_dtype", ["float32", "bfloat16"])
def test_mlp_gan_covers_the_ring_of_8_gaussians(compute_dtype):
    samples, dataset = train_and_sample(ring8_config(compute_dtype))
    covered, high_quality = coverage(samples, dataset.modes, dataset.mode_std)
    assert covered >= 7, (covered, high_quality)
    assert high_quality >= 0.8, (covered, high_quality)
