"""StyleGAN2-ADA rows of tools/benchmark.py (`--models stylegan2`): the paper256 networks at 64x64 and 256x256.

Each row is one resolution with ADA on (bgc, p = 0.5 fixed, so every op fires as often as mid-run) or off (no
augmentation). FLOPs per step come from XLA's cost analysis of the one-step program compiled for the CPU, with every
phase (Gmain, Greg, Dmain, Dreg, G_ema, ADA) in it; the timed steps start at step 0, so Greg runs on every 4th and
Dreg on every 16th of them. Resolutions above `--stylegan2-time-max` get the FLOPs only (no timing).
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.config import base_config
from jaxgan.factory import build_gan, build_train_step, initial_state_aux
from jaxgan.state import create_state
from jaxgan.train_step import jit_train_step

RESOLUTIONS, QUICK_RESOLUTIONS = (64, 256), (8, 16)


def stylegan2_config(resolution: int, batch: int, ada: bool, quick: bool) -> ml_collections.ConfigDict:
    """paper256's networks and objective at `resolution` (tiny widths with `quick`), ADA at a fixed p of 0.5."""
    c = base_config()
    c.model.name, c.model.z_dim = "stylegan2", 8 if quick else 512
    sg = c.model.stylegan2
    sg.w_dim, sg.channel_base, sg.channel_max = (8, 64, 16) if quick else (512, 16384, 512)
    sg.mbstd_group_size = min(4, batch)
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.b1, opt.b2 = 0.0025, 0.0, 0.99
    c.reg.r1_gamma, c.reg.lazy_interval = 1.0, 16
    c.ema.half_life_images = 20_000
    c.ada.preset, c.ada.target, c.ada.p = ("bgc" if ada else ""), 0.0, 0.5
    c.train.batch_size = batch
    return c


def bench_stylegan2(resolution: int, batch: int, ada: bool, args, flops_fn) -> dict:
    """One row: FLOPs per step from the CPU compile, and images/s and ms/step unless the resolution is too large."""
    config = stylegan2_config(resolution, batch, ada, args.quick)
    shape = (resolution, resolution, 3)
    gan = build_gan(config, shape)
    step = build_train_step(config, gan)
    init = lambda: create_state(gan, shape, 0, ema=True, aux=initial_state_aux(config))
    one = {"x": jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1, batch, *shape)), jnp.float32)}
    row = {"kind": "jaxgan", "model": "stylegan2", "resolution": resolution, "batch": batch, "ada": ada,
           "flops_per_step": None if args.no_flops else flops_fn(step, jax.eval_shape(init), one)}
    if resolution > args.stylegan2_time_max:
        return {**row, "timed": False}
    fn, state = jit_train_step(step), jax.jit(init)()
    start = time.perf_counter()
    state, metrics = fn(state, one)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - start
    steps = max(1, args.steps)
    start = time.perf_counter()
    for _ in range(steps):
        state, metrics = fn(state, one)
    jax.block_until_ready((state, metrics))
    seconds = time.perf_counter() - start
    flops = row["flops_per_step"]
    return {**row, "timed": True, "steps": steps, "images_per_s": batch * steps / seconds,
            "ms_per_step": 1e3 * seconds / steps, "compile_s": compile_s,
            "tflops_per_s": None if flops is None else flops * steps / seconds / 1e12,
            "finite": bool(math.isfinite(float(metrics["Loss/D"])))}


def stylegan2_rows(args, batches: list[int], flops_fn, emit) -> list[dict]:
    """Every StyleGAN2 row: each resolution, each batch, ADA on then off; emitted as they finish."""
    rows = []
    for resolution in QUICK_RESOLUTIONS if args.quick else RESOLUTIONS:
        for batch in batches:
            for ada in (True, False):
                rows.append(bench_stylegan2(resolution, batch, ada, args, flops_fn))
                emit(rows[-1])
    return rows
