"""The train step as a table of named phases (StyleGAN2-ADA's Dmain, Dreg, Gmain, Greg), run in one XLA program.

A step runs its phases in order: `Dreg` (every k steps), `n_disc` x `Dmain`, `Gmain`, `Greg` (every k steps) and
`G_ema`. Each phase is a pure `(state, batch, keys) -> (state, metrics)` (`jaxgan.engine.phases`), so it can be called
and tested alone. Keys come from `KeyStreams.of_step(rng, step)`, one named sub-stream per phase.

A phase with interval k > 1 (a lazy phase) runs on steps with `step % k == 0`, and skipped steps report zeros for
its metrics. `PhasedStep` has two forms of it. The loop compiles `program(due)`, one program per combination of due
lazy phases (StyleGAN2: main, +Greg, +Dreg, +both), and picks it on the host by step number (`due_at`), so a step
runs only the phases that are due. Calling the step itself gives one program for every step, with each lazy phase
under `lax.cond`; it computes the same, but XLA:CPU then pays for the untaken branches (docs/stylegan2.md).

Lazy regularisation has one meaning, StyleGAN2's (Karras et al. 2020, Sec. 3.1 and Appendix B): with
`d_reg_interval` k > 1, `Dreg` is a separate D optimizer step every k train steps, i.e. every m = k * n_disc D
updates, on m times the lazy penalties (R1, R2), and `jaxgan.objectives.factory` gives D's Adam lr * c and betas ** c,
c = m / (m + 1), since Adam then takes m + 1 steps per m minibatches: gamma means the same for any n_disc. With
k = 1 the penalties join every D update and nothing is rescaled.

With `n_disc = 1` (or `g_fresh_z=False`), the last D update and G's update share one forward pass of G
(`phases.d_then_g_main`). With `n_disc > 1` G draws fresh z by default, as the SNGAN and WGAN-GP updaters do.

Researchers change the objective by passing functions in: `loss` is a `GANLoss` of (D(x), D(G(z))) for both nets,
`d_penalties` / `g_penalties` are extra terms of D's / G's loss, `d_reg` / `g_reg` the lazy ones, and `d_input`
transforms every input of D (DiffAugment, instance noise). A new phase is a new row of the table (`gan_phases`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxgan.engine.compile_options import Options, step_compiler_options
from jaxgan.engine.grad_norms import computed_when, is_grad_norm
from jaxgan.engine.phases import (  # noqa: F401  (re-exported: the step's public types)
    Batch,
    DiscriminatorFn,
    DPenalty,
    GeneratorFn,
    GPenalty,
    InputTransform,
    KeyStreams,
    Metrics,
    StepSpec,
    d_main,
    d_reg,
    d_then_g_main,
    g_ema,
    g_main,
    g_reg,
    sample_latents,
)
from jaxgan.engine.state import GAN, TrainState
from jaxgan.terms.losses import GANLoss
from jaxgan.terms.topk import TopKSchedule

PhaseFn = Callable[[TrainState, Batch, KeyStreams], tuple[TrainState, Metrics]]


@dataclasses.dataclass(frozen=True)
class Phase:
    """One row of the table: a named `(state, batch, keys) -> (state, metrics)` run every `interval` steps."""

    name: str
    run: PhaseFn
    interval: int = 1

    def __post_init__(self):
        if self.interval < 1:
            raise ValueError(f"Phase {self.name!r}: the lazy regularisation interval must be >= 1 (1 = every step), "
                             f"got {self.interval} (config key `reg.lazy_interval`).")


def gan_phases(spec: StepSpec, *, g_fresh_z: bool = True, ema_decay: float = 0.999,
               ema_warmup: bool = True) -> tuple[Phase, ...]:
    """The GAN's table: [Dreg], Dmain x n_disc, Gmain (the last two fused on one G pass), [Greg], G_ema."""
    shared = spec.n_disc == 1 or not g_fresh_z  # G reuses the z and fakes of the last D update
    table = []
    if spec.d_reg and spec.d_reg_interval > 1:
        table.append(Phase("Dreg", functools.partial(d_reg, spec), spec.d_reg_interval))
    for i in range(spec.n_disc - 1 if shared else spec.n_disc):
        table.append(Phase(f"Dmain/{i}", functools.partial(d_main, spec, i)))
    if shared:
        table.append(Phase(f"Dmain/{spec.n_disc - 1}+Gmain", functools.partial(d_then_g_main, spec)))
    else:
        table.append(Phase("Gmain", functools.partial(g_main, spec)))
    if spec.g_reg and spec.g_reg_interval > 1:
        table.append(Phase("Greg", functools.partial(g_reg, spec), spec.g_reg_interval))
    table.append(Phase("G_ema", functools.partial(g_ema, ema_decay, ema_warmup)))
    return tuple(table)


