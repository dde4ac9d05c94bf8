"""Discriminator rejection sampling (DRS; Azadi et al. 2019, "Discriminator Rejection Sampling", ICLR).

A D trained with the sigmoid cross-entropy loss has the optimum D*(x) = log p_data(x) / p_G(x) (its logit; §3.1 of
the paper), so G's samples can be thinned toward the data distribution by rejection sampling: keep x with
probability exp(D(x) - D_M), D_M the largest logit seen. DRS keeps x with probability sigmoid(F(x)),

    F(x) = D(x) - D_M - log(1 - exp(D(x) - D_M - eps)) - gamma,

which for gamma = 0 (and eps -> 0) is exactly exp(D(x) - D_M): sigmoid of that probability's logit. gamma shifts
every logit down to trade acceptance for fidelity. D_M and gamma (a percentile of F) are computed once, from a fixed
burn-in set of proposals, so the kept samples' distribution does not depend on how many are requested; D_M is raised
(and gamma recomputed over the burn-in set) when a later proposal scores higher, as in the paper.

Only a sigmoid cross-entropy D estimates that ratio (`check_drs_config` refuses the others). D judges proposals as it
judged fake batches in training: in training mode (BatchNorm with batch statistics), on batches of the training
batch size. `drs_networks` picks the G whose samples are thinned (`eval.drs_generator`) and can train D a few more
steps against it with G fixed (`eval.drs_finetune_steps`, the paper's extra D training on the final G).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.data.device import scale_pixels
from jaxgan.engine.state import GAN, NetState, TrainState, apply_train, update_net
from jaxgan.errors import JaxganError
from jaxgan.sampling.generate import evaluation_noise_key, generator_variables, random_inputs, sample_latents
from jaxgan.terms.losses import SIGMOID_LOSSES, adversarial_logits, bce_d_loss

# propose(key, n) -> (n samples, their n D logits)
ProposeFn = Callable[[jax.Array, int], tuple[np.ndarray, np.ndarray]]
EPS = 1e-6  # the paper's epsilon: keeps log(1 - exp(D - D_M - eps)) finite at D = D_M
DRS_BURN_IN_STREAM = 2**31 - 1  # folded into a seed's key for the burn-in (evaluators fold in 0, 1, ... per batch)
DRS_FINETUNE_STREAM = 2**31 - 2  # folded into a seed's key for the fine-tuning latents
DRS_FINETUNE_BATCH = 2**40  # first real batch index of the fine-tuning data: far past any training batch
MAX_PROPOSALS_PER_SAMPLE = 100  # give up (clear error) rather than loop on a D that rejects nearly everything
GENERATORS = ("live", "ema")  # eval.drs_generator: the G that D trained against, or its EMA (the sampling G)


def check_percentile(percentile: float) -> None:
    """Raise a ValueError unless the gamma percentile is in [0, 100); names the config key and the CLI flag."""
    if not 0 <= percentile < 100:
        raise ValueError(f"The DRS gamma percentile must be in [0, 100) (0 = no shift of F), got {percentile} "
                         "(eval.drs_percentile or --drs-percentile).")


def check_drs_settings(cfg: ml_collections.ConfigDict) -> None:
    """Raise a ValueError naming the `eval.drs_*` key that is out of range."""
    check_percentile(cfg.drs_percentile)
    if cfg.drs_generator not in GENERATORS:
        raise ValueError(f"eval.drs_generator must be one of {GENERATORS}, got {cfg.drs_generator!r}.")
    if cfg.drs_finetune_steps < 0:
        raise ValueError(f"eval.drs_finetune_steps must be >= 0 (0 = D as trained), got {cfg.drs_finetune_steps}.")


def check_drs_config(config: ml_collections.ConfigDict) -> None:
    """Raise a ValueError unless the run's D logit estimates log p_data / p_G, one logit per sample."""
    fix = "set eval.drs=false, or sample and evaluate without --drs"
    loss = config.get("loss", "non_saturating")  # StyleGAN2's objective: the logistic loss, without the key
    if loss not in SIGMOID_LOSSES:
        raise ValueError(f"DRS reads D's logit as log p_data/p_G, which holds only for a D trained with the sigmoid "
                         f"cross-entropy loss, not loss={loss!r}: train with loss = one of "
                         f"{sorted(SIGMOID_LOSSES)}, or {fix}.")
    if config.reg.get("label_smoothing", 0.0) != 0:
        raise ValueError(f"DRS reads D's logit as log p_data/p_G, which label smoothing shifts (reg.label_smoothing="
                         f"{config.reg.label_smoothing}); {fix}.")
    if config.model.d_cond == "acgan":
        raise ValueError(f"DRS needs D's real/fake logit alone, but model.d_cond='acgan' trains it together with a "
                         f"class head; {fix}.")
    if config.model.get("pack", 1) > 1:
        raise ValueError(f"DRS needs one D logit per sample, but model.pack={config.model.pack} (PacGAN) scores "
                         f"packs; {fix}.")


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
    """gamma: the `percentile`-th percentile of the burn-in set's F scores (0 = no shift, plain DRS)."""
    return float(np.percentile(scores, percentile)) if percentile > 0 else 0.0


