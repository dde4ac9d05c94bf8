"""R3GAN's objective (Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN! A Modern
GAN Baseline", NeurIPS 2024): the relativistic pairing loss RpGAN plus both zero-centred penalties, R1 on reals and
R2 on fakes.

Paper: D minimises E softplus(-(D(x_i) - D(G(z_i)))) and G the mirror (eq. 2 with f = softplus(-t); jaxgan's
`relativistic_pairing` loss), plus gamma / 2 * (R1 + R2) in every D update (not lazy). CIFAR-10 preset of the
authors' code: Adam with beta1 = 0 for both nets, lr 2e-4 (annealed to 5e-5), beta2 0.9 (annealed to 0.99), gamma
0.05 (annealed to 0.005), batch 512, one D update per G update, an EMA of G. Here the schedules are held at their
starting values (jaxgan has no schedule for gamma or beta2), the EMA is a plain decay of 0.999 with warm-up instead
of the authors' growing half-life, and the net is jaxgan's 32-wide SNGAN-style ResNet (no BatchNorm in D, as
gradient penalties need) instead of R3GAN's grouped-convolution ResNet, at batch 64, so it runs on a CPU.

Not the same samples: the authors' training loop gives its G phase a fresh real batch and fresh z (it reads two
batches per iteration, one for D and one for G). jaxgan's step with n_disc = 1 does not: G's update reuses the real
batch and the z of the D update just made, on one G forward pass (`phases.d_then_g_main`), because the loader serves
n_disc real batches per step and a fresh G batch would cost a second batch read and a second G forward pass per
step. G's loss is then evaluated by the updated D on the samples D just trained on, an estimate with the same
expectation but correlated with D's update. Command:

    jaxgan train --config experiments/configs/r3gan_huang2024.py --workdir runs/r3gan

Expected: to be measured on a GPU (10,000 steps of batch 64, 640k images: GPU-sized, see docs/results.md). A 300-step
run (docs/results.md) stays finite with D ahead, and its EMA grid shows digit-like strokes, not yet clear digits.
Other data:

    --config.data.name=tfds --config.data.tfds_name=cifar10 --config.data.channels=3
    --config.data.name=tfds --config.data.tfds_name=mnist
    --config.data.name=folder --config.data.path=/path/to/images --config.data.channels=3
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.image_size = 32
    c.model.name = "resnet"
    c.model.z_dim = 64                       # paper's code: NoiseDimension 64
    c.model.resnet.g_widths = (32, 32, 32, 32)      # scaled down from 768 per stage so it runs on a CPU
    c.model.resnet.d_widths = (32, 32, 32, 32)
    c.model.resnet.d_down = 2
    c.loss = "relativistic_pairing"          # paper: RpGAN
    c.reg.r1_gamma = 0.05                    # paper: gamma / 2 * (R1 + R2), gamma 0.05 at the start (CIFAR-10)
    c.reg.r2_gamma = 0.05
    c.reg.lazy_interval = 1                  # paper: both penalties in every D update
    c.n_disc = 1                             # paper: one D update per G update
    for opt in (c.optim.g, c.optim.d):
        opt.name = "adam"
        opt.lr = 2e-4                        # paper: 2e-4 at the start (annealed to 5e-5 there)
        opt.b1 = 0.0                         # paper: beta1 = 0
        opt.b2 = 0.9                         # paper: 0.9 at the start (annealed to 0.99 there)
    c.ema.decay = 0.999                      # paper: EMA of G (its half-life grows during training there)
    c.train.batch_size = 64                  # paper: 512
    c.train.num_steps = 10000
    c.train.log_every = 100
    c.train.sample_every = 1000
    c.train.checkpoint_every = 2000
    return c
