"""StyleGAN2-ADA (Karras et al. 2020a, 2020b) at 16x16 on the embedded digits, CPU-sized: trains in minutes on 2 cores.

    python experiments/train.py --config experiments/configs/stylegan2_digits.py --workdir runs/stylegan2_digits

The full objective at a tiny size: style mixing 0.9, lazy path length (every 4 steps, weight 2), lazy R1 (every 16
steps, gamma 0.1), G_ema with ramp-up, ADA (bgc, target 0.6) inside the step; 2 mapping layers, channel_base 512
(32 maps at 16x16, 128 at 4x4), z = w = 64, batch 16, Adam 2.5e-3 betas (0, 0.99).

Expected result: the digits' domain FID (features of the digit classifier that `tools/train_classifier.py --steps 100
--batch-size 32 --learning-rate 3e-3 --widths 16,32 --feature-dim 64` trains, as tests/conftest.py does; 500 samples
of G_ema against 1000 real digits) falls from 24.4 untrained to 8.4 at step 100, 4.5 at 200, 5.4 / 5.0 / 4.0 / 4.4 at
300 / 400 / 500 / 600 (one run of this config with train.num_steps=600, eval every 100 steps; ADA's p stayed below
0.03, D not overfitting). Those 600 steps took 1093 s with the evaluations, on 2 CPU cores shared with other jobs
(load average ~7). tests/test_stylegan2_train.py checks FID(step 50) < 0.6 x FID(untrained).
"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.image_size = 16
    c.data.channels = 1
    c.model.name = "stylegan2"
    c.model.z_dim = 64
    sg = c.model.stylegan2
    sg.w_dim, sg.mapping_layers, sg.channel_base, sg.channel_max = 64, 2, 512, 128
    sg.mbstd_group_size = 4
    c.loss = "non_saturating"
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.b1, opt.b2, opt.eps = 0.0025, 0.0, 0.99, 1e-8
    c.reg.r1_gamma, c.reg.lazy_interval = 0.1, 16
    c.ema.half_life_images = 2000  # ema_kimg 2: a few hundred steps of batch 16
    c.stylegan2.ema_rampup = 0.05
    c.ada.target, c.ada.kimg = 0.6, 20.0  # p can move 0 -> 1 in 20k images (1250 steps), a short run's scale
    c.train.batch_size = 16
    c.train.num_steps = 2000
    c.train.log_every = 50
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    c.train.num_samples = 64
    c.train.eval_every = c.train.num_steps  # the domain FID / IS once, at the end (docs/results.md's digit protocol)
    c.eval.metrics = ("fid", "is")
    c.eval.num_samples = 2000
    c.eval.classifier = "runs/classifiers/digits28.npz"  # python tools/train_classifier.py --out <this path>
    return c
