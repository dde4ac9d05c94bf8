"""DCGAN-64 (Radford et al. 2015, the PyTorch example's network: nz 100, ngf = ndf = 64) on a tfds dataset.

Paper settings: Adam lr 2e-4, beta1 0.5, batch 128, BCE (non-saturating G loss), N(0, 0.02) init. Command (CelebA
must already be prepared in the tfds data dir, since tfds cannot download here):

    jaxgan train --config experiments/configs/dcgan64.py --workdir runs/dcgan64 \
        --config.data.data_dir=/path/to/tensorflow_datasets

Expected result: to be measured on a GPU (50,000 steps of batch 128 at 64x64: GPU-sized); the paper
reports no FID for its face model, only samples and latent-space arithmetic on faces.
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.name = "tfds"
    c.data.tfds_name = "celeb_a"
    c.data.image_size = 64
    c.data.channels = 3
    c.data.center_crop = True
    c.model.name = "dcgan"
    c.train.batch_size = 128
    c.train.num_steps = 50_000
    c.train.log_every = 100
    c.train.sample_every = 1000
    c.train.checkpoint_every = 5000
    return c
