"""pix2pix smoke run on the CPU: learn colour inversion of random shapes at 32x32 (trains in minutes).

The data is synthetic (`jaxgan.translation.synthetic.write_inversion_pairs`); write it, then train:

    python -c "from jaxgan.translation.synthetic import write_inversion_pairs as w; \
        w('/tmp/inversion', {'train': 256, 'test': 32})"
    jaxgan train --config experiments/configs/pix2pix_toy.py --workdir runs/pix2pix_toy

The paper's networks at a tiny width (U-Net depth follows the 32x32 crop: 5 levels), its losses (BCE + 100 L1) and
jitter (resize to 36, crop 32); the learning rate is 10x the paper's to learn quickly. Expected: the held-out `eval/L1`
falls from ~0.5 (the best constant colour) to below 0.1 within 1000 steps; measured at step 1,000 on seeds 1-3: 0.0489
+- 0.0032 (per seed: docs/results.md). Reproduce a seed S (checks EXPECTED below, the mean + 3 std rounded up):

    jaxgan reproduce pix2pix_toy --workdir runs/reproduce/pix2pix_toy_sS --config.seed=S
"""

from jaxgan.translation.config import base_config

# The band `jaxgan reproduce pix2pix_toy` checks; the trainer logs `eval/L1` (before the shared loop: `Eval/*`).
EXPECTED = {"eval/L1": ("<=", 0.06)}


def get_config():
    c = base_config("pix2pix")
    c.data.path = "/tmp/inversion"
    c.data.crop_size = 32
    c.model.ngf = 16
    c.model.ndf = 16
    c.optim.lr = 2e-3
    c.train.batch_size = 8
    c.train.num_steps = 1000
    c.train.log_every = 50
    c.train.eval_every = 200
    c.train.checkpoint_every = 500
    return c
