"""CycleGAN on horse2zebra (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", ICCV; sec. 4 and appendix 7).

Paper settings, all from `base_config("cyclegan")`: two ResNet generators with 9 blocks at 256x256 (instance norm,
reflection padding), two 70x70 PatchGANs, least-squares GAN loss, cycle loss lambda = 10, identity loss
0.5 * lambda, a history pool of 50 generated images per D, Adam lr 2e-4 with beta1 0.5, batch 1, resize to 286 and
random crop to 256 with mirroring, N(0, 0.02) initialisation, lr constant for 100 epochs and linearly decayed to 0
over the next 100. An epoch is a pass over the larger domain as in the authors' code: 1,334 zebras -> 266,800 steps.

The data comes from tfds `cycle_gan/horse2zebra` (splits trainA/trainB/testA/testB). tfds cannot download here, so
prepare it where there is internet (`tfds build cycle_gan/horse2zebra --file_format=array_record`), copy it over and:

    jaxgan train --config experiments/configs/cyclegan_horse2zebra.py --workdir runs/h2z \
        --config.data.data_dir=/path/to/tensorflow_datasets

Expected (not reproduced here): zebra stripes on horses (and back) in samples/ as in the paper's Fig. 13;
`eval/cycle_a` and `eval/cycle_b` well below 0.1. Translate new photos with tools/translate.py.
"""

from jaxgan.translation.config import base_config


def get_config():
    c = base_config("cyclegan")
    c.data.source = "tfds"
    c.data.tfds_name = "cycle_gan/horse2zebra"
    c.train.num_steps = 200 * 1334
    c.train.log_every = 100
    c.train.eval_every = 5000
    c.train.checkpoint_every = 10_000
    return c
