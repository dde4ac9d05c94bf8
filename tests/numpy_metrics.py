"""Sample metrics written out in numpy/scipy from their papers, as references independent of jaxgan.metrics.

FID uses pytorch-fid's route (`scipy.linalg.sqrtm` of the product of covariances), KID the cubic polynomial
kernel and the unbiased MMD^2 estimator written out with masks, IS the per-split KL with scipy's softmax,
precision/recall the k-th neighbour balls from scipy's pairwise distances, and mode coverage the nearest-centre
assignment. Float64 throughout.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import scipy.spatial.distance
import scipy.special


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (np.cov, rows are samples) in float64."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fid_scipy(mu1, sigma1, mu2, sigma2) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)) (Heusel et al. 2017) via scipy.linalg.sqrtm, real part."""
    with warnings.catch_warnings():  # ReLU features have dead dimensions, so the product is singular; sqrtm copes
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(np.asarray(sigma1, np.float64) @ np.asarray(sigma2, np.float64))
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(np.real(covmean)))


def mmd2_polynomial(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 under k(a, b) = (a.b / d + 1)^3 (Binkowski et al. 2018): the i != j sums over m(m - 1)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, d = len(x), x.shape[1]
    off_diagonal = ~np.eye(m, dtype=bool)
    k_xx, k_yy, k_xy = ((a @ b.T / d + 1.0) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    return float(k_xx[off_diagonal].sum() / (m * (m - 1)) + k_yy[off_diagonal].sum() / (m * (m - 1))
                 - 2.0 * k_xy.sum() / (m * m))


def kid_numpy(x: np.ndarray, y: np.ndarray, num_subsets: int, subset_size: int, seed: int) -> tuple[float, float]:
    """Mean and population std of MMD^2 over subsets drawn without replacement as torch-fidelity draws them."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        ix, iy = rng.choice(len(x), subset_size, replace=False), rng.choice(len(y), subset_size, replace=False)
        values.append(mmd2_polynomial(x[ix], y[iy]))
    return float(np.mean(values)), float(np.std(values))


def inception_score_numpy(logits: np.ndarray, splits: int) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per contiguous split (Salimans et al. 2016), mean and population std."""
    p = scipy.special.softmax(np.asarray(logits, np.float64), axis=1)
    n = len(p)
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        kl = np.sum(part * (np.log(part) - np.log(part.mean(axis=0))), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def precision_recall_numpy(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkaanniemi et al. 2019: the share of each set inside the other's union of k-th-neighbour balls."""
    def inside(queries, centres):
        radii = np.sort(scipy.spatial.distance.cdist(centres, centres), axis=1)[:, k]  # column 0 is the point itself
        return float(np.mean(np.any(scipy.spatial.distance.cdist(queries, centres) <= radii[None, :], axis=1)))

    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    return inside(fake, real), inside(real, fake)


def mode_coverage_numpy(points: np.ndarray, centres: np.ndarray, std: float, min_count: int) -> tuple[float, float]:
    """(modes with >= min_count samples within 3 std of them, share of such samples), PacGAN's definitions."""
    distances = np.linalg.norm(np.asarray(points, np.float64)[:, None] - np.asarray(centres)[None], axis=-1)
    nearest, good = distances.argmin(axis=1), distances.min(axis=1) <= 3.0 * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    return float(np.sum(counts >= min_count)), float(good.mean())
