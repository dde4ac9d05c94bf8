"""pix2pix on Google Maps, aerial photo -> map (Isola et al. 2017, sec. 4.2 and appendix 6: 1096 training images,
batch 1, 200 epochs, the same networks, losses and Adam settings as `pix2pix_facades.py`).

Download https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/maps.tar.gz (aerial | map side by side, folders
train/ and val/), unpack it, then:

    jaxgan train --config experiments/configs/pix2pix_maps.py --workdir runs/maps \
        --config.data.path=/path/to/maps

Set --config.data.direction=BtoA for map -> aerial. Expected (not reproduced here): sharp road and water layouts
after 200 epochs (219,200 steps), as in the paper's Fig. 9 and Table 4.
"""

from jaxgan.translation.config import base_config


def get_config():
    c = base_config("pix2pix")
    c.data.source = "folder"
    c.data.direction = "AtoB"  # aerial photo (left) -> map (right)
    c.data.eval_split = "val"  # the maps download has train/ and val/
    c.train.num_steps = 200 * 1096
    c.train.log_every = 100
    c.train.eval_every = 5000
    c.train.checkpoint_every = 10_000
    return c
