"""StyleGAN2-ADA rows of `jaxgan benchmark --models stylegan2`: each phase alone, each step kind, the mixed step.

The networks are the reference's `cifar` ones (32x32, 2 mapping layers, the `orig` D) at a fraction of their width
(`--stylegan2-widths quarter,full`: channel_base 32768 and at most 512 maps, times 1/4 or 1), float32, batch 4
(one minibatch-std group), ADA off, no style mixing, R1 gamma 0.01 every 16 steps and, unlike `cifar`, the path-length
penalty on (weight 2, every 4 steps), so that Greg is timed.

A row times, interleaved round by round:
- each phase alone (Gmain, Greg, Dmain, Dreg), each its own jitted program with the state donated;
- each kind of step the trainer compiles (`PhasedStep.program`: main, +Greg, +Dreg, +Greg+Dreg), and their mix over
  the steps of one lazy cycle (16 steps: 12 main, 3 +Greg, 1 +both) as `ms_per_step` and `images_per_s`.

With `--stylegan2-reference PATH` (a checkout of NVlabs stylegan2-ada-pytorch; torch needed) the same phases of the
reference's networks and loss are timed in the same rounds (`jaxgan.tools.stylegan2_reference`), and a "ratio" row
gives the reference's time over jaxgan's per phase and for the mixed step (the reference's: Gmain + Dmain + Greg / 4 +
Dreg / 16). Pin both to one core with `--pin-core 0`, and read the system load each row carries.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.engine.state import create_state
from jaxgan.engine.train_step import PhasedStep, jit_train_step
from jaxgan.objectives.factory import build_gan, initial_state_aux
from jaxgan.objectives.stylegan2 import OBJECTIVE, default_config
from jaxgan.tools.pinning import load_average

WIDTHS = {"quarter": 0.25, "full": 1.0}
PHASES = ("Gmain", "Greg", "Dmain", "Dreg")
REFERENCE_EVERY = {"Gmain": 1, "Greg": 4, "Dmain": 1, "Dreg": 16}  # a phase's share of the reference's steps


def stylegan2_config(resolution: int, batch: int, width: float, ada: bool, quick: bool) -> ml_collections.ConfigDict:
    """The reference's `cifar` networks at `width` (tiny with `quick`), Greg and Dreg on, ADA at a fixed p of 0.5."""
    c = default_config()
    c.model.z_dim = 8 if quick else 512
    sg = c.model.stylegan2
    sg.w_dim, sg.mapping_layers, sg.architecture = (8 if quick else 512), 2, "orig"
    sg.channel_base, sg.channel_max = (64, 16) if quick else (int(32768 * width), int(512 * width))
    sg.num_fp16_res, sg.conv_clamp, sg.mbstd_group_size = 0, 0.0, min(4, batch)
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.b1, opt.b2 = 0.0025, 0.0, 0.99
    c.reg.r1_gamma, c.reg.lazy_interval = 0.01, 16
    c.stylegan2.pl_weight, c.stylegan2.pl_interval, c.stylegan2.style_mixing_prob = 2.0, 4, 0.0
    c.ema.half_life_images = 500_000
    c.ada.preset, c.ada.target, c.ada.p = ("bgc" if ada else ""), 0.0, 0.5
    c.train.batch_size = batch
    return c


def reference_spec(config: ml_collections.ConfigDict, resolution: int):
    """The reference benchmark's settings equal to `config`'s (`jaxgan.tools.stylegan2_reference.BenchSpec`)."""
    from jaxgan.tools.stylegan2_reference import BenchSpec

    sg = config.model.stylegan2
    return BenchSpec(resolution=resolution, batch=config.train.batch_size, channel_base=sg.channel_base,
                     channel_max=sg.channel_max, z_dim=config.model.z_dim, w_dim=sg.w_dim,
                     mapping_layers=sg.mapping_layers, architecture=sg.architecture, mbstd_group=sg.mbstd_group_size,
                     style_mixing_prob=config.stylegan2.style_mixing_prob, pl_weight=config.stylegan2.pl_weight,
                     r1_gamma=config.reg.r1_gamma, pl_interval=config.stylegan2.pl_interval,
                     r1_interval=config.reg.lazy_interval, lr=config.optim.g.lr)


def kind_name(due: frozenset[str]) -> str:
    """'main', '+Greg', '+Dreg' or '+Greg+Dreg'."""
    return "".join(f"+{name}" for name in sorted(due, key=PHASES.index)) or "main"


@dataclasses.dataclass
class JaxganPrograms:
    """jaxgan's StyleGAN2 programs: each phase alone and each step kind, compiled on first use, state donated."""

    step: PhasedStep
    state: object
    batch: dict
    compile_s: dict = dataclasses.field(default_factory=dict)
    compiled: dict = dataclasses.field(default_factory=dict)

    def program(self, name: str) -> Callable:
        """The compiled program of a phase alone (its name) or of a step kind (`kind_name`)."""
        if name not in self.compiled:
            start = time.perf_counter()
            fn = jit_train_step(self._function(name), options_of=self.step)
            self.compiled[name] = fn.lower(self.state, self.batch).compile()
            self.compile_s[name] = time.perf_counter() - start
        return self.compiled[name]

    def _function(self, name: str) -> Callable:
        if name in PHASES:
            (phase,) = [p for p in self.step.phases if p.name == name]
            return dataclasses.replace(self.step, phases=(dataclasses.replace(phase, interval=1),))
        kinds = {kind_name(due): due for due in self.step.step_kinds()}
        return self.step.program(kinds[name])

    def time(self, name: str) -> float:
        """Seconds of one call of `name`'s program (the state carried on, so each call is a real step)."""
        fn = self.program(name)
        start = time.perf_counter()
        self.state, metrics = fn(self.state, self.batch)
        jax.block_until_ready((self.state, metrics))
        return time.perf_counter() - start


