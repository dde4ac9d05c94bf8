"""pix2pix on CMP Facades, labels -> photo (Isola et al. 2017, "Image-to-Image Translation with Conditional
Adversarial Networks", CVPR; sec. 4 and appendix 6).

Paper settings, all from `base_config("pix2pix")`: U-Net-256 generator (8 levels, BatchNorm, dropout 0.5 in three
decoder levels), 70x70 PatchGAN on (input, output) pairs, BCE adversarial loss + 100 * L1, D's loss halved,
Adam lr 2e-4 with beta1 0.5 and beta2 0.999, batch 1, random jitter (resize to 286, random crop to 256) and mirroring,
N(0, 0.02) initialisation. Facades: 400 training images, 200 epochs = 80,000 steps; the authors' code keeps the lr
for 100 epochs and decays it linearly to 0 over the next 100 (optim.decay_fraction = 0.5).

tfds has no paired copy of facades, so download the pix2pix version (side-by-side photo | labels JPEGs, folders
train/, val/, test/) from https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz, unpack it, then:

    jaxgan train --config experiments/configs/pix2pix_facades.py --workdir runs/facades \
        --config.data.path=/path/to/facades

Expected (not reproduced here): after 200 epochs the held-out `eval/L1` falls and samples/ show plausible facades
with windows and doors where the label maps put them; the paper's Fig. 8 shows this setting.
"""

from jaxgan.translation.config import base_config


def get_config():
    c = base_config("pix2pix")
    c.data.source = "folder"
    c.data.direction = "BtoA"  # the files hold photo (left, A) | labels (right, B); translate labels -> photo
    c.data.eval_split = "test"
    steps_per_epoch = 400  # training images at batch 1
    c.train.num_steps = 200 * steps_per_epoch
    c.train.log_every = 100
    c.train.eval_every = 2000
    c.train.checkpoint_every = 10_000
    return c