class RejectionSampler:
    """`sampler(key, n) -> n samples kept by DRS`, drawing proposal batches of `propose` until n are accepted.

    Construction draws the burn-in (`burn_in` proposals, rounded up to whole batches) that fixes D_M and gamma.
    Each call draws batches of `batch_size` proposals from keys folded out of `key`, whatever n is, so one key gives
    the same stream of kept samples and n only decides where it stops. `proposed` and `accepted` count the proposals
    and those DRS kept.
    """

    def __init__(self, propose: ProposeFn, burn_in_key: jax.Array, burn_in: int, percentile: float = 95.0,
                 batch_size: int = 256):
        check_percentile(percentile)
        self.propose, self.percentile, self.batch_size = propose, percentile, batch_size
        _, logits = propose(burn_in_key, math.ceil(burn_in / batch_size) * batch_size)
        self.burn_in_logits = np.asarray(logits, np.float64)
        self.max_logit = -np.inf
        self._raise_max_logit(self.burn_in_logits)
        self.proposed = self.accepted = 0

    def _raise_max_logit(self, logits: np.ndarray) -> None:
        """D_M = the largest logit seen so far; gamma = the percentile of the burn-in set's F under that D_M."""
        if logits.max() > self.max_logit:
            self.max_logit = float(logits.max())
            self.gamma = percentile_gamma(drs_scores(self.burn_in_logits, self.max_logit), self.percentile)

    def __call__(self, key: jax.Array, n: int) -> np.ndarray:
        kept, count, round_ = [], 0, 0
        max_rounds = MAX_PROPOSALS_PER_SAMPLE * math.ceil(n / self.batch_size)
        while count < n:
            if round_ >= max_rounds:
                raise JaxganError(f"DRS kept {count} of {n} samples from {round_ * self.batch_size} proposals: D "
                                  "rejects nearly everything. Lower the gamma percentile (eval.drs_percentile or "
                                  "--drs-percentile) or sample without DRS.")
            proposal_key, uniform_key = jax.random.split(jax.random.fold_in(key, round_))
            samples, logits = self.propose(proposal_key, self.batch_size)
            logits = np.asarray(logits, np.float64)
            self._raise_max_logit(logits)
            keep_prob = acceptance_probability(logits, self.max_logit, self.gamma)
            keep = np.asarray(jax.random.uniform(uniform_key, (self.batch_size,))) < keep_prob
            kept.append(np.asarray(samples)[keep])
            count += int(keep.sum())
            round_ += 1
            self.proposed += self.batch_size
            self.accepted += int(keep.sum())
        return np.concatenate(kept)[:n]

    @property
    def acceptance_rate(self) -> float:
        """The fraction of proposals DRS kept (NaN before the first call)."""
        return self.accepted / self.proposed if self.proposed else float("nan")


