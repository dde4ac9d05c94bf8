"""Issue 18, point 6: a dead run (D's logits blown up, or zero gradient norms for several log intervals) is warned
about once, naming the step; a healthy run is not."""

import logging

import pytest

from jaxgan.config import base_config
from jaxgan.run.health import DEAD_INTERVALS, DeadRunWatch
from jaxgan.run.train import train_and_evaluate


def rows(first_step, n, **metrics):
    return [(first_step + i, dict(metrics)) for i in range(n)]


def test_zero_gradient_norms_for_n_intervals_warn_once_naming_the_steps():
    watch = DeadRunWatch()
    healthy = {"Loss/D": 1.3, "Loss/G": 0.7, "Grad/D_norm": 0.5, "Grad/G_norm": 0.4}
    dead_g = {**healthy, "Grad/G_norm": 0.0}
    assert watch.check(rows(1, 10, **healthy)) is None
    assert watch.check(rows(11, 10, **dead_g)) is None
    assert watch.check(rows(21, 10, **healthy)) is None  # recovered: the count starts again
    for k in range(DEAD_INTERVALS - 1):
        assert watch.check(rows(31 + 10 * k, 10, **dead_g)) is None
    message = watch.check(rows(31 + 10 * (DEAD_INTERVALS - 1), 10, **dead_g))
    assert message.startswith(f"The run looks dead at step {30 + 10 * DEAD_INTERVALS}: Grad/G_norm has been 0 "
                              "since step 31")
    assert watch.check(rows(100, 10, **dead_g)) is None  # once


def test_an_interval_with_one_nonzero_norm_is_not_dead():
    watch = DeadRunWatch(intervals=1)
    mixed = rows(1, 4, **{"Grad/D_norm": 0.0}) + [(5, {"Grad/D_norm": 1e-3})]
    assert watch.check(mixed) is None


@pytest.mark.parametrize("lr, dead", [(1e3, True), (2e-4, False)])
def test_a_huge_learning_rate_is_flagged_as_a_dead_run(tmp_path, caplog, lr, dead):
    c = base_config()
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.model.z_dim = 8
    c.data.image_size = 8
    c.optim.g.lr = c.optim.d.lr = lr
    c.train.update(dict(batch_size=8, num_steps=4, log_every=1, progress=False, num_devices=1, num_samples=4,
                        sample_every=1000))
    with caplog.at_level(logging.WARNING, logger="jaxgan.objectives.gan_task"):
        train_and_evaluate(c, tmp_path)
    flagged = [r.getMessage() for r in caplog.records if "looks dead" in r.getMessage()]
    assert len(flagged) == (1 if dead else 0)
    if dead:
        assert flagged[0].startswith("The run looks dead at step ") and "Lower optim.*.lr" in flagged[0]
