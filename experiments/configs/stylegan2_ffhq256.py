"""StyleGAN2-ADA (Karras et al. 2020a, 2020b) at 256x256: the reference's `paper256` setting
(stylegan2-ada-pytorch `train.py --cfg=paper256`), e.g. on FFHQ, from a prepared dataset.

    jaxgan prepare --source /path/to/ffhq-images --out /path/to/ffhq256 --resolution 256
    jaxgan train --config experiments/configs/stylegan2_ffhq256.py --workdir runs/stylegan2_ffhq256 \
        --config.data.path=/path/to/ffhq256

The data come from a dataset prepared ahead of time (`data.name=prepared`: decoded once, uint8, read by index).

The `paper256` spec: batch 64, minibatch-std group 8, channel_base 16384 (512 maps up to 32x32), 8 mapping layers
with lr multiplier 0.01, Adam 2.5e-3 betas (0, 0.99), R1 gamma 1 every 16 steps, path length (weight 2, every 4
steps, batch / 2), style mixing 0.9, G_ema half-life 20k images without ramp-up, bf16 in the top 4 resolutions with
conv_clamp 256, ADA bgc toward 0.6 over 500k images; 25M images (390,625 steps). Its networks have the reference's
24,767,458 (G) and 24,001,089 (D) parameters (tests/test_stylegan2_train.py).

Expected result: to be measured on a GPU (25M images at 256x256: GPU-sized); the ADA paper's FFHQ-256 figures
(Karras et al. 2020b, Sec. 4) are the comparison.
"""

from jaxgan.objectives.stylegan2 import default_config


def get_config():
    c = default_config()
    c.data.name = "prepared"
    c.data.path = ""  # the prepared dataset's folder
    c.data.image_size = 256
    c.data.channels = 3
    c.model.name = "stylegan2"
    c.model.z_dim = 512
    c.model.compute_dtype = "bfloat16"
    sg = c.model.stylegan2
    sg.w_dim, sg.mapping_layers, sg.channel_base, sg.channel_max = 512, 8, 16384, 512
    sg.num_fp16_res, sg.conv_clamp, sg.architecture, sg.mbstd_group_size = 4, 256.0, "resnet", 8
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.b1, opt.b2, opt.eps = 0.0025, 0.0, 0.99, 1e-8
    c.reg.r1_gamma, c.reg.lazy_interval = 1.0, 16
    c.stylegan2.update(dict(pl_weight=2.0, style_mixing_prob=0.9, ema_rampup=0.0))
    c.ema.half_life_images = 20_000
    c.ada.preset, c.ada.target, c.ada.kimg = "bgc", 0.6, 500.0
    c.train.batch_size = 64
    c.train.num_steps = 390_625  # 25,000 kimg
    c.train.log_every = 1000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 10_000
    return c
