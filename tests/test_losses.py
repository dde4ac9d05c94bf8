"""Adversarial losses equal their textbook formulas, computed by hand with math on python floats."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.terms import losses

REAL = [1.5, -0.5, 0.2]
FAKE = [-1.0, 0.3, 2.0]


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs):
    return sum(xs) / len(xs)


def close(a, b):
    """The batch mean of the per-example losses `a` equals `b`."""
    assert np.ndim(a) == 1
    np.testing.assert_allclose(float(np.mean(a)), b, rtol=1e-5, atol=1e-6)


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
    assert np.all(np.isfinite(losses.bce_d_loss(big, big)))
    close(losses.non_saturating_g_loss(np.array([-100.0], np.float32)), 100.0)
    close(losses.minimax_g_loss(np.array([100.0], np.float32)), -100.0)


def test_registry_and_unknown_name():
    assert set(losses.LOSSES) == {"minimax", "non_saturating", "wasserstein", "hinge", "least_squares",
                                  "relativistic_average", "relativistic_pairing"}
    with pytest.raises(ValueError, match="Unknown loss 'wgan'.*hinge"):
        losses.get_loss("wgan")


def test_relativistic_average_gan_matches_jolicoeur_martineau_eq_11_and_12_by_hand():
    r, f = np.array(REAL, np.float32), np.array(FAKE, np.float32)
    loss = losses.get_loss("relativistic_average")
    # D~(x_r) = sigmoid(C(x_r) - mean C(x_f)), D~(x_f) = sigmoid(C(x_f) - mean C(x_r)).
    d_real = [sigmoid(x - mean(FAKE)) for x in REAL]
    d_fake = [sigmoid(x - mean(REAL)) for x in FAKE]
    close(loss.d_loss(r, f), mean([-math.log(p) for p in d_real]) + mean([-math.log(1 - p) for p in d_fake]))
    close(loss.g_loss(r, f), mean([-math.log(p) for p in d_fake]) + mean([-math.log(1 - p) for p in d_real]))


def rasgan_by_hand(real, fake):
    """RaSGAN's D loss in float64 numpy (Jolicoeur-Martineau 2019, eq. 11): the batch means are part of the loss."""
    softplus = lambda t: np.log1p(np.exp(t))
    return np.mean(softplus(-(real - fake.mean()))) + np.mean(softplus(fake - real.mean()))


def finite_difference(f, x, eps=1e-6):
    """Central differences of the scalar f at x, one coordinate at a time."""
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step.flat[i] = eps
        grad.flat[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def test_relativistic_average_gradients_flow_through_the_batch_means_finite_differences():
    """Each logit's gradient has a direct term and one through the other side's batch mean (D's loss w.r.t. the
    reals moves through mean(real) in the fake term; G's w.r.t. the fakes through mean(fake))."""
    r, f = np.array(REAL, np.float64), np.array(FAKE, np.float64)
    loss = losses.get_loss("relativistic_average")
    grad = lambda fn, side: np.asarray(jax.grad(lambda *a: jnp.mean(fn(*a)), argnums=side)(jnp.asarray(r, jnp.float32),
                                                                  jnp.asarray(f, jnp.float32)))
    g_by_hand = lambda real, fake: rasgan_by_hand(fake, real)  # G's loss: real and fake swapped
    for name, ours, by_hand in (("D", loss.d_loss, rasgan_by_hand), ("G", loss.g_loss, g_by_hand)):
        want_real = finite_difference(lambda x, by_hand=by_hand: by_hand(x, f), r)
        want_fake = finite_difference(lambda x, by_hand=by_hand: by_hand(r, x), f)
        np.testing.assert_allclose(grad(ours, 0), want_real, rtol=1e-4, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(grad(ours, 1), want_fake, rtol=1e-4, atol=1e-6, err_msg=name)


def test_relativistic_pairing_gan_pairs_real_and_fake_by_index_by_hand():
    r, f = np.array(REAL, np.float32), np.array(FAKE, np.float32)
    loss = losses.get_loss("relativistic_pairing")
    close(loss.d_loss(r, f), mean([-math.log(sigmoid(a - b)) for a, b in zip(REAL, FAKE, strict=True)]))
    close(loss.g_loss(r, f), mean([-math.log(sigmoid(b - a)) for a, b in zip(REAL, FAKE, strict=True)]))
    # Pairs, not averages: reversing the fakes changes the loss (RaSGAN would not notice).
    assert abs(float(jnp.mean(loss.d_loss(r, f[::-1]))) - float(jnp.mean(loss.d_loss(r, f)))) > 1e-3


def test_every_g_loss_sees_both_sides_and_the_classic_ones_ignore_the_real_side():
    r, f = np.array(REAL, np.float32), np.array(FAKE, np.float32)
    for name, loss in losses.LOSSES.items():
        moved = not np.array_equal(loss.g_loss(r + 1.0, f), loss.g_loss(r, f))
        assert moved == name.startswith("relativistic"), name
    close(losses.get_loss("non_saturating").g_loss(r, f), mean([-math.log(sigmoid(x)) for x in FAKE]))


def test_every_loss_gives_one_value_per_example_by_hand():
    """Optax style: example i's value from its own logits (and, for RaSGAN, the batch means), by hand."""
    r, f = np.array(REAL, np.float32), np.array(FAKE, np.float32)
    sp = lambda t: math.log1p(math.exp(t))  # softplus
    mr, mf = mean(REAL), mean(FAKE)
    by_hand = {
        "minimax": ([sp(-a) + sp(b) for a, b in zip(REAL, FAKE, strict=True)], [-sp(b) for b in FAKE]),
        "non_saturating": ([sp(-a) + sp(b) for a, b in zip(REAL, FAKE, strict=True)], [sp(-b) for b in FAKE]),
        "wasserstein": ([b - a for a, b in zip(REAL, FAKE, strict=True)], [-b for b in FAKE]),
        "hinge": ([max(0, 1 - a) + max(0, 1 + b) for a, b in zip(REAL, FAKE, strict=True)], [-b for b in FAKE]),
        "least_squares": ([0.5 * (a - 1) ** 2 + 0.5 * b**2 for a, b in zip(REAL, FAKE, strict=True)],
                          [0.5 * (b - 1) ** 2 for b in FAKE]),
        "relativistic_average": ([sp(-(a - mf)) + sp(b - mr) for a, b in zip(REAL, FAKE, strict=True)],
                                 [sp(-(b - mr)) + sp(a - mf) for a, b in zip(REAL, FAKE, strict=True)]),
        "relativistic_pairing": ([sp(-(a - b)) for a, b in zip(REAL, FAKE, strict=True)],
                                 [sp(-(b - a)) for a, b in zip(REAL, FAKE, strict=True)]),
    }
    assert set(by_hand) == set(losses.LOSSES)
    for name, (d_want, g_want) in by_hand.items():
        loss = losses.get_loss(name)
        np.testing.assert_allclose(np.asarray(loss.d_loss(r, f)), d_want, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(np.asarray(loss.g_loss(r, f)), g_want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_patch_map_gives_each_example_the_mean_of_its_own_patches():
    """A PatchGAN D's logits [N, 2, 2, 1]: example i's loss is the mean of its 4 patches' losses."""
    real = np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1) / 4 - 1
    fake = -real[::-1]
    got = np.asarray(losses.bce_d_loss(real, fake))
    sp = lambda t: np.log1p(np.exp(t))
    want = [np.mean(sp(-real[i])) + np.mean(sp(fake[i])) for i in range(2)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
