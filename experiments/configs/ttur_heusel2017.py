"""TTUR (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium").

Paper: the discriminator gets its own, larger learning rate instead of more updates per G update. Its WGAN-GP on
CIFAR-10 result (Table 1: FID 24.8 with TTUR against 29.3 with one time-scale) uses lr_D = 3e-4, lr_G = 1e-4 and one
critic update per G update, with WGAN-GP's lambda = 10 and Adam (beta1, beta2) = (0, 0.9) and batch 64. (The
authors' LSUN script, bioinf-jku/TTUR WGAN_GP/gan_64x64_FID.py, sets the opposite pair, D_LR=1e-4 and G_LR=3e-4;
swap `optim.g.lr` and `optim.d.lr` to try it.) The WGAN-GP ResNet, 32 wide on the digits. Command:

    jaxgan train --config experiments/configs/ttur_heusel2017.py --workdir runs/ttur

Expected: to be measured on a GPU (10,000 steps at batch 64 with the gradient penalty, 640k images: GPU-sized, see
docs/results.md). Meanwhile: the same quality as wgan_gp_gulrajani2017.py with one fifth of its D updates per step.
Other data:

    --config.data.name=tfds --config.data.tfds_name=cifar10 --config.data.channels=3 \
    --config.model.resnet.g_widths='(128,128,128,128)' --config.model.resnet.d_widths='(128,128,128,128)'
    --config.data.name=tfds --config.data.tfds_name=mnist
    --config.data.name=folder --config.data.path=/path/to/images --config.data.channels=3
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.image_size = 32
    c.model.name = "resnet"
    c.model.z_dim = 128
    c.model.resnet.g_widths = (32, 32, 32, 32)
    c.model.resnet.d_widths = (32, 32, 32, 32)
    c.model.resnet.d_down = 2
    c.loss = "wasserstein"
    c.reg.gp_weight = 10.0                   # WGAN-GP's lambda
    c.n_disc = 1                             # TTUR: one D update per G update
    c.optim.d.lr = 3e-4                      # TTUR: the discriminator's (faster) time scale
    c.optim.g.lr = 1e-4                      # TTUR: the generator's (slower) time scale
    for opt in (c.optim.g, c.optim.d):
        opt.b1, opt.b2 = 0.0, 0.9            # WGAN-GP's Adam betas
    c.train.batch_size = 64
    c.train.num_steps = 10000
    c.train.log_every = 100
    c.train.sample_every = 1000
    c.train.checkpoint_every = 2000
    return c