def every(interval: int, run: PhaseFn) -> PhaseFn:
    """`run` on steps with step % interval == 0, else zero metrics, under `lax.cond`: one program for every step."""
    if interval == 1:
        return run

    def lazy(state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
        _, shapes = jax.eval_shape(run, state, batch, keys)
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        skip = lambda state, batch, keys: (state, zeros)
        return jax.lax.cond(state.step % interval == 0, run, skip, state, batch, keys)

    return lazy


def skipped(run: PhaseFn) -> PhaseFn:
    """`run` left out of the program: the state as it is, and zeros for its metrics."""

    def skip(state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
        _, shapes = jax.eval_shape(run, state, batch, keys)
        return state, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    return skip


def scheduled(phase: Phase, due: frozenset[str] | None) -> PhaseFn:
    """The phase as one program runs it: every step; under `lax.cond` (`due` None); or in or out by `due`."""
    if phase.interval == 1:
        return phase.run
    if due is None:
        return every(phase.interval, phase.run)
    return phase.run if phase.name in due else skipped(phase.run)


def run_phases(phases: Sequence[Phase], state: TrainState, batch: Batch,
               due: frozenset[str] | None = None) -> tuple[TrainState, Metrics]:
    """Run the table once, then step + 1: lazy phases under `lax.cond`, or exactly those in `due`; metrics of
    repeated phases are averaged."""
    keys = KeyStreams.of_step(state.rng, state.step)
    seen: dict[str, list[jax.Array]] = {}
    for phase in phases:
        with jax.named_scope(phase.name):  # the phase's ops carry its name in profiles and HLO dumps
            state, metrics = scheduled(phase, due)(state, batch, keys.phase(phase.name))
        for name, value in metrics.items():
            seen.setdefault(name, []).append(value)
    metrics = {name: values[0] if len(values) == 1 else jnp.mean(jnp.stack(values)) for name, values in seen.items()}
    return state.replace(step=state.step + 1), metrics


StepFn = Callable[[Any, Batch], tuple[Any, Metrics]]


@dataclasses.dataclass(frozen=True)
class PhasedStep:
    """The pure step `(state, batch) -> (state, metrics)` of a phase table; `batch["x"]` is (n_disc, B, ...).

    Called, it is one program for every step (lazy phases under `lax.cond`). `program(due)` is the program of the
    steps on which exactly the lazy phases in `due` run; `due_at(step)` names them. `wrapped(f)` applies a step
    wrapper (e.g. the uint8 decode) to every form.
    """

    phases: tuple[Phase, ...]
    n_disc: int
    wrappers: tuple[Callable[[StepFn], StepFn], ...] = ()
    compiler_options: Options = ()  # per backend, passed by the jit helpers (`jaxgan.engine.compile_options`)

    def __call__(self, state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        return self.program(None)(state, batch)

    def program(self, due: frozenset[str] | None) -> StepFn:
        """The step running exactly the lazy phases in `due` (None: each under `lax.cond`)."""

        def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
            if batch["x"].shape[0] != self.n_disc:
                raise ValueError(f"batch['x'] must have a leading axis of n_disc={self.n_disc} real batches, "
                                 f"got shape {batch['x'].shape}.")
            return run_phases(self.phases, state, batch, due)

        return functools.reduce(lambda fn, wrap: wrap(fn), self.wrappers, train_step)

    def due_at(self, step: int) -> frozenset[str]:
        """The lazy phases that run on the step with counter `step` (`step % interval == 0`)."""
        return frozenset(p.name for p in self.phases if p.interval > 1 and step % p.interval == 0)

    def step_kinds(self) -> tuple[frozenset[str], ...]:
        """Every combination of lazy phases, main-only first (StyleGAN2: main, +Greg, +Dreg, +both)."""
        lazy = [p.name for p in self.phases if p.interval > 1]
        return tuple(frozenset(n for i, n in enumerate(lazy) if mask >> i & 1) for mask in range(2 ** len(lazy)))

    def wrapped(self, wrapper: Callable[[StepFn], StepFn]) -> PhasedStep:
        """The same step with `wrapper` around each of its programs."""
        return dataclasses.replace(self, wrappers=(*self.wrappers, wrapper))


def without_grad_norms(step: StepFn) -> StepFn:
    """`step` without its `Grad/*` metrics (`train.grad_norms=False`), so XLA drops the norms' per-leaf reductions."""

    def wrap(fn: StepFn) -> StepFn:
        @functools.wraps(fn)
        def step_without_grad_norms(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
            state, metrics = fn(state, batch)
            return state, {k: v for k, v in metrics.items() if not is_grad_norm(k)}

        return step_without_grad_norms

    return step.wrapped(wrap) if isinstance(step, PhasedStep) else wrap(step)


def grad_norms_every(step: StepFn, every: int) -> StepFn:
    """`step` computing its logged-only metrics (`Grad/*` norms, D's mean outputs) only on the steps numbered (after
    the step) a multiple of `every`, the steps whose metrics the loop logs; NaN on the others
    (`jaxgan.engine.grad_norms`). The state is unchanged."""

    def wrap(fn: StepFn) -> StepFn:
        @functools.wraps(fn)  # the jitted program keeps the step's name (profiles show `train_step`)
        def step_with_logged_grad_norms(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
            with computed_when((state.step + 1) % every == 0):
                return fn(state, batch)

        return step_with_logged_grad_norms

    return step.wrapped(wrap) if isinstance(step, PhasedStep) else wrap(step)


def with_grad_norm_policy(step: StepFn, grad_norms: bool, log_every: int) -> StepFn:
    """`step` as the trainer runs it: `Grad/*` and D's mean outputs on the logged steps (every `log_every`-th) with
    `train.grad_norms`; without it, no `Grad/*` (and D's mean outputs every step), nor when no step is logged."""
    if not grad_norms or log_every <= 0:
        return without_grad_norms(step)
    return step if log_every == 1 else grad_norms_every(step, log_every)


def make_phase_step(phases: Sequence[Phase], n_disc: int, compiler_options: Options = ()) -> PhasedStep:
    """The pure step `(state, batch) -> (state, metrics)` that runs `phases`; `batch["x"]` is (n_disc, B, ...), and
    the XLA compile options it asks for per backend."""
    names = [phase.name for phase in phases]
    if len(set(names)) != len(names):
        raise ValueError(f"Phase names must be unique (they name the key streams), got {names}.")
    return PhasedStep(tuple(phases), n_disc, compiler_options=compiler_options)


def make_train_step(
    gan: GAN,
    loss: GANLoss,
    *,
    n_disc: int = 1,
    d_penalties: Sequence[DPenalty] = (),
    g_penalties: Sequence[GPenalty] = (),
    d_reg: Sequence[DPenalty] = (),
    d_reg_interval: int = 1,
    g_reg: Sequence[GPenalty] = (),
    g_reg_interval: int = 1,
    g_fresh_z: bool = True,
    ema_decay: float = 0.999,
    ema_warmup: bool = True,
    report_probs: bool = False,
    d_input: InputTransform | None = None,
    g_top_k: TopKSchedule | None = None,
) -> PhasedStep:
    """Return the pure, un-jitted step `(state, batch) -> (state, metrics)` of `gan_phases`; see `jit_train_step`.

    `batch["x"]` has shape (n_disc, B, ...): one real batch per D update; `batch["label"]`, (n_disc, B), is
    needed by class-conditional models. `report_probs` adds mean sigmoid(D) for BCE-type losses. `g_top_k`
    trains G on the k fakes D scores highest (Sinha et al. 2020, `jaxgan.terms.topk`).
    """
    spec = StepSpec(gan, loss, n_disc, tuple(d_penalties), tuple(d_reg), d_reg_interval, tuple(g_penalties),
                    tuple(g_reg), g_reg_interval, d_input, report_probs, g_top_k)
    check_intervals(spec)
    phases = gan_phases(spec, g_fresh_z=g_fresh_z, ema_decay=ema_decay, ema_warmup=ema_warmup)
    return make_phase_step(phases, n_disc)


def check_intervals(spec: StepSpec) -> None:
    """One line naming the key when n_disc or a lazy interval is below 1."""
    if spec.n_disc < 1:
        raise ValueError(f"n_disc must be >= 1, got {spec.n_disc}.")
    for name, k in (("d_reg_interval", spec.d_reg_interval), ("g_reg_interval", spec.g_reg_interval)):
        if k < 1:
            raise ValueError(f"{name}: the lazy regularisation interval must be >= 1 (1 = every step), got {k} "
                             "(config key `reg.lazy_interval`).")


def jit_train_step(step_fn: Callable[..., Any], options_of: object = None, **jit_kwargs) -> Callable:
    """jit a step with the state donated, so XLA updates the params in place, with the compile options `options_of`
    (default: step_fn) asks for (`jaxgan.engine.compile_options`)."""
    options = step_compiler_options(options_of or step_fn)
    return jax.jit(step_fn, donate_argnums=(0,), **{"compiler_options": options, **jit_kwargs})
