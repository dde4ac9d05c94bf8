"""XLA compile options a train step asks for, per backend, chosen by measurement.

A step names the options it wants in a `compiler_options` attribute ({backend: {option: value}}, e.g. on
`PhasedStep`); the jit helpers pass the current backend's ones when this jaxlib knows them. On XLA:CPU, convolutions
go to YNNPACK fusions by default. `EIGEN_CONVS` sends them to XLA's Eigen convolutions instead, which ran StyleGAN2's
valid convs faster in every phase (one pinned core, quarter `cifar` width: Gmain 196 -> 157 ms, Dmain 190 -> 164 ms,
Dreg 205 -> 145 ms; docs/stylegan2.md) but DCGAN's padded and transposed convs slower (35.5 -> 29.5 images/s at
batch 32), so StyleGAN2 asks for it and DCGAN does not.

Every train step also gets `STEP_DEFAULTS`. On XLA:CPU that is copy insertion by region analysis, which drops the
copies XLA otherwise makes of donated params and optimizer moments before updating them in place. The results are
bit-identical. Measured on one pinned core: the MLP GAN at batch 64 went from 103 to 60 copies and ran 10% faster,
and DCGAN-64 at batch 32 ran 1.4% faster.
"""

from __future__ import annotations

import functools
import logging

import jax
import jax.numpy as jnp

log = logging.getLogger(__name__)
Options = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # ((backend, ((option, value), ...)), ...): hashable
EIGEN_CONVS: Options = (("cpu", (("xla_cpu_experimental_ynn_fusion_type", ""),)),)  # no YNNPACK fusions
STEP_DEFAULTS: Options = (("cpu", (("xla_cpu_copy_insertion_use_region_analysis", "True"),)),)


def step_compiler_options(step_fn: object) -> dict[str, str]:
    """The compile options of every step (`STEP_DEFAULTS`) and those `step_fn` asks for, on jax's default backend,
    where this jaxlib knows them; the step's own win a clash."""
    return {**backend_options(STEP_DEFAULTS), **backend_options(getattr(step_fn, "compiler_options", ()) or ())}


def backend_options(options: Options) -> dict[str, str]:
    """`options` for jax's default backend, where this jaxlib knows them (else {})."""
    return supported(tuple(dict(options).get(jax.default_backend(), ())))


@functools.cache
def supported(options: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """`options` as a dict if a trivial compile accepts them, else {} (an XLA flag can be renamed between versions)."""
    if not options:
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=dict(options)).lower(jnp.zeros((), jnp.float32)).compile()
    except Exception as error:  # noqa: BLE001 - a jaxlib without the flag keeps its default path
        log.info("XLA compile options %s not available (%s); using the defaults.", dict(options), error)
        return {}
    return dict(options)
