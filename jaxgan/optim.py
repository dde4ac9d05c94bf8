"""Optimizers and learning-rate schedules from the `optim.g` / `optim.d` config blocks, built with optax."""

from __future__ import annotations

import ml_collections
import optax

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "linear", "cosine")
# RMSprop's eps: "inside" the square root, g / sqrt(nu + eps) (optax's default), or "outside" it,
# g / (sqrt(nu) + eps) (PyTorch's torch.optim.RMSprop, so what PyTorch papers' code ran).
EPS_PLACEMENTS = ("inside", "outside")


def build_schedule(cfg: ml_collections.ConfigDict, total_updates: int) -> optax.Schedule:
    """Linear warm-up over `warmup_steps`, then constant, linear or cosine decay to `lr * end_factor`.

    Steps are counted in this optimizer's own updates: D's optimizer updates `n_disc` times per train step.
    """
    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"Unknown schedule {cfg.schedule!r}; choose one of {SCHEDULES}.")
    warmup = int(cfg.warmup_steps)
    decay_steps = max(int(total_updates) - warmup, 1)
    end = cfg.lr * cfg.end_factor
    if cfg.schedule == "constant":
        main = optax.constant_schedule(cfg.lr)
    elif cfg.schedule == "linear":
        main = optax.linear_schedule(cfg.lr, end, decay_steps)
    else:
        main = optax.cosine_decay_schedule(cfg.lr, decay_steps, alpha=cfg.end_factor)
    if warmup == 0:
        return main
    return optax.join_schedules([optax.linear_schedule(0.0, cfg.lr, warmup), main], [warmup])


def _eps_in_sqrt(placement: str) -> bool:
    """optax's `eps_in_sqrt` flag for an `optim.*.eps_placement` value."""
    if placement not in EPS_PLACEMENTS:
        raise ValueError(f"Unknown optim.*.eps_placement {placement!r}; choose 'inside' (optax: g / sqrt(nu + eps)) "
                         "or 'outside' (PyTorch: g / (sqrt(nu) + eps)).")
    return placement == "inside"


def build_optimizer(cfg: ml_collections.ConfigDict, total_updates: int) -> optax.GradientTransformation:
    """The optax transform named by `cfg.name`, with its schedule and optional gradient clipping."""
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
    elif name == "rmsprop":
        placement = cfg.get("eps_placement", "inside")  # configs saved before the key existed ran optax's default
        tx = optax.rmsprop(lr, decay=cfg.b2, eps=cfg.eps, eps_in_sqrt=_eps_in_sqrt(placement))
    else:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of {OPTIMIZERS} (config key `optim.*.name`).")
    if cfg.grad_clip > 0:
        tx = optax.chain(optax.clip_by_global_norm(cfg.grad_clip), tx)
    return tx
