"""CycleGAN smoke run on the CPU: red discs <-> blue squares at 32x32, unpaired (trains in minutes).

The data is synthetic (`jaxgan.translation.synthetic.write_discs_and_squares`); write it, then train:

    python -c "from jaxgan.translation.synthetic import write_discs_and_squares as w; \
        w('/tmp/discs2squares', {'train': (256, 256), 'test': (16, 16)})"
    jaxgan train --config experiments/configs/cyclegan_toy.py --workdir runs/cyclegan_toy

The paper's objective (LSGAN + 10 * cycle + 5 * identity, pool of 50) with tiny networks (2 ResNet blocks) and a 10x
learning rate. Expected: within a few hundred steps the translated discs turn blue (and squares red) while
`eval/cycle_a` and `eval/cycle_b` fall below 0.15; measured at step 1,000 on seeds 1-3: cycle_a 0.124 +- 0.005, cycle_b
0.129 +- 0.008 (per seed: docs/results.md). Reproduce a seed S (checks EXPECTED below: the larger mean + 3 std, 0.152,
rounded up, for both symmetric directions):

    jaxgan reproduce cyclegan_toy --workdir runs/reproduce/cyclegan_toy_sS --config.seed=S
"""

from jaxgan.translation.config import base_config

# The band `jaxgan reproduce cyclegan_toy` checks; the trainer logs `eval/*` (before the shared loop: `Eval/*`).
EXPECTED = {"eval/cycle_a": ("<=", 0.16), "eval/cycle_b": ("<=", 0.16)}


def get_config():
    c = base_config("cyclegan")
    c.data.source = "folder"
    c.data.path = "/tmp/discs2squares"
    c.data.crop_size = 32
    c.model.ngf = 16
    c.model.ndf = 16
    c.model.n_blocks = 2
    c.optim.lr = 2e-3
    c.train.batch_size = 4
    c.train.num_steps = 1000
    c.train.log_every = 50
    c.train.eval_every = 200
    c.train.checkpoint_every = 500
    return c
