"""Mixed precision: bf16 convolutions and matmuls, float32 params, optimizer state, statistics and losses."""

from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from parallel_worker import IMAGE_SHAPE, tiny_gan

from jaxgan.config import base_config
from jaxgan.engine.state import create_state
from jaxgan.engine.train_step import jit_train_step, make_train_step
from jaxgan.objectives.factory import build_gan
from jaxgan.terms.losses import get_loss

BATCH = {"x": np.random.default_rng(0).uniform(-1, 1, (2, 8, *IMAGE_SHAPE)).astype(np.float32)}


def equations(jaxpr):
    """Every equation of `jaxpr` and of the jaxprs nested in it (pjit, custom_vjp, scan, ...)."""
    for eqn in jaxpr.eqns:
        yield eqn
        for param in eqn.params.values():
            for sub in param if isinstance(param, list | tuple) else [param]:
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    yield from equations(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    yield from equations(sub)


def abstract_state(gan, ema=False):
    """The state's shapes and dtypes, without running the initialisers."""
    return jax.eval_shape(lambda: create_state(gan, IMAGE_SHAPE, seed=0, ema=ema))


def step_fn(gan):
    return make_train_step(gan, get_loss("non_saturating"), n_disc=2)


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_bf16_step_multiplies_in_bf16_and_keeps_float32_state_and_losses(model):
    gan = tiny_gan(model, dtype=jnp.bfloat16)
    state = abstract_state(gan, ema=True)
    jaxpr = jax.make_jaxpr(step_fn(gan))(state, BATCH).jaxpr
    heavy = Counter(tuple(str(v.aval.dtype) for v in eqn.invars) for eqn in equations(jaxpr)
                    if eqn.primitive.name in ("conv_general_dilated", "dot_general"))
    assert heavy and set(heavy) == {("bfloat16", "bfloat16")}, heavy  # forward and backward, G and D
    new_state, metrics = jax.eval_shape(step_fn(gan), state, BATCH)
    floats = [(jax.tree_util.keystr(path), leaf.dtype) for path, leaf in jax.tree_util.tree_leaves_with_path(
        (new_state.nets["G"], new_state.nets["D"], new_state.ema["G"])) if not jnp.issubdtype(leaf.dtype, jnp.integer)]
    assert floats and all(dtype == jnp.float32 for _, dtype in floats), floats  # params, Adam moments, BN stats
    assert all(m.dtype == jnp.float32 for m in metrics.values())


def test_generator_hands_its_fakes_to_d_in_bf16():
    for model in ("mlp", "dcgan"):
        for dtype in (jnp.bfloat16, jnp.float32):
            gan = tiny_gan(model, dtype=dtype)
            variables = abstract_state(gan).nets["G"].variables()
            fake = jax.eval_shape(gan.generate, variables, jax.ShapeDtypeStruct((2, gan.z_dim), jnp.float32))
            assert fake.dtype == dtype, (model, dtype)


def test_bf16_mlp_steps_are_finite_and_change_float32_params():
    config = base_config()
    config.model.compute_dtype = "bfloat16"
    gan = build_gan(config, IMAGE_SHAPE)
    state = create_state(gan, IMAGE_SHAPE, seed=0)
    before = jax.tree.map(np.asarray, state.nets["G"].params)
    step = jit_train_step(make_train_step(gan, get_loss("non_saturating")))
    for _ in range(3):
        state, metrics = step(state, {"x": BATCH["x"][:1]})
    assert all(np.isfinite(float(v)) for v in metrics.values())
    for old, new in zip(jax.tree.leaves(before), jax.tree.leaves(state.nets["G"].params), strict=True):
        assert new.dtype == jnp.float32 and not np.array_equal(old, new)
