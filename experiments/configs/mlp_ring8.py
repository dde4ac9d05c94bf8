"""MLP GAN on 8 Gaussians on a ring (the mode-collapse toy of Metz et al. 2017, "Unrolled GANs").

G (three hidden layers of 128) maps a 2-D z to 2-D points; D has two hidden layers of 128. Without help a plain
GAN here collapses onto one or two modes; annealed instance noise (Sonderby et al. 2017), a decaying learning rate
and an EMA of G spread it over all eight. Command:

    python experiments/train.py --config experiments/configs/mlp_ring8.py --workdir runs/ring8

Mode coverage (modes captured, high-quality share, KL from uniform) is logged every 1,000 steps as eval/*, and the
checkpoint with the most modes captured is kept; see samples/*.png (red = mode centres).
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.seed = 1
    c.data.name = "ring8"
    c.model.z_dim = 2
    c.model.g_hidden = (128, 128, 128)
    c.model.d_hidden = (128, 128)
    c.model.output_activation = "linear"
    for net in ("g", "d"):
        c.optim[net].lr = 2e-3
        c.optim[net].schedule = "linear"
        c.optim[net].end_factor = 0.1
    c.reg.instance_noise_std = 1.0
    c.reg.instance_noise_anneal_steps = 3000
    c.ema.decay = 0.999
    c.train.batch_size = 128
    c.train.num_steps = 8000
    c.train.num_samples = 2000
    c.train.eval_every = 1000
    c.train.best_metric, c.train.best_mode = "eval/modes_captured", "max"
    c.eval.metrics = ("modes",)
    c.eval.num_samples = 2500
    return c


EXPECTED = {"eval/modes_captured": (">=", 8), "eval/hq_fraction": (">=", 0.95)}
