"""MLP GAN on a 5x5 grid of Gaussians (VEEGAN / PacGAN's mode-collapse benchmark); draft recipe."""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.seed = 1
    c.data.name = "grid25"
    c.model.z_dim = 2
    c.model.g_hidden = (128, 128, 128)
    c.model.d_hidden = (128, 128)
    c.model.output_activation = "linear"
    c.model.pack = 1
    for net in ("g", "d"):
        c.optim[net].lr = 2e-3
        c.optim[net].schedule = "linear"
        c.optim[net].end_factor = 0.01
    c.reg.instance_noise_std = 1.0
    c.reg.instance_noise_anneal_steps = 3000
    c.ema.decay = 0.999
    c.train.batch_size = 256
    c.train.num_steps = 8000
    c.train.steps_per_dispatch = 200
    c.train.num_samples = 2000
    c.train.eval_every = 1000
    c.train.progress = False
    c.train.best_metric, c.train.best_mode = "eval/modes_captured", "max"
    c.eval.metrics = ("modes",)
    c.eval.num_samples = 2500
    return c


EXPECTED = {"eval/modes_captured": (">=", 25), "eval/hq_fraction": (">=", 0.95)}