def build_programs(config: ml_collections.ConfigDict, resolution: int) -> tuple[JaxganPrograms, dict]:
    """jaxgan's programs on a fresh state and a fixed batch, and the networks' parameter counts."""
    shape = (resolution, resolution, 3)
    gan = build_gan(config, shape)
    step = OBJECTIVE.train_step(config, gan, shape)
    state = jax.jit(lambda: create_state(gan, shape, 0, ema=True, aux=initial_state_aux(config)))()
    batch = {"x": jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1, config.train.batch_size, *shape)),
                              jnp.float32)}
    count = lambda net: int(sum(np.size(leaf) for leaf in jax.tree.leaves(net.params)))
    return JaxganPrograms(step, state, batch), {"G": count(state.nets["G"]), "D": count(state.nets["D"])}


def cycle_kinds(step: PhasedStep, cycle: int = 16) -> list[str]:
    """The kind of each step of one lazy cycle (steps 0 .. cycle - 1)."""
    return [kind_name(step.due_at(s)) for s in range(cycle)]


def median_ms(seconds: dict[str, list[float]]) -> dict[str, float]:
    """Median milliseconds per name."""
    return {name: 1e3 * statistics.median(values) for name, values in seconds.items()}


def timed_rounds(ours: JaxganPrograms, reference, kinds: list[str], rounds: int) -> tuple[dict, dict]:
    """Interleave, round by round: each phase (ours, then the reference's), then each of our step kinds."""
    for name in (*PHASES, *kinds):  # compile, then one untimed call each
        ours.time(name)
        if reference is not None and name in PHASES:
            reference.time_phase(name, 1, warmup=1)
    mine: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name in PHASES:
            mine.setdefault(name, []).append(ours.time(name))
            if reference is not None:
                theirs.setdefault(name, []).extend(reference.time_phase(name, 1, warmup=0))
        for name in kinds:
            mine.setdefault(name, []).append(ours.time(name))
    return median_ms(mine), median_ms(theirs)


def bench_stylegan2(resolution: int, batch: int, width: str, ada: bool, args) -> list[dict]:
    """jaxgan's row (and the reference's and the ratios with `--stylegan2-reference`) at one width."""
    config = stylegan2_config(resolution, batch, WIDTHS[width], ada, args.quick)
    ours, params = build_programs(config, resolution)
    reference = None
    if args.stylegan2_reference and not ada:
        from jaxgan.tools.stylegan2_reference import ReferencePhases, load_reference

        reference = ReferencePhases(load_reference(args.stylegan2_reference), reference_spec(config, resolution), 0)
    cycle = cycle_kinds(ours.step)
    load_before = load_average()
    ms, ref_ms = timed_rounds(ours, reference, sorted(set(cycle)), max(1, args.steps))
    common = {"model": "stylegan2", "resolution": resolution, "batch": batch, "width": width, "ada": ada,
              "channel_base": config.model.stylegan2.channel_base, "channel_max": config.model.stylegan2.channel_max,
              "pinned_core": args.pin_core, "load_average": [load_before, load_average()]}
    finite = all(math.isfinite(float(v)) for v in jax.tree.leaves(ours.state.aux))
    rows = summary_rows(ms, ref_ms, cycle, batch, common)
    rows[0].update(params=params, compile_s=ours.compile_s, finite=finite)
    if reference is not None:
        rows[1]["params"] = reference.param_counts()
        rows[2]["equal_params"] = rows[1]["params"] == params
    return rows


def summary_rows(ms: dict[str, float], ref_ms: dict[str, float], cycle: list[str], batch: int, common: dict
                 ) -> list[dict]:
    """jaxgan's row: ms per phase and step kind, the cycle's mean step; with reference times, its row (mixed =
    Gmain + Dmain + Greg / 4 + Dreg / 16) and the ratio row (the reference's time over jaxgan's)."""
    mixed = sum(ms[kind] for kind in cycle) / len(cycle)
    rows = [{"kind": "jaxgan", **common, "ms_by_phase": {p: ms[p] for p in PHASES},
             "ms_by_step_kind": {k: ms[k] for k in sorted(set(cycle))}, "ms_per_step": mixed,
             "images_per_s": 1e3 * batch / mixed}]
    if ref_ms:
        ref_mixed = sum(ref_ms[p] / REFERENCE_EVERY[p] for p in PHASES)
        rows.append({"kind": "reference", **common, "ms_by_phase": ref_ms, "ms_per_step": ref_mixed,
                     "images_per_s": 1e3 * batch / ref_mixed})
        rows.append({"kind": "ratio", **common, "ratio_by_phase": {p: ref_ms[p] / ms[p] for p in PHASES},
                     "ratio_mixed": ref_mixed / mixed})
    return rows


def stylegan2_rows(args, batches: list[int], emit) -> list[dict]:
    """Every StyleGAN2 row: each resolution, batch, width and ADA setting; emitted as they finish."""
    rows = []
    for resolution in args.stylegan2_resolutions or ((8,) if args.quick else (32,)):
        for batch in batches:
            for width in args.stylegan2_widths:
                for ada in args.stylegan2_ada:
                    for row in bench_stylegan2(resolution, batch, width, ada, args):
                        rows.append(row)
                        emit(row)
    return rows
