"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"): a critic with a gradient penalty.

Paper, Algorithm 1: lambda = 10 on random interpolates of real and fake, n_critic = 5, Adam lr 1e-4 with
(beta1, beta2) = (0, 0.9), batch 64, no BatchNorm in the critic. Architecture: the paper's CIFAR-10 ResNet
(Appendix F, gan_cifar_resnet.py: DIM_G = DIM_D = 128; 1,204,483 G and 1,053,825 D params), here 32 wide on the
digits so it runs on a CPU. Command:

    jaxgan train --config experiments/configs/wgan_gp_gulrajani2017.py --workdir runs/wgan_gp

Expected: to be measured on a GPU (5,000 steps of 5 critic updates at batch 64 with the gradient penalty, 1.6M images
through the critic: GPU-sized, see docs/results.md). What a run shows meanwhile: Loss/D (the negative critic estimate of
W1 plus the penalty) climbs from a large negative value towards 0 and Loss/D/gp stays around 0.1 or below; digit strokes
appear in samples/ within a few thousand steps. The paper's CIFAR-10 ResNet reaches an Inception score of 7.86
(unsupervised, Table 3) with:

    --config.data.name=tfds --config.data.tfds_name=cifar10 --config.data.channels=3 \
    --config.model.resnet.g_widths='(128,128,128,128)' --config.model.resnet.d_widths='(128,128,128,128)' \
    --config.optim.g.lr=2e-4 --config.optim.d.lr=2e-4 --config.optim.g.schedule=linear \
    --config.optim.d.schedule=linear --config.train.num_steps=100000   # the ResNet script: 2e-4, linear decay

Other data:

    --config.data.name=tfds --config.data.tfds_name=mnist                # MNIST
    --config.data.name=folder --config.data.path=/path/to/images --config.data.channels=3
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.image_size = 32
    c.model.name = "resnet"
    c.model.z_dim = 128                      # paper: 128-d z
    c.model.resnet.g_widths = (32, 32, 32, 32)      # paper (CIFAR-10): (128,) * 4
    c.model.resnet.d_widths = (32, 32, 32, 32)      # paper (CIFAR-10): (128,) * 4
    c.model.resnet.d_down = 2
    c.loss = "wasserstein"
    c.reg.gp_weight = 10.0                   # paper: lambda = 10
    c.n_disc = 5                             # paper: n_critic = 5
    for opt in (c.optim.g, c.optim.d):
        opt.lr = 1e-4                        # paper, Algorithm 1: alpha = 1e-4
        opt.b1, opt.b2 = 0.0, 0.9            # paper: beta1 = 0, beta2 = 0.9
    c.train.batch_size = 64                  # paper: m = 64
    c.train.num_steps = 5000
    c.train.log_every = 50
    c.train.sample_every = 500
    c.train.checkpoint_every = 1000
    return c
