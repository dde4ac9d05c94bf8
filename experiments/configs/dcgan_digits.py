"""DCGAN (Radford et al. 2015) at 32x32 on the embedded digits: BatchNorm, Adam 2e-4 with beta1 0.5, BCE.

    python experiments/train.py --config experiments/configs/dcgan_digits.py --workdir runs/dcgan_digits

ngf = ndf = 32 keeps it CPU-sized; use experiments/configs/dcgan64.py for the paper's 64x64 network.
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.model.name = "dcgan"
    c.model.dcgan.ngf = c.model.dcgan.ndf = 32
    c.data.image_size = 32
    c.train.batch_size = 64
    c.train.num_steps = 2000
    c.train.log_every = 50
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    return c
