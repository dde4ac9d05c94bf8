"""Discriminator rejection sampling (DRS; Azadi et al. 2019, "Discriminator Rejection Sampling", ICLR).

A trained D's logit estimates log p_data(x) / p_G(x) up to a constant, so G's samples can be thinned toward the data
distribution by rejection sampling: keep x with probability exp(D(x) - D_M), D_M the largest logit seen. DRS keeps
x with probability sigmoid(F(x)),

    F(x) = D(x) - D_M - log(1 - exp(D(x) - D_M - eps)) - gamma,

which for gamma = 0 (and eps -> 0) is exactly exp(D(x) - D_M): sigmoid of that probability's logit. gamma shifts
every logit down to trade acceptance for fidelity; as in the paper it is set per proposal batch to a percentile of
F. D_M is first estimated from a burn-in of proposals and then raised whenever a batch exceeds it.

Where D is far from its optimum (mid-training, or an ADA/augmented D) the ratio is only approximate, so DRS samples
are reported beside G's own (`eval.drs`, jaxgan.training_eval).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from jaxgan.errors import JaxganError
from jaxgan.sampling import random_inputs
from jaxgan.state import GAN

# propose(key, n) -> (n samples, their n D logits)
ProposeFn = Callable[[jax.Array, int], tuple[np.ndarray, np.ndarray]]
EPS = 1e-6  # the paper's epsilon: keeps log(1 - exp(D - D_M - eps)) finite at D = D_M
DRS_BURN_IN_STREAM = 2**31 - 1  # folded into a seed's key for the burn-in (evaluators fold in 0, 1, ... per batch)
MAX_PROPOSALS_PER_SAMPLE = 100  # give up (clear error) rather than loop on a D that rejects nearly everything


def check_percentile(percentile: float) -> None:
    """Raise a ValueError unless the gamma percentile is in [0, 100); names the config key and the CLI flag."""
    if not 0 <= percentile < 100:
        raise ValueError(f"The DRS gamma percentile must be in [0, 100) (0 = no shift of F), got {percentile} "
                         "(eval.drs_percentile or --drs-percentile).")


def check_one_logit_per_sample(pack: int) -> None:
    """Raise a ValueError for a packed D (PacGAN): DRS needs one D logit per sample, a packed D scores packs."""
    if pack > 1:
        raise ValueError(f"DRS needs one D logit per sample, but model.pack={pack} (PacGAN) scores packs; set "
                         "eval.drs=false, or sample and evaluate without --drs.")


def drs_scores(logits: np.ndarray, max_logit: float, gamma: float = 0.0, eps: float = EPS) -> np.ndarray:
    """F(x) of DRS for D's `logits` (each <= `max_logit`), shifted down by `gamma`."""
    shifted = np.asarray(logits, np.float64) - max_logit
    return shifted - np.log1p(-np.exp(shifted - eps)) - gamma


def acceptance_probability(logits: np.ndarray, max_logit: float, gamma: float = 0.0,
                           eps: float = EPS) -> np.ndarray:
    """sigmoid(F(x)): the probability that DRS keeps each sample."""
    return _sigmoid(drs_scores(logits, max_logit, gamma, eps))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def percentile_gamma(scores: np.ndarray, percentile: float) -> float:
    """gamma for one proposal batch: the `percentile`-th percentile of its F scores (0 = no shift, plain DRS)."""
    return float(np.percentile(scores, percentile)) if percentile > 0 else 0.0


class RejectionSampler:
    """`sampler(key, n) -> n samples kept by DRS`, drawing proposals of `propose` until n are accepted.

    The burn-in sets D_M once at construction; each call then draws proposal batches of n from keys folded out of
    `key`, so one key gives the same samples. `proposed` and `accepted` count the proposals and those DRS kept.
    """

    def __init__(self, propose: ProposeFn, burn_in_key: jax.Array, burn_in: int, percentile: float = 95.0):
        check_percentile(percentile)
        self.propose, self.percentile = propose, percentile
        _, logits = propose(burn_in_key, burn_in)
        self.max_logit = float(np.max(logits))
        self.proposed = self.accepted = 0

    def __call__(self, key: jax.Array, n: int) -> np.ndarray:
        kept, count, round_ = [], 0, 0
        while count < n:
            if round_ >= MAX_PROPOSALS_PER_SAMPLE:
                raise JaxganError(f"DRS kept {count} of {n} samples from {round_ * n} proposals: D rejects nearly "
                                   "everything. Lower the gamma percentile (eval.drs_percentile or --drs-percentile) "
                                   "or sample without DRS.")
            proposal_key, uniform_key = jax.random.split(jax.random.fold_in(key, round_))
            samples, logits = self.propose(proposal_key, n)
            logits = np.asarray(logits, np.float64)
            self.max_logit = max(self.max_logit, float(logits.max()))
            scores = drs_scores(logits, self.max_logit)
            keep_prob = _sigmoid(scores - percentile_gamma(scores, self.percentile))
            keep = np.asarray(jax.random.uniform(uniform_key, (n,))) < keep_prob
            kept.append(np.asarray(samples)[keep])
            count += int(keep.sum())
            round_ += 1
            self.proposed += n
            self.accepted += int(keep.sum())
        return np.concatenate(kept)[:n]

    @property
    def acceptance_rate(self) -> float:
        """The fraction of proposals DRS kept (NaN before the first call)."""
        return self.accepted / self.proposed if self.proposed else float("nan")


def gan_proposer(gan: GAN, generate: Callable, discriminate: Callable, g_variables: dict,
                 d_variables: dict) -> ProposeFn:
    """Proposals of G (random latents, uniform labels for a conditional G) scored by D in inference mode.

    `generate` and `discriminate` are `jaxgan.sampling.make_batched_generate(gan)` and `make_batched_discriminate(gan)`,
    built once by the caller so repeated samplers reuse one compile.
    """

    def propose(key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        z, labels = random_inputs(gan, key, n)
        samples = generate(g_variables, z, labels)
        return samples, discriminate(d_variables, samples, labels)

    return propose

