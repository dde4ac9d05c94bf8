"""The logged-only metrics (Grad/* norms and D's output statistics D/*): computed only on the logged steps (every
`train.log_every`-th), with the update itself unchanged; the host drops the placeholders of the other steps, and a
save checks the state."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.engine.grad_norms import computed_when, drop_unlogged, grad_norm, logged_only
from jaxgan.engine.multistep import jit_multi_step
from jaxgan.engine.state import GAN, create_state
from jaxgan.engine.train_step import grad_norms_every, jit_train_step, make_train_step, with_grad_norm_policy
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.run.health import DeadRunWatch, NonFiniteError, check_state_finite
from jaxgan.terms.losses import get_loss
from tests.conftest import tiny_mlp_run_config

SHAPE = (6,)


def small_step(n_disc=1):
    gan = GAN(MLPGenerator(SHAPE, hidden=(16,)), MLPDiscriminator(hidden=(16,)), optax.adam(1e-2), optax.adam(1e-2),
              z_dim=4)
    return gan, make_train_step(gan, get_loss("non_saturating"), n_disc=n_disc)


def batch_at(t, n_disc=1):
    return {"x": jax.random.normal(jax.random.PRNGKey(t), (n_disc, 8, *SHAPE))}


def test_grad_norm_is_the_global_l2_norm_and_nan_where_not_computed():
    grads = {"a": jnp.array([3.0, 4.0]), "b": {"c": jnp.array([[12.0]])}}
    assert float(grad_norm(grads)) == 13.0  # sqrt(9 + 16 + 144)
    norm_if = jax.jit(lambda flag, g: _traced_norm(flag, g))
    assert float(norm_if(True, grads)) == 13.0
    assert np.isnan(float(norm_if(False, grads)))


def _traced_norm(flag, grads):
    with computed_when(flag):
        return grad_norm(grads)


def test_logged_only_computes_any_metrics_under_the_flag_and_nans_of_their_shape_elsewhere():
    stats = lambda x: {"mean": jnp.mean(x), "rows": jnp.sum(x, axis=1)}
    x = jnp.array([[1.0, 2.0], [3.0, 5.0]])

    def traced(flag):
        with computed_when(flag):
            return logged_only(stats, x)

    assert logged_only(stats, x)["mean"] == 2.75  # outside computed_when: always computed
    on, off = jax.jit(traced)(True), jax.jit(traced)(False)
    np.testing.assert_array_equal(on["rows"], [3.0, 8.0])
    assert on["mean"] == 2.75 and np.isnan(off["mean"]) and off["rows"].shape == (2,) and np.isnan(off["rows"]).all()


def test_logged_norms_equal_every_step_norms_on_multiples_of_every_and_the_update_is_the_same():
    gan, step = small_step(n_disc=2)
    every_step, logged = jit_train_step(step), jit_train_step(grad_norms_every(step, 3))
    want, got = create_state(gan, SHAPE, seed=0), create_state(gan, SHAPE, seed=0)  # each donated by its step
    for t in range(1, 7):  # the row of the step that takes the counter from t-1 to t is logged when t % 3 == 0
        want, want_metrics = every_step(want, batch_at(t, 2))
        got, got_metrics = logged(got, batch_at(t, 2))
        for name in ("Grad/D_norm", "Grad/G_norm", "D/real", "D/fake"):
            if t % 3 == 0:
                np.testing.assert_allclose(float(got_metrics[name]), float(want_metrics[name]), rtol=1e-5)
            else:
                assert np.isnan(float(got_metrics[name])), (t, name)
        assert float(got_metrics["Loss/D"]) == pytest.approx(float(want_metrics["Loss/D"]), rel=1e-5)
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-7)


def test_logged_norms_follow_the_step_counter_inside_a_k_step_dispatch():
    gan, step = small_step()
    k_steps = jit_multi_step(grad_norms_every(step, 2), 4)
    batches = {"x": jnp.stack([batch_at(t)["x"] for t in range(4)])}
    _, metrics = k_steps(create_state(gan, SHAPE, seed=0), batches)
    norms = np.asarray(metrics["Grad/D_norm"])  # rows 1..4: computed on rows 2 and 4
    assert np.isnan(norms[[0, 2]]).all() and np.isfinite(norms[[1, 3]]).all() and (norms[[1, 3]] > 0).all()


def test_unlogged_steps_skip_the_norms_in_the_compiled_program():
    gan, step = small_step()
    state, batch = create_state(gan, SHAPE, seed=0), batch_at(0)
    hlo = lambda fn: jax.jit(fn).lower(state, batch).compile().as_text()
    assert hlo(grad_norms_every(step, 10)).count("conditional(") == 2  # one branch per update, skipped off the log
    assert "conditional" not in hlo(step)


def test_the_policy_follows_train_grad_norms_and_log_every():
    gan, step = small_step()
    state, batch = create_state(gan, SHAPE, seed=0), batch_at(0)
    metrics = lambda fn: jax.jit(fn)(state, batch)[1]
    assert not any(k.startswith("Grad/") for k in metrics(with_grad_norm_policy(step, False, 10)))
    assert not any(k.startswith("Grad/") for k in metrics(with_grad_norm_policy(step, True, 0)))  # nothing logged
    assert np.isfinite(float(metrics(with_grad_norm_policy(step, True, 1))["Grad/D_norm"]))  # every step
    assert np.isnan(float(metrics(with_grad_norm_policy(step, True, 10))["Grad/D_norm"]))  # row 1 is not logged


def test_drop_unlogged_keeps_the_norms_of_logged_rows_only():
    logged = {"Grad/D_norm": 0.5, "D/real": 2.0}
    rows = [(t, {"Loss/D": 1.0, **({k: float("nan") for k in logged} if t % 2 else logged)}) for t in (1, 2, 3, 4)]
    assert drop_unlogged(rows, 2) == [(1, {"Loss/D": 1.0}), (2, {"Loss/D": 1.0, **logged}),
                                      (3, {"Loss/D": 1.0}), (4, {"Loss/D": 1.0, **logged})]
    assert drop_unlogged(rows, 1) is rows


def test_the_dead_run_watch_reads_the_norms_of_the_logged_rows():
    watch = DeadRunWatch(intervals=2)
    interval = lambda first: [(first + i, {"Loss/D": 0.7}) for i in range(3)] + [(first + 3, {"Grad/G_norm": 0.0})]
    assert watch.check(interval(1)) is None
    assert watch.check(interval(5)).startswith("The run looks dead at step 8: Grad/G_norm has been 0 since step 1")


def test_a_save_stops_on_a_non_finite_state_whose_losses_were_finite():
    state = {"params": {"w": jnp.array([1.0, jnp.nan])}, "opt_state": {"mu": jnp.zeros(2)}, "step": jnp.int32(3)}
    with pytest.raises(NonFiniteError, match=r"after step 7, with finite losses: params\.w\. The run stopped"):
        check_state_finite(state, 7)
    check_state_finite(jax.tree.map(jnp.nan_to_num, state), 7)  # finite: no error


def test_a_run_logs_the_norms_on_multiples_of_log_every_only(tmp_path):
    from jaxgan.run.train import train_and_evaluate

    train_and_evaluate(tiny_mlp_run_config(num_steps=6, log_every=3, checkpoint_every=2), tmp_path)
    rows = {r["step"]: r for r in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines())}
    assert sorted(rows) == [2, 3, 4, 6]  # the log steps, and the rows flushed at the saves of steps 2 and 4
    for name in ("Grad/D_norm", "D/real", "D/fake_prob"):
        assert [s for s in rows if name in rows[s]] == [3, 6], name
    assert all(rows[s]["Grad/D_norm"] > 0 and 0 < rows[s]["D/fake_prob"] < 1 for s in (3, 6))


def test_a_state_gone_non_finite_with_finite_losses_is_not_saved(tmp_path, monkeypatch):
    from jaxgan.run import dispatch
    from jaxgan.run.train import train_and_evaluate

    policy = dispatch.with_grad_norm_policy

    def poisoned(step, *args):  # G's params become NaN in the step that takes the counter to 3; its losses are finite
        inner = policy(step, *args)

        def step_fn(state, batch):
            state, metrics = inner(state, batch)
            nan_if = lambda x: jnp.where(state.step == 3, jnp.nan, x)
            g = state.nets["G"]
            return state.with_net("G", g.replace(params=jax.tree.map(nan_if, g.params))), metrics

        return step_fn

    monkeypatch.setattr(dispatch, "with_grad_norm_policy", poisoned)
    with pytest.raises(NonFiniteError, match=r"after step 3, with finite losses: nets\.G\.params\."):
        train_and_evaluate(tiny_mlp_run_config(num_steps=6, log_every=5, checkpoint_every=3), tmp_path)
    assert not (tmp_path / "checkpoints" / "3").exists()
