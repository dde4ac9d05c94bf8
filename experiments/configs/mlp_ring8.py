"""MLP GAN on 8 Gaussians on a ring (the mode-collapse toy of Metz et al. 2017, "Unrolled GANs").

G and D have two hidden layers of 128 with leaky ReLU; G's output is linear (2-D points). Command:

    python experiments/train.py --config experiments/configs/mlp_ring8.py --workdir runs/ring8

Expected: within ~3,000 steps the samples cover all 8 modes (see samples/*.png: red = mode centres).
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.name = "ring8"
    c.model.z_dim = 16
    c.model.output_activation = "linear"
    c.optim.g.lr = c.optim.d.lr = 1e-3
    c.train.batch_size = 256
    c.train.num_steps = 3000
    c.train.num_samples = 2000
    return c
