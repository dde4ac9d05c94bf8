"""Metrics on feature arrays against direct numpy/scipy computations."""

import itertools
import math

import jax
import numpy as np
import pytest
import scipy.linalg

from jaxgan.metrics import frechet, kid, stats
from jaxgan.metrics.inception_score import inception_score
from jaxgan.metrics.mode_coverage import mode_coverage
from jaxgan.metrics.precision_recall import precision_recall


def _features(rng, n, d, shift=0.0):
    """Return correlated Gaussian features (n, d) with mean `shift`."""
    mixing = rng.standard_normal((d, d)) / math.sqrt(d)
    return rng.standard_normal((n, d)) @ mixing + shift


def _moments(x):
    """Return (mean, np.cov) of (n, d) features."""
    return x.mean(0), np.cov(x, rowvar=False)


def _fid_scipy(mu1, sigma1, mu2, sigma2):
    """pytorch-fid's calculate_frechet_distance: scipy.linalg.sqrtm of the product."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    diff = mu1 - mu2
    return diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real)


# ----------------------------------------------------------------------------- Fréchet distance
@pytest.mark.parametrize("n, d", [(400, 16), (300, 128)])
def test_fid_matches_scipy_sqrtm_route(n, d):
    rng = np.random.default_rng(d)
    a = _features(rng, n, d)
    b = 0.8 * _features(rng, n, d, shift=0.3)
    want = _fid_scipy(*_moments(a), *_moments(b))
    got = frechet.frechet_distance(*_moments(a), *_moments(b))
    assert got == pytest.approx(want, rel=1e-3)
    assert frechet.frechet_distance_from_features(a, b) == pytest.approx(want, rel=1e-3)


def test_fid_of_a_set_with_itself_is_zero():
    a = _features(np.random.default_rng(0), 500, 64)
    mu, sigma = _moments(a)
    assert abs(frechet.frechet_distance(mu, sigma, mu, sigma)) < 1e-8 * np.trace(sigma)


def test_fid_grows_monotonically_with_a_shift():
    rng = np.random.default_rng(1)
    a = _features(rng, 600, 32)
    direction = rng.standard_normal(32)
    noise = rng.standard_normal(a.shape)
    fids = [frechet.frechet_distance_from_features(a, a + s * direction + 0.1 * s * noise)
            for s in (0.0, 0.05, 0.2, 0.5, 1.0, 2.0)]
    assert fids[0] == pytest.approx(0.0, abs=1e-8)
    assert all(x < y for x, y in itertools.pairwise(fids))


def test_fid_of_a_pure_mean_shift_is_its_squared_norm():
    rng = np.random.default_rng(2)
    mu, sigma = _moments(_features(rng, 300, 24))
    shift = rng.standard_normal(24)
    assert frechet.frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(shift @ shift)


def test_fid_device_route_agrees_in_float64_and_float32():
    rng = np.random.default_rng(3)
    moments = (*_moments(_features(rng, 300, 16)), *_moments(_features(rng, 300, 16, 0.5)))
    want = frechet.frechet_distance(*moments)
    with jax.enable_x64(True):
        got64 = float(frechet.frechet_distance_device(*(jax.numpy.asarray(m) for m in moments)))
    got32 = float(frechet.frechet_distance_device(*(np.float32(m) for m in moments)))
    assert got64 == pytest.approx(want, rel=1e-9)
    assert got32 == pytest.approx(want, rel=1e-3)


def test_fid_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        frechet.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ----------------------------------------------------------------------------- KID
def _mmd2_double_loop(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, written as explicit sums."""
    k = lambda a, b: (a @ b / len(a) + 1.0) ** 3
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_a_double_loop_over_subsets():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((15, 5)).astype(np.float32)
    y = (rng.standard_normal((13, 5)) + 0.5).astype(np.float32)
    draw = np.random.default_rng(7)
    want = []
    for _ in range(4):  # the evaluator's draw order: x subset, then y subset, per subset
        ix, iy = draw.choice(15, 9, replace=False), draw.choice(13, 9, replace=False)
        want.append(_mmd2_double_loop(x[ix].astype(np.float64), y[iy].astype(np.float64)))
    mean, std = kid.kernel_inception_distance(x, y, num_subsets=4, subset_size=9, seed=7)
    assert mean == pytest.approx(np.mean(want), rel=1e-4)
    assert std == pytest.approx(np.std(want), rel=1e-3)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(5)
    mixing = rng.standard_normal((32, 32)) / math.sqrt(32)
    a, b = rng.standard_normal((2, 400, 32)) @ mixing  # two draws from one distribution
    same, same_std = kid.kernel_inception_distance(a, b, num_subsets=10, subset_size=200)
    mean, _ = kid.kernel_inception_distance(a, b + 1.0, num_subsets=10, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-6
    assert mean > 100 * abs(same)


def test_kid_rejects_a_subset_larger_than_the_sets():
    with pytest.raises(ValueError, match="subset_size"):
        kid.kernel_inception_distance(np.zeros((10, 3)), np.zeros((20, 3)), subset_size=11)


# ----------------------------------------------------------------------------- Inception Score
def _is_direct(logits, splits):
    """The improved-GAN reference code, in float64 numpy."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n, scores = len(p), []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        kl = part * (np.log(part) - np.log(part.mean(0, keepdims=True)))
        scores.append(np.exp(kl.sum(1).mean()))
    return np.mean(scores), np.std(scores)


def test_inception_score_matches_the_direct_formula():
    logits = 3.0 * np.random.default_rng(6).standard_normal((100, 7))
    mean, std = inception_score(logits, splits=3)
    want_mean, want_std = _is_direct(logits, 3)
    assert mean == pytest.approx(want_mean, rel=1e-5)
    assert std == pytest.approx(want_std, rel=1e-3, abs=1e-6)


def test_inception_score_bounds():
    confident = 50.0 * np.tile(np.eye(10), (5, 1))  # each class equally often, p(y|x) one-hot
    assert inception_score(confident, splits=1)[0] == pytest.approx(10.0, rel=1e-4)
    assert inception_score(np.zeros((40, 10)), splits=4) == pytest.approx((1.0, 0.0))


# ----------------------------------------------------------------------------- precision/recall
def _pr_brute_force(real, fake, k):
    """Kynkäänniemi et al. with full float64 distance matrices."""
    dist = lambda a, b: np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    real_radii = np.sort(dist(real, real), axis=1)[:, k]
    fake_radii = np.sort(dist(fake, fake), axis=1)[:, k]
    precision = np.mean((dist(fake, real) <= real_radii[None, :]).any(1))
    recall = np.mean((dist(real, fake) <= fake_radii[None, :]).any(1))
    return precision, recall


def test_precision_recall_match_brute_force():
    rng = np.random.default_rng(8)
    real = rng.standard_normal((120, 8)).astype(np.float32)
    fake = (1.3 * rng.standard_normal((90, 8)) + 0.4).astype(np.float32)
    got = precision_recall(real, fake, k=3, block_size=32)
    want = _pr_brute_force(real.astype(np.float64), fake.astype(np.float64), 3)
    assert got == pytest.approx(want)
    assert 0.0 < got[0] < 1.0 and 0.0 < got[1] < 1.0


def test_precision_recall_extremes():
    real = np.random.default_rng(9).standard_normal((50, 4)).astype(np.float32)
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)


# ----------------------------------------------------------------------------- mode coverage
GRID = np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], np.float64)
STD = 0.05


def _around(rng, centres, per_mode):
    """Return `per_mode` samples within 2 std of each centre."""
    noise = rng.uniform(-1.4, 1.4, (len(centres), per_mode, 2)) * STD
    return (centres[:, None, :] + noise).reshape(-1, 2)


def test_mode_coverage_all_modes():
    samples = _around(np.random.default_rng(10), GRID, 100)
    got = mode_coverage(samples, GRID, STD)
    assert got == {"modes_captured": 25.0, "hq_fraction": 1.0, "mode_kl": pytest.approx(0.0)}


def test_mode_coverage_half_the_modes_and_junk():
    rng = np.random.default_rng(11)
    good = _around(rng, GRID[:12], 100)
    junk = rng.uniform(-5, 5, (1200, 2))
    junk = junk[np.min(np.linalg.norm(junk[:, None] - GRID[None], axis=-1), 1) > 3 * STD]
    got = mode_coverage(np.concatenate([good, junk]), GRID, STD)
    assert got["modes_captured"] == 12.0
    assert got["hq_fraction"] == pytest.approx(1200 / (1200 + len(junk)))
    assert got["mode_kl"] == pytest.approx(math.log(25 / 12))


def test_mode_coverage_min_count_and_empty():
    rng = np.random.default_rng(12)
    samples = np.concatenate([_around(rng, GRID[:1], 20), _around(rng, GRID[1:2], 19)])
    assert mode_coverage(samples, GRID, STD)["modes_captured"] == 1.0
    assert mode_coverage(samples, GRID, STD, min_count=19)["modes_captured"] == 2.0
    empty = mode_coverage(np.full((5, 2), 1.0), GRID, STD)
    assert empty["hq_fraction"] == 0.0 and math.isnan(empty["mode_kl"])


# ----------------------------------------------------------------------------- streaming stats
def test_streaming_stats_equal_all_at_once():
    rng = np.random.default_rng(13)
    x = (_features(rng, 257, 12) + 50.0).astype(np.float32)  # an offset tests the centred update
    running = stats.FeatureStats.empty(12)
    for start, stop in [(0, 1), (1, 64), (64, 200), (200, 257)]:
        running = running.update(x[start:stop])
    x64 = x.astype(np.float64)
    assert running.count == 257
    np.testing.assert_allclose(running.mean, x64.mean(0), rtol=1e-6)
    np.testing.assert_allclose(running.covariance(), np.cov(x64, rowvar=False), rtol=1e-4,
                               atol=1e-5)
    batched = stats.stats_of(x[i : i + 50] for i in range(0, 257, 50))
    np.testing.assert_allclose(batched.covariance(), running.covariance(), rtol=1e-5, atol=1e-6)


def test_reference_stats_cache_round_trip_and_key_check(tmp_path):
    key = stats.cache_key(dataset="cifar10", split="train", resolution=32, extractor="inception")
    path = stats.reference_stats_path(tmp_path, **key)
    assert path.name == "cifar10_train_32px_inception.npz"
    rng = np.random.default_rng(14)
    ref = stats.ReferenceStats(rng.standard_normal(4), np.eye(4), 10,
                               rng.standard_normal((10, 4)).astype(np.float32), key)
    stats.save_reference_stats(path, ref)
    back = stats.load_reference_stats(path, expected_key=key)
    np.testing.assert_array_equal(back.mu, ref.mu)
    np.testing.assert_array_equal(back.features, ref.features)
    assert (back.count, back.key) == (10, key)
    with pytest.raises(ValueError, match="extractor='inception', not 'digits'"):
        stats.load_reference_stats(path, expected_key={**key, "extractor": "digits"})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        stats.load_reference_stats(tmp_path / "missing.npz")


def test_pytorch_fid_statistics_files_load(tmp_path):
    path = tmp_path / "fid_stats.npz"
    np.savez(path, mu=np.ones(3), sigma=np.eye(3))
    loaded = stats.load_reference_stats(path, expected_key={"extractor": "inception"})
    assert loaded.features is None and loaded.key == {}


def test_frechet_distance_of_non_finite_statistics_is_one_named_error():
    from jaxgan.metrics.frechet import frechet_distance

    mu, sigma = np.zeros(3), np.eye(3)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="the reference covariance hold NaN or infinity"):
        frechet_distance(mu, sigma, mu, np.full((3, 3), np.inf))
