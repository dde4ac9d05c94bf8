"""K train steps per dispatch: one lax.scan call computes what K calls compute, with per-step metrics."""

import jax
import numpy as np
import pytest
from parallel_worker import IMAGE_SHAPE, init_state, tiny_gan

from jaxgan.engine.multistep import (
    dispatch_batches,
    dispatch_sizes,
    jit_multi_step,
    make_multi_step,
    split_metrics,
    unroll_k_steps,
)
from jaxgan.engine.train_step import jit_train_step, make_train_step
from jaxgan.terms.losses import get_loss

K, N_DISC, BATCH = 4, 2, 8


def stacked_batches(seed=0):
    x = np.random.default_rng(seed).uniform(-1, 1, (K, N_DISC, BATCH, *IMAGE_SHAPE)).astype(np.float32)
    return {"x": x}


@pytest.mark.parametrize("model,unroll", [("mlp", False), ("dcgan", False), ("dcgan", True)])
def test_k_steps_in_one_call_equal_k_calls(model, unroll):
    gan = tiny_gan(model)
    step = make_train_step(gan, get_loss("non_saturating"), n_disc=N_DISC)
    batches = stacked_batches()
    state = init_state(gan, ema=True)
    one = jit_train_step(step)
    separate = []
    for i in range(K):
        state, metrics = one(state, {"x": batches["x"][i]})
        separate.append(metrics)
    scanned_state, scanned = jit_multi_step(step, K, unroll=unroll)(init_state(gan, ema=True), batches)
    assert int(scanned_state.step) == K
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(scanned_state), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert scanned.keys() == separate[0].keys()
    for name, values in scanned.items():
        assert values.shape == (K,), name
        np.testing.assert_allclose(values, [m[name] for m in separate], rtol=1e-6, atol=1e-7, err_msg=name)


def test_conv_models_are_unrolled_on_cpu_only():
    assert unroll_k_steps("dcgan", "cpu") and unroll_k_steps("resnet", "cpu")
    assert not unroll_k_steps("mlp", "cpu")  # a loop: K = 200 stays one small program
    assert not unroll_k_steps("dcgan", "gpu") and not unroll_k_steps("resnet", "tpu")
    assert unroll_k_steps("dcgan")  # the suite runs on the CPU backend


def test_split_metrics_gives_one_row_per_step():
    rows = split_metrics({"Loss/D": np.array([1.0, 2.0, np.nan]), "Loss/G": np.array([3.0, 4.0, 5.0])}, 11)
    assert [s for s, _ in rows] == [11, 12, 13]
    assert rows[1][1] == {"Loss/D": 2.0, "Loss/G": 4.0}
    assert np.isnan(rows[2][1]["Loss/D"])


def test_dispatch_sizes_cover_the_run_exactly():
    assert list(dispatch_sizes(0, 10, 4)) == [4, 4, 1, 1]
    assert list(dispatch_sizes(3, 11, 4)) == [4, 4]
    assert sum(dispatch_sizes(5, 1000, 7)) == 995


def test_dispatch_batches_stack_consecutive_steps():
    steps = iter([{"x": np.full((N_DISC, 3), i)} for i in range(7)])
    groups = list(dispatch_batches(steps, dispatch_sizes(0, 7, 3)))
    assert [g["x"].shape for g in groups] == [(3, N_DISC, 3), (3, N_DISC, 3), (1, N_DISC, 3)]
    np.testing.assert_array_equal(np.concatenate([g["x"][:, 0, 0] for g in groups]), np.arange(7))


def test_bad_k_or_batch_axis_is_a_clear_error():
    with pytest.raises(ValueError, match="steps_per_dispatch"):
        make_multi_step(lambda s, b: (s, {}), 0)
    multi = make_multi_step(lambda s, b: (s, {}), 3)
    with pytest.raises(ValueError, match="leading axis of 3"):
        multi(0, {"x": np.zeros((2, 1, 4))})
