"""The XLA compile options a train step gets: every step's defaults merged with the step's own, unknown options
dropped, and the CPU default (region-analysis copy insertion) applied, copy-saving and bit-identical."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.engine import compile_options
from jaxgan.engine.compile_options import EIGEN_CONVS, STEP_DEFAULTS, backend_options, step_compiler_options
from jaxgan.engine.state import GAN, create_state
from jaxgan.engine.train_step import jit_train_step, make_train_step
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.terms.losses import get_loss

REGION = "xla_cpu_copy_insertion_use_region_analysis"
on_cpu = pytest.mark.skipif(jax.default_backend() != "cpu", reason="the options under test are XLA:CPU's")


@on_cpu
def test_every_step_gets_the_defaults_and_its_own_options_win_a_clash():
    assert step_compiler_options(object()) == {REGION: "True"}
    eigen = types.SimpleNamespace(compiler_options=EIGEN_CONVS)
    assert step_compiler_options(eigen) == {REGION: "True", "xla_cpu_experimental_ynn_fusion_type": ""}
    own = types.SimpleNamespace(compiler_options=(("cpu", ((REGION, "False"),)),))
    assert step_compiler_options(own) == {REGION: "False"}


@on_cpu
def test_an_option_this_jaxlib_does_not_know_is_dropped_not_fatal():
    assert backend_options((("cpu", (("xla_cpu_no_such_option_here", "True"),)),)) == {}
    assert backend_options((("tpu", ((REGION, "True"),)),)) == {}  # another backend's options


def _mlp_step():
    gan = GAN(MLPGenerator((64,), hidden=(32,)), MLPDiscriminator(hidden=(32,)), optax.adam(1e-3), optax.adam(1e-3),
              z_dim=8)
    return gan, make_train_step(gan, get_loss("non_saturating"))


@on_cpu
def test_region_copy_insertion_drops_copies_and_leaves_the_training_bit_identical(monkeypatch):
    gan, step = _mlp_step()
    batch = {"x": jax.random.normal(jax.random.PRNGKey(1), (1, 16, 64))}
    with_defaults = jit_train_step(step)
    monkeypatch.setattr(compile_options, "STEP_DEFAULTS", ())
    without = jit_train_step(step)
    assert STEP_DEFAULTS and with_defaults is not without
    state = create_state(gan, (64,), seed=0)
    copies = [fn.lower(state, batch).compile().as_text().count(" copy(") for fn in (with_defaults, without)]
    assert copies[0] < copies[1], copies
    states = []
    for fn in (with_defaults, without):
        s = create_state(gan, (64,), seed=0)
        for _ in range(3):
            s, metrics = fn(s, batch)
        states.append(s)
    for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert bool(jnp.isfinite(metrics["Loss/D"]))
