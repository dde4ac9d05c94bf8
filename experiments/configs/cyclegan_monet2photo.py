"""CycleGAN style transfer, Monet paintings <-> photos (Zhu et al. 2017, sec. 5.2 "Collection style transfer" and
"Photo generation from paintings"; the same settings as `cyclegan_horse2zebra.py`).

The identity loss (0.5 * lambda, on by default) is what the paper adds for painting -> photo so that colours are kept
(its Fig. 9). tfds `cycle_gan/monet2photo` has 1,072 paintings and 6,287 photos; 200 epochs over the larger domain
would be 1.26M steps, so this config trains 200 epochs of the paintings (214,400 steps) instead. Command:

    jaxgan train --config experiments/configs/cyclegan_monet2photo.py --workdir runs/monet \
        --config.data.data_dir=/path/to/tensorflow_datasets

Expected (not reproduced here): photos rendered with Monet's palette and brushwork (A -> B is Monet -> photo).
"""

from jaxgan.translation.config import base_config


def get_config():
    c = base_config("cyclegan")
    c.data.source = "tfds"
    c.data.tfds_name = "cycle_gan/monet2photo"
    c.train.num_steps = 200 * 1072
    c.train.log_every = 100
    c.train.eval_every = 5000
    c.train.checkpoint_every = 10_000
    return c
