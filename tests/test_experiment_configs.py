"""The paper configs: each cites its paper and command, builds at its own size and trains 3 steps on the digits."""

import json

import jax
import numpy as np
import pytest
from conftest import load_experiment_config

from jaxgan.config import validate
from jaxgan.data import build_dataset, stack_batches
from jaxgan.engine.state import create_state
from jaxgan.engine.train_step import jit_train_step
from jaxgan.objectives.factory import build_gan, build_train_step, ema_decay
from jaxgan.run.train import train_and_evaluate

PAPER_CONFIGS = ["dcgan_radford2015", "wgan_gp_gulrajani2017", "sngan_miyato2018", "projection_cgan_miyato2018",
                 "ttur_heusel2017", "r1_ema_mescheder2018", "r3gan_huang2024"]


def tiny(config):
    """The same recipe (loss, penalties, conditioning, optimizers) on 8x8 digits with 4-wide nets.

    n_disc is capped at 2: the D updates of a step are unrolled, so compile time grows with n_disc, and 2 already
    takes the path of several D updates per step.
    """
    config.data.image_size = 8
    config.train.batch_size = 8
    config.n_disc = min(config.n_disc, 2)
    if config.model.name == "resnet":
        config.model.resnet.g_widths, config.model.resnet.d_widths, config.model.resnet.d_down = (4, 4), (4,), 1
    else:
        config.model.dcgan.ngf = config.model.dcgan.ndf = 4
    return config


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_config_cites_its_paper_and_builds_on_the_digits(name):
    module = load_experiment_config(name)
    doc = module.__doc__
    assert f"--config experiments/configs/{name}.py" in doc  # the exact command
    for source in ("tfds_name=mnist", "tfds_name=cifar10", "data.name=folder"):  # the switches to other data
        assert source in doc, f"{name} does not say how to run on {source}"
    config = module.get_config()
    validate(config)
    assert config.data.name == "digits"
    dataset = build_dataset(config.data, seed=0)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    assert (gan.num_classes is not None) == (config.model.d_cond != "none")


def test_configs_carry_the_papers_hyper_parameters():
    wgan, sngan, proj = (load_experiment_config(n).get_config() for n in PAPER_CONFIGS[1:4])
    assert (wgan.reg.gp_weight, wgan.n_disc, wgan.optim.d.lr, wgan.optim.d.b1, wgan.optim.d.b2) == (10, 5, 1e-4, 0, 0.9)
    assert (sngan.loss, sngan.n_disc, sngan.model.spectral_norm) == ("hinge", 5, True)
    assert (proj.model.g_cond, proj.model.d_cond) == ("cbn", "projection")
    ttur, r1 = (load_experiment_config(n).get_config() for n in ("ttur_heusel2017", "r1_ema_mescheder2018"))
    assert ttur.optim.d.lr > ttur.optim.g.lr
    assert (r1.reg.r1_gamma, ema_decay(r1), r1.optim.d.name) == (10, 0.999, "rmsprop")
    r3 = load_experiment_config("r3gan_huang2024").get_config()
    assert (r3.loss, r3.reg.r1_gamma, r3.reg.r2_gamma, r3.optim.d.b1, r3.optim.g.lr) == (
        "relativistic_pairing", 0.05, 0.05, 0.0, 2e-4)


@pytest.mark.parametrize("name", [n for n in PAPER_CONFIGS if n != "projection_cgan_miyato2018"])
def test_config_runs_three_steps_on_the_digits(name):
    config = tiny(load_experiment_config(name).get_config())
    dataset = build_dataset(config.data, seed=0)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    state = create_state(gan, dataset.example_shape, seed=0, ema=ema_decay(config) > 0)
    step = jit_train_step(build_train_step(config, gan, dataset.example_shape))
    batches = stack_batches(dataset.batches(config.train.batch_size), config.n_disc)
    for _ in range(3):
        state, metrics = step(state, jax.tree.map(np.asarray, next(batches)))
    assert int(state.step) == 3
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_conditional_config_trains_through_the_trainer_with_labels_from_the_pipeline(tmp_path):
    config = tiny(load_experiment_config("projection_cgan_miyato2018").get_config())
    config.train.num_steps, config.train.num_samples, config.train.progress = 3, 16, False
    state = train_and_evaluate(config, tmp_path)
    assert int(state.step) == 3
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert np.isfinite(rows[-1]["Loss/D"]) and np.isfinite(rows[-1]["Loss/G"])
    assert (tmp_path / "samples" / "step_0000003.png").exists()  # a 4 x 4 grid, one row per class
    assert "batch_stats" in state.nets["D"].collections  # spectral norm's power-iteration state is part of the state
