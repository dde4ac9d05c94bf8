"""Projection cGAN (Miyato & Koyama 2018, "cGANs with Projection Discriminator"): class-conditional SNGAN.

Paper: G conditioned by conditional BatchNorm (per-class scale and shift in every block), D conditioned by
projection, logit = psi(phi(x)) + <embed(y), phi(x)>, with SN on every D layer including the embedding;
hinge loss, n_dis = 5, Adam lr 2e-4 with (beta1, beta2) = (0, 0.9), batch 64, linear decay, 50k updates in the
authors' CIFAR-10 setting (the SNGAN ResNet widths 256 / 128). Fake examples get the labels of the real batch
they are trained against. Here the widths are 64 / 32 on the labelled digits so it runs on a CPU. Command:

    jaxgan train --config experiments/configs/projection_cgan_miyato2018.py --workdir runs/proj

Expected: to be measured on a GPU (5,000 steps of 5 D updates at batch 64, 1.6M images through D: GPU-sized, see
docs/results.md). What a run shows meanwhile: each row r of the sample grid shows class r mod 10 (digit r); the rows
become the right digits within a few thousand steps. Other data (the dataset must be labelled):

    --config.data.name=tfds --config.data.tfds_name=cifar10 --config.data.channels=3 \
    --config.model.resnet.g_widths='(256,256,256,256)' --config.model.resnet.d_widths='(128,128,128,128)' \
    --config.train.num_steps=50000
    --config.data.name=tfds --config.data.tfds_name=mnist
    --config.data.name=folder --config.data.path=/path/with/one/subfolder/per/class --config.data.channels=3
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.image_size = 32
    c.model.name = "resnet"
    c.model.z_dim = 128
    c.model.resnet.g_widths = (64, 64, 64, 64)      # authors' CIFAR-10: (256,) * 4
    c.model.resnet.d_widths = (32, 32, 32, 32)      # authors' CIFAR-10: (128,) * 4
    c.model.resnet.d_down = 2
    c.model.g_cond = "cbn"                   # paper: conditional BatchNorm in G
    c.model.d_cond = "projection"            # paper: projection discriminator
    c.model.spectral_norm = True             # paper: SN in D (and on the class embedding)
    c.loss = "hinge"                         # paper: hinge loss
    c.n_disc = 5                             # paper: n_dis = 5
    for opt in (c.optim.g, c.optim.d):
        opt.lr = 2e-4                        # paper: alpha = 0.0002
        opt.b1, opt.b2 = 0.0, 0.9            # paper: beta1 = 0, beta2 = 0.9
        opt.schedule = "linear"
        opt.end_factor = 0.0
    c.train.batch_size = 64
    c.train.num_steps = 5000
    c.train.num_samples = 100                # a 10 x 10 grid: one row per class
    c.train.log_every = 50
    c.train.sample_every = 500
    c.train.checkpoint_every = 1000
    return c
