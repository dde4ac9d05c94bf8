"""Optimizers and learning-rate schedules from the `optim.g` / `optim.d` config blocks, built with optax.

The block's keys and defaults (`default_config`) and its checks (`validate`) live here, beside the code that reads
them; `jaxgan.config` only places one block per network.
"""

from __future__ import annotations

import logging

import ml_collections
import optax

from jaxgan.errors import check_choice

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "linear", "cosine")
# RMSprop's eps: "inside" the square root, g / sqrt(nu + eps) (optax's default), or "outside" it,
# g / (sqrt(nu) + eps) (PyTorch's torch.optim.RMSprop, so what PyTorch papers' code ran).
EPS_PLACEMENTS = ("inside", "outside")
LR_WARNING = 1.0  # a peak learning rate above this is almost surely a typo for GANs (they train at 1e-5..1e-3)


def default_config(lr: float = 2e-4, name: str = "adam", b1: float = 0.5, b2: float = 0.999
                   ) -> ml_collections.ConfigDict:
    """One optimizer block; G and D each get their own (two time-scale learning rates)."""
    return ml_collections.ConfigDict(dict(
        name=name,          # sgd | momentum | nesterov | adam | adamw | rmsprop
        lr=lr,              # peak learning rate
        b1=b1,              # Adam beta1 (0.5 in DCGAN)
        b2=b2,              # Adam beta2; RMSprop decay
        eps=1e-8,           # Adam/RMSprop epsilon
        eps_placement="inside",  # RMSprop: "inside" sqrt g/sqrt(nu+eps) (optax) | "outside" g/(sqrt(nu)+eps) (PyTorch)
        momentum=0.9,       # for momentum and nesterov
        weight_decay=0.0,   # for adamw
        schedule="constant",  # constant | linear | cosine (decays to lr * end_factor by the end of the run)
        warmup_steps=0,     # linear warm-up from 0, in this optimizer's updates
        end_factor=0.0,     # final lr as a fraction of lr, for linear and cosine
        decay_fraction=1.0,  # linear and cosine decay over this last fraction of the run, lr before (pix2pix: 0.5)
        grad_clip=0.0,      # clip by global norm when > 0
    ))


def validate(cfg: ml_collections.ConfigDict, key: str = "optim.*", warn: bool = True) -> None:
    """Check one optimizer block: its name and schedule, lr > 0 (warn above LR_WARNING), betas in [0, 1), warm-up."""
    check_choice(cfg.name, OPTIMIZERS, f"{key}.name")
    check_choice(cfg.schedule, SCHEDULES, f"{key}.schedule")
    check_eps_placement(cfg.get("eps_placement", "inside"), key)
    if not cfg.lr > 0:
        raise ValueError(f"{key}.lr must be > 0, got {cfg.lr}.")
    if warn and cfg.lr > LR_WARNING:
        logging.getLogger(__name__).warning(
            "%s.lr=%g is far above the usual GAN rates (1e-5..1e-3); such a run usually diverges or dies (D "
            "saturates). Lower it unless you mean it.", key, cfg.lr)
    for beta in ("b1", "b2"):
        if not 0.0 <= cfg[beta] < 1.0:
            raise ValueError(f"{key}.{beta} must be in [0, 1) (an exponential decay rate), got {cfg[beta]}; "
                             "Adam's usual values are b1=0.5 or 0.9 and b2=0.999.")
    if cfg.warmup_steps < 0:
        raise ValueError(f"{key}.warmup_steps must be >= 0 (0 = no warm-up), got {cfg.warmup_steps}.")
    if not 0.0 <= cfg.end_factor <= 1.0:
        raise ValueError(f"{key}.end_factor must be in [0, 1] (the final lr as a fraction of lr), got "
                         f"{cfg.end_factor}.")
    if not 0.0 <= cfg.get("decay_fraction", 1.0) <= 1.0:
        raise ValueError(f"{key}.decay_fraction must be in [0, 1] (the last fraction of the run that decays), got "
                         f"{cfg.decay_fraction}.")


def check_eps_placement(placement: str, key: str = "optim.*") -> None:
    """RMSprop's eps placement must be one of EPS_PLACEMENTS."""
    if placement not in EPS_PLACEMENTS:
        raise ValueError(f"Unknown {key}.eps_placement {placement!r}; choose 'inside' (optax: g / sqrt(nu + eps)) "
                         "or 'outside' (PyTorch: g / (sqrt(nu) + eps)).")


def build_schedule(cfg: ml_collections.ConfigDict, total_updates: int) -> optax.Schedule:
    """Linear warm-up over `warmup_steps`, then constant, linear or cosine decay to `lr * end_factor` over the last
    `decay_fraction` of the run (lr until then: pix2pix's and CycleGAN's 100 epochs at lr, 100 decaying to 0).

    Steps are counted in this optimizer's own updates: D's optimizer updates `n_disc` times per train step.
    """
    warmup = int(cfg.warmup_steps)
    after_warmup = int(total_updates) - warmup
    fraction = cfg.get("decay_fraction", 1.0)  # configs saved before the key existed decayed over the whole run
    decay_steps = max(after_warmup, 1) if fraction == 1.0 else int(round(after_warmup * fraction))
    if cfg.schedule == "constant" or decay_steps == 0:
        main = optax.constant_schedule(cfg.lr)
    elif cfg.schedule == "linear":
        main = optax.linear_schedule(cfg.lr, cfg.lr * cfg.end_factor, decay_steps)
    else:
        main = optax.cosine_decay_schedule(cfg.lr, decay_steps, alpha=cfg.end_factor)
    hold = after_warmup - decay_steps
    if cfg.schedule != "constant" and decay_steps and hold > 0:
        main = optax.join_schedules([optax.constant_schedule(cfg.lr), main], [hold])
    if warmup == 0:
        return main
    return optax.join_schedules([optax.linear_schedule(0.0, cfg.lr, warmup), main], [warmup])


def build_optimizer(cfg: ml_collections.ConfigDict, total_updates: int) -> optax.GradientTransformation:
    """The optax transform named by `cfg.name`, with its schedule and optional gradient clipping."""
    validate(cfg, warn=False)
    lr = build_schedule(cfg, total_updates)
    name = cfg.name
    if name == "sgd":
        tx = optax.sgd(lr)
    elif name == "momentum":
        tx = optax.sgd(lr, momentum=cfg.momentum)
    elif name == "nesterov":
        tx = optax.sgd(lr, momentum=cfg.momentum, nesterov=True)
    elif name == "adam":
        tx = optax.adam(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    elif name == "adamw":
        tx = optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
    else:  # rmsprop, the last of OPTIMIZERS (`validate` checked the name)
        placement = cfg.get("eps_placement", "inside")  # configs saved before the key existed ran optax's default
        tx = optax.rmsprop(lr, decay=cfg.b2, eps=cfg.eps, eps_in_sqrt=placement == "inside")
    if cfg.grad_clip > 0:
        tx = optax.chain(optax.clip_by_global_norm(cfg.grad_clip), tx)
    return tx