def make_training_mode_discriminate(gan: GAN, batch_size: int) -> Callable[..., jax.Array]:
    """`discriminate(d_variables, x, labels=None) -> logits`: D as it judged fake batches in training.

    Training mode (BatchNorm's batch statistics, a minibatch-std layer's batch) on batches of exactly `batch_size`
    (the training batch), D's collection updates discarded; n must be a multiple of `batch_size`.
    """

    def forward(variables: dict, x: jax.Array, labels: jax.Array | None) -> jax.Array:
        mutable = [name for name in variables if name != "params"]
        out = gan.discriminator.apply(variables, x, labels, train=True, mutable=mutable or False)
        return out[0] if mutable else out

    forward = jax.jit(forward)

    def discriminate(d_variables: dict, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        if x.shape[0] % batch_size:
            raise ValueError(f"DRS scores whole training batches of {batch_size}, got {x.shape[0]} samples.")
        batches = range(0, x.shape[0], batch_size)
        return jnp.concatenate([forward(d_variables, x[i:i + batch_size],
                                        None if labels is None else labels[i:i + batch_size]) for i in batches])

    return discriminate


def gan_proposer(gan: GAN, generate: Callable, discriminate: Callable, g_variables: dict,
                 d_variables: dict, label_probs: Sequence[float] | None = None) -> ProposeFn:
    """Proposals of G scored by `discriminate`: random latents and per-layer noise, and a conditional G's labels
    drawn from `label_probs` (the training set's class shares; uniform without them), as the evaluation draws them.

    `generate` is `jaxgan.sampling.generate.make_batched_generate(gan)` and `discriminate`
    `make_training_mode_discriminate`, built once by the caller so repeated samplers reuse one compile.
    """

    def propose(key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        z, labels = random_inputs(gan, key, n, label_probs)
        samples = generate(g_variables, z, labels, noise_key=evaluation_noise_key(key))
        return samples, discriminate(d_variables, samples, labels)

    return propose


def drs_networks(cfg: ml_collections.ConfigDict, gan: GAN, state: TrainState,
                 real_batches: Callable[[], Iterator[dict]]) -> tuple[dict, dict]:
    """(G's variables, D's variables) for DRS: the G of `cfg.drs_generator`, and D, trained
    `cfg.drs_finetune_steps` more steps against that G (G fixed) on `real_batches()` when that is > 0."""
    g_variables = state.nets["G"].variables() if cfg.drs_generator == "live" else generator_variables(state, gan)
    d = state.nets["D"]
    if cfg.drs_finetune_steps > 0:
        key = jax.random.fold_in(jax.random.key(cfg.seed), DRS_FINETUNE_STREAM)
        d = finetune_discriminator(gan, d, g_variables, real_batches(), cfg.drs_finetune_steps, key)
    return g_variables, d.variables()


def finetune_discriminator(gan: GAN, d: NetState, g_variables: dict, real_batches: Iterator[dict], steps: int,
                           key: jax.Array) -> NetState:
    """D after `steps` more steps of its optimizer on the sigmoid cross-entropy loss against the fixed G of
    `g_variables`: the paper's extra D training on the G that DRS samples from."""

    @jax.jit
    def step(d: NetState, real: jax.Array, labels: jax.Array | None, key: jax.Array) -> NetState:
        fake = gan.generate(g_variables, sample_latents(key, real.shape[0], gan.z_dim), labels)

        def loss_fn(params):
            real_out, collections = apply_train(gan.discriminator, d, real, labels, params=params)
            fake_out, collections = apply_train(gan.discriminator, d.replace(collections=collections), fake,
                                                labels, params=params)
            return jnp.mean(bce_d_loss(adversarial_logits(real_out), adversarial_logits(fake_out))), collections

        grads, collections = jax.grad(loss_fn, has_aux=True)(d.params)
        return update_net(gan.d_tx, d.replace(collections=collections), grads)

    for i in range(steps):
        batch = next(real_batches)
        d = step(d, scale_pixels(jnp.asarray(batch["x"])), batch.get("label"), jax.random.fold_in(key, i))
    return d
