"""R1 + EMA (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?").

Paper: the non-saturating loss with the zero-centred R1 penalty gamma / 2 * E||grad D(x)||^2 on real data (eq. 9),
gamma = 10, one D update per G update, RMSprop lr 1e-4 for both nets, batch 64, z ~ N(0, I) of 256, and samples from
an exponential moving average of G's weights with beta = 0.999 (authors' code, LMescheder/GAN_stability
configs/default.yaml; its `reg_param` multiplies E||grad D||^2 without the 1/2, i.e. gamma = 20 in the paper's
notation: set reg.r1_gamma=20 to match the code). The authors' code is PyTorch (torch.optim.RMSprop with alpha 0.99,
eps 1e-8), which adds eps outside the square root, so both optimizers use `eps_placement = "outside"`. Here the
ResNet is 32 wide on the digits so it runs on a CPU.
`--config.reg.lazy_interval=16` switches to StyleGAN2's lazy R1 (D's optimizer is rescaled automatically). Command:

    jaxgan train --config experiments/configs/r1_ema_mescheder2018.py --workdir runs/r1_ema

Expected: to be measured on a GPU (10,000 steps at batch 64 with R1, 640k images: GPU-sized, see docs/results.md). What
a run shows meanwhile: Loss/D/r1 settles to a small value and the EMA samples (what samples/ shows) are smoother than
G's own. Other data:

    --config.data.name=tfds --config.data.tfds_name=cifar10 --config.data.channels=3
    --config.data.name=tfds --config.data.tfds_name=mnist
    --config.data.name=folder --config.data.path=/path/to/images --config.data.channels=3
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.image_size = 32
    c.model.name = "resnet"
    c.model.z_dim = 256                      # paper's code: 256-d Gaussian z
    c.model.resnet.g_widths = (32, 32, 32, 32)
    c.model.resnet.d_widths = (32, 32, 32, 32)
    c.model.resnet.d_down = 2
    c.loss = "non_saturating"                # paper: gan_type standard
    c.reg.r1_gamma = 10.0                    # paper: gamma = 10
    c.n_disc = 1                             # paper: d_steps 1
    for opt in (c.optim.g, c.optim.d):
        opt.name = "rmsprop"                 # paper: RMSprop
        opt.lr = 1e-4                        # paper: lr_g = lr_d = 1e-4
        opt.b2 = 0.99                        # PyTorch RMSprop's default alpha
        opt.eps_placement = "outside"        # PyTorch RMSprop: g / (sqrt(nu) + 1e-8), as the authors' code ran
    c.ema.decay = 0.999                      # paper: model_average_beta 0.999
    c.ema.warmup = False                     # paper: a plain running average from the start
    c.train.batch_size = 64                  # paper: batch 64
    c.train.num_steps = 10000
    c.train.log_every = 100
    c.train.sample_every = 1000
    c.train.checkpoint_every = 2000
    return c
