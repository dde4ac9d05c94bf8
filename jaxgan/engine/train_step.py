"""The train step as a table of named phases (StyleGAN2-ADA's Dmain, Dreg, Gmain, Greg), run in one XLA program.

A step runs its phases in order: `Dreg` (every k steps), `n_disc` x `Dmain`, `Gmain`, `Greg` (every k steps) and
`G_ema`. Each phase is a pure `(state, batch, keys) -> (state, metrics)` (`jaxgan.engine.phases`), so it can be called
and tested alone. A phase with interval k > 1 runs under `lax.cond` on `step % k == 0`: one program, and skipped steps
report zeros for its metrics. Keys come from `KeyStreams.of_step(rng, step)`, one named sub-stream per phase.

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
    """`run` on steps with step % interval == 0 (`lax.cond`, so skipped steps cost nothing), else zero metrics."""
    if interval == 1:
        return run

    def lazy(state: TrainState, batch: Batch, keys: KeyStreams) -> tuple[TrainState, Metrics]:
        _, shapes = jax.eval_shape(run, state, batch, keys)
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        skip = lambda state, batch, keys: (state, zeros)
        return jax.lax.cond(state.step % interval == 0, run, skip, state, batch, keys)

    return lazy


def run_phases(phases: Sequence[Phase], state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
    """Run the table once: every due phase in order, then step + 1; metrics of repeated phases are averaged."""
    keys = KeyStreams.of_step(state.rng, state.step)
    seen: dict[str, list[jax.Array]] = {}
    for phase in phases:
        with jax.named_scope(phase.name):  # the phase's ops carry its name in profiles and HLO dumps
            state, metrics = every(phase.interval, phase.run)(state, batch, keys.phase(phase.name))
        for name, value in metrics.items():
            seen.setdefault(name, []).append(value)
    metrics = {name: values[0] if len(values) == 1 else jnp.mean(jnp.stack(values)) for name, values in seen.items()}
    return state.replace(step=state.step + 1), metrics


def make_phase_step(phases: Sequence[Phase], n_disc: int) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """The pure step `(state, batch) -> (state, metrics)` that runs `phases`; `batch["x"]` is (n_disc, B, ...)."""
    names = [phase.name for phase in phases]
    if len(set(names)) != len(names):
        raise ValueError(f"Phase names must be unique (they name the key streams), got {names}.")

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        if batch["x"].shape[0] != n_disc:
            raise ValueError(f"batch['x'] must have a leading axis of n_disc={n_disc} real batches, "
                             f"got shape {batch['x'].shape}.")
        return run_phases(phases, state, batch)

    return train_step


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
) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
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


def jit_train_step(step_fn: Callable[..., Any], **jit_kwargs) -> Callable:
    """jit a step with the state donated, so XLA updates the params in place."""
    return jax.jit(step_fn, donate_argnums=(0,), **jit_kwargs)
