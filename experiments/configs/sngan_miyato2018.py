"""SNGAN (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks"): SN on every D layer.

Paper: the CIFAR-10 ResNet of Table 4 (G: 3 up-blocks of 256, 4,276,739 params; D: 4 blocks of 128 with SN,
1,053,825 params), hinge loss, n_dis = 5, Adam lr 2e-4 with (beta1, beta2) = (0, 0.9), batch 64, 50k G
updates with the learning rate decayed linearly to 0 (the authors' code). Here the widths are 64 / 32 on the digits
so it runs on a CPU. Command:

    jaxgan train --config experiments/configs/sngan_miyato2018.py --workdir runs/sngan

Expected: to be measured on a GPU (5,000 steps of 5 D updates at batch 64, 1.6M images through D: GPU-sized, see
docs/results.md). What a run shows meanwhile: D/real stays around +1 and D/fake around -1 (the hinge margins) without
diverging; digit strokes within a few thousand steps. The paper's CIFAR-10 ResNet reaches IS 8.22 and FID 21.7 (Table 2)
with:

    --config.data.name=tfds --config.data.tfds_name=cifar10 --config.data.channels=3 \
    --config.model.resnet.g_widths='(256,256,256,256)' --config.model.resnet.d_widths='(128,128,128,128)' \
    --config.train.num_steps=50000

Other data:

    --config.data.name=tfds --config.data.tfds_name=mnist                # MNIST
    --config.data.name=folder --config.data.path=/path/to/images --config.data.channels=3
(The authors' G trains on 128 samples per update; jaxgan's G uses the batch size of D's real batch.)
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.image_size = 32
    c.model.name = "resnet"
    c.model.z_dim = 128                      # paper: z ~ N(0, I), 128-d
    c.model.resnet.g_widths = (64, 64, 64, 64)      # paper (CIFAR-10): (256,) * 4
    c.model.resnet.d_widths = (32, 32, 32, 32)      # paper (CIFAR-10): (128,) * 4
    c.model.resnet.d_down = 2
    c.model.spectral_norm = True             # paper: SN on every D layer, one power iteration per update
    c.loss = "hinge"                         # paper: hinge loss for the ResNet results
    c.n_disc = 5                             # paper: n_dis = 5
    for opt in (c.optim.g, c.optim.d):
        opt.lr = 2e-4                        # paper: alpha = 0.0002
        opt.b1, opt.b2 = 0.0, 0.9            # paper: beta1 = 0, beta2 = 0.9
        opt.schedule = "linear"              # authors' code: linear decay to 0
        opt.end_factor = 0.0
    c.train.batch_size = 64                  # paper: batch 64
    c.train.num_steps = 5000                 # paper: 50,000 G updates
    c.train.log_every = 50
    c.train.sample_every = 500
    c.train.checkpoint_every = 1000
    return c
