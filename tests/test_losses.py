"""Adversarial losses equal their textbook formulas, computed by hand with math on python floats."""

import math

import numpy as np
import pytest

from jaxgan import losses

REAL = [1.5, -0.5, 0.2]
FAKE = [-1.0, 0.3, 2.0]


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs):
    return sum(xs) / len(xs)


def close(a, b):
    np.testing.assert_allclose(float(a), b, rtol=1e-5, atol=1e-6)


def test_bce_d_loss_is_minus_log_likelihood():
    expected = mean([-math.log(sigmoid(r)) for r in REAL]) + mean([-math.log(1 - sigmoid(f)) for f in FAKE])
    close(losses.bce_d_loss(np.array(REAL), np.array(FAKE)), expected)


def test_minimax_and_non_saturating_g_losses():
    close(losses.minimax_g_loss(np.array(FAKE)), mean([math.log(1 - sigmoid(f)) for f in FAKE]))
    close(losses.non_saturating_g_loss(np.array(FAKE)), mean([-math.log(sigmoid(f)) for f in FAKE]))


def test_wasserstein_hinge_least_squares():
    r, f = np.array(REAL), np.array(FAKE)
    close(losses.wasserstein_d_loss(r, f), mean(FAKE) - mean(REAL))
    close(losses.wasserstein_g_loss(f), -mean(FAKE))
    close(losses.hinge_d_loss(r, f),
          mean([max(0, 1 - x) for x in REAL]) + mean([max(0, 1 + x) for x in FAKE]))
    close(losses.least_squares_d_loss(r, f),
          0.5 * mean([(x - 1) ** 2 for x in REAL]) + 0.5 * mean([x**2 for x in FAKE]))
    close(losses.least_squares_g_loss(f), 0.5 * mean([(x - 1) ** 2 for x in FAKE]))


def test_bce_losses_stay_finite_at_extreme_logits():
    big = np.array([100.0, -100.0], np.float32)
    assert np.isfinite(float(losses.bce_d_loss(big, big)))
    close(losses.non_saturating_g_loss(np.array([-100.0], np.float32)), 100.0)
    close(losses.minimax_g_loss(np.array([100.0], np.float32)), -100.0)


def test_registry_and_unknown_name():
    assert set(losses.LOSSES) == {"minimax", "non_saturating", "wasserstein", "hinge", "least_squares"}
    with pytest.raises(ValueError, match="Unknown loss 'wgan'.*hinge"):
        losses.get_loss("wgan")
