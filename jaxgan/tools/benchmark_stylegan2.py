"""StyleGAN2-ADA rows of `jaxgan benchmark` (`--models stylegan2`): the paper256 networks at 64x64 and 256x256.

paper256's channels (channel_base 16384, at most 512 maps) are also what the reference's `auto` config picks at 64x64
(fmaps 0.5 below 512 px). Each row is one resolution with ADA on (bgc, p = 0.5 fixed, so every op fires as often as
mid-run) or off (no augmentation). The step is one XLA program with every phase in it (Gmain, Dmain, G_ema, ADA, and
Greg / Dreg under `lax.cond`), compiled once, ahead of time; the row reports the trace + lowering and compile times
separately (compile CPU seconds too: the wall time swells with the machine's load). FLOPs per step are XLA's cost
analysis of that CPU compile (a separate CPU compile when the default device is not the CPU); they count both
branches of each `lax.cond`, i.e. a step on which Greg and Dreg run.

Greg runs on steps divisible by 4 and Dreg on steps divisible by 16, so after `--warmup` untimed steps the row times
`--steps` steps of each kind alone (the step counter set to 1, 4 or 16): main-only steps, Greg steps and Greg + Dreg
steps, and reports their mean milliseconds and their mix over a 16-step cycle (12 : 3 : 1) as `ms_per_step` and
`images_per_s`. Resolutions above `--stylegan2-time-max` get the FLOPs, the compile times and one timed main step.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.engine.state import create_state
from jaxgan.engine.train_step import jit_train_step
from jaxgan.objectives.factory import build_gan, build_train_step, initial_state_aux
from jaxgan.objectives.stylegan2 import default_config

RESOLUTIONS, QUICK_RESOLUTIONS = (64, 256), (8, 16)
CYCLE_WEIGHTS = {"main": 12 / 16, "greg": 3 / 16, "greg+dreg": 1 / 16}  # step kinds in 16 steps (Greg 4, Dreg 16)


def stylegan2_config(resolution: int, batch: int, ada: bool, quick: bool) -> ml_collections.ConfigDict:
    """paper256's networks and objective at `resolution` (tiny widths with `quick`), ADA at a fixed p of 0.5."""
    c = default_config()
    c.model.z_dim = 8 if quick else 512
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


KIND_STEPS = {"main": 1, "greg": 4, "greg+dreg": 16}  # a step number of each kind: which lazy phases run


def compile_step(step, state, batch) -> tuple:
    """(the compiled donated step, trace + lower seconds, compile seconds, compile CPU seconds, its FLOPs or None)."""
    start = time.perf_counter()
    lowered = jit_train_step(step).lower(state, batch)
    lower_s = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), time.process_time()
    compiled = lowered.compile()
    compile_s, compile_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    flops = float(cost["flops"]) if cost and "flops" in cost else None
    return compiled, lower_s, compile_s, compile_cpu_s, flops


def time_steps(compiled, state, batch, warmup: int, repeats: int, kinds=tuple(KIND_STEPS)):
    """Time `repeats` steps of each kind alone (the step counter set to one of that kind), after `warmup` untimed
    main steps; returns ({kind: [seconds]}, the last Loss/D)."""
    seconds: dict[str, list[float]] = {}
    metrics = None
    for kind in ("main",) * warmup + sum(((k,) * repeats for k in kinds), ()):
        state = state.replace(step=jnp.asarray(KIND_STEPS[kind], state.step.dtype))
        start = time.perf_counter()
        state, metrics = compiled(state, batch)
        jax.block_until_ready((state, metrics))
        if warmup > 0:
            warmup -= 1
        else:
            seconds.setdefault(kind, []).append(time.perf_counter() - start)
    return seconds, float(metrics["Loss/D"])


def timing_fields(batch: int, seconds: dict[str, list[float]]) -> dict:
    """ms per step of each step kind, and the 16-step cycle's mean ms per step and images/s when all were timed."""
    ms = {kind: 1e3 * float(np.mean(seconds[kind])) for kind in CYCLE_WEIGHTS if kind in seconds}
    cycle = sum(w * ms[k] for k, w in CYCLE_WEIGHTS.items()) if len(ms) == len(CYCLE_WEIGHTS) else None
    return {"timed_steps": sum(len(v) for v in seconds.values()), "ms_by_step_kind": ms, "ms_per_step": cycle,
            "images_per_s": None if cycle is None else 1e3 * batch / cycle}


def bench_stylegan2(resolution: int, batch: int, ada: bool, args, flops_fn) -> dict:
    """One row: compile times, FLOPs per step from the CPU compile, and the timed steps."""
    config = stylegan2_config(resolution, batch, ada, args.quick)
    shape = (resolution, resolution, 3)
    gan = build_gan(config, shape)
    step = build_train_step(config, gan)
    init = lambda: create_state(gan, shape, 0, ema=True, aux=initial_state_aux(config))
    one = {"x": jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1, batch, *shape)), jnp.float32)}
    state = jax.jit(init)()
    compiled, lower_s, compile_s, compile_cpu_s, flops = compile_step(step, state, one)
    if jax.default_backend() != "cpu" and not args.no_flops:
        flops = flops_fn(step, jax.eval_shape(init), one)
    row = {"kind": "jaxgan", "model": "stylegan2", "resolution": resolution, "batch": batch, "ada": ada,
           "channel_base": config.model.stylegan2.channel_base, "lower_s": lower_s, "compile_s": compile_s,
           "compile_cpu_s": compile_cpu_s, "flops_per_step": None if args.no_flops else flops}
    if resolution > args.stylegan2_time_max:  # one main step: the CPU would take minutes per timed step
        seconds, loss = time_steps(compiled, state, one, 0, 1, ("main",))
    else:
        seconds, loss = time_steps(compiled, state, one, args.warmup, max(1, args.steps))
    return {**row, **timing_fields(batch, seconds), "finite": math.isfinite(loss)}


def stylegan2_rows(args, batches: list[int], flops_fn, emit) -> list[dict]:
    """Every StyleGAN2 row: each resolution, each batch, ADA on then off; emitted as they finish."""
    rows = []
    resolutions = args.stylegan2_resolutions or (QUICK_RESOLUTIONS if args.quick else RESOLUTIONS)
    for resolution in resolutions:
        for batch in batches:
            for ada in args.stylegan2_ada:
                rows.append(bench_stylegan2(resolution, batch, ada, args, flops_fn))
                emit(rows[-1])
    return rows
