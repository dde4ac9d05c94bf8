"""StyleGAN2-ADA (Karras et al. 2020a, 2020b) at 16x16 on the embedded digits, CPU-sized.

    jaxgan train --config experiments/configs/stylegan2_digits.py --workdir runs/stylegan2_digits

The full objective at a tiny size: style mixing 0.9, lazy path length (every 4 steps, weight 2), lazy R1 (every 16
steps, gamma 0.1), G_ema with ramp-up, ADA (bgc, target 0.6) inside the step; 2 mapping layers, channel_base 512
(32 maps at 16x16, 128 at 4x4), z = w = 64, batch 16, Adam 2.5e-3 betas (0, 0.99).

Expected result: the digits' domain FID / IS at step 2,000 (docs/results.md's digit protocol, with the two eval keys of
the reproduce command below: the classifier of `jaxgan train-classifier --out runs/classifiers/digits28.npz`, 2,000
samples of G_ema from eval seed 0 against all 1,797 digits at 16x16), measured on seeds 1-3: FID 1.92 +- 0.40, IS 7.89
+- 0.13 (per seed, timings and an earlier shorter run: docs/results.md). Reproduce a seed S (checks EXPECTED below: the
mean + 3 std of FID and the mean - 3 std of IS, rounded outwards; plain training, as above, needs no classifier):

    jaxgan train-classifier --out runs/classifiers/digits28.npz   # once
    jaxgan reproduce stylegan2_digits --workdir runs/reproduce/stylegan2_digits_sS --config.seed=S \
        --config.train.eval_every=2000 --config.eval.classifier=runs/classifiers/digits28.npz
"""

from jaxgan.objectives.stylegan2 import default_config

# The band `jaxgan reproduce stylegan2_digits` checks (with the eval keys of the command above).
EXPECTED = {"eval/fid": ("<=", 3.2), "eval/is_mean": (">=", 7.5)}


def get_config():
    c = default_config()
    c.data.image_size = 16
    c.data.channels = 1
    c.model.name = "stylegan2"
    c.model.z_dim = 64
    sg = c.model.stylegan2
    sg.w_dim, sg.mapping_layers, sg.channel_base, sg.channel_max = 64, 2, 512, 128
    sg.mbstd_group_size = 4
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
    c.eval.metrics = ("fid", "is")  # with --config.train.eval_every and --config.eval.classifier (see above)
    c.eval.num_samples = 2000
    return c
