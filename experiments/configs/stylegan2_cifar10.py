"""StyleGAN2-ADA (Karras et al. 2020b, "Training Generative Adversarial Networks with Limited Data") on CIFAR-10: the
reference's `cifar` setting (stylegan2-ada-pytorch `train.py --cfg=cifar`).

    jaxgan train --config experiments/configs/stylegan2_cifar10.py --workdir runs/stylegan2_cifar10 \
        --config.data.data_dir=/path/to/tensorflow_datasets

Class-conditional (the reference's `--cond=1`): add `--config.model.g_cond=embed --config.model.d_cond=projection`.

The `cifar` spec: batch 64, minibatch-std group 32, channel_base 32768 (512 maps at every resolution, 4x4 to 32x32:
min(32768 // r, 512)), 2 mapping layers, Adam 2.5e-3 betas (0, 0.99), R1 gamma 0.01 every 16 steps, G_ema half-life
500k images with ramp-up 0.05, no path length, no style mixing, the `orig` D, bf16 in the top 4 resolutions with
conv_clamp 256, ADA bgc toward 0.6 over 500k images; 100M images (1.5625M steps). Its networks have the reference's
19,947,539 (G) and 20,720,641 (D) parameters (tests/test_stylegan2_train.py).

Expected result: to be measured on a GPU (100M images: GPU-sized). The ADA paper's CIFAR-10 table
(Karras et al. 2020b, Sec. 5) is the comparison.
"""

from jaxgan.objectives.stylegan2 import default_config


def get_config():
    c = default_config()
    c.data.name = "tfds"
    c.data.tfds_name = "cifar10"
    c.data.image_size = 32
    c.data.channels = 3
    c.model.name = "stylegan2"
    c.model.z_dim = 512
    c.model.compute_dtype = "bfloat16"
    sg = c.model.stylegan2
    sg.w_dim, sg.mapping_layers, sg.channel_base, sg.channel_max = 512, 2, 32768, 512
    sg.num_fp16_res, sg.conv_clamp, sg.architecture, sg.mbstd_group_size = 4, 256.0, "orig", 32
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.b1, opt.b2, opt.eps = 0.0025, 0.0, 0.99, 1e-8
    c.reg.r1_gamma, c.reg.lazy_interval = 0.01, 16
    c.stylegan2.pl_weight, c.stylegan2.style_mixing_prob, c.stylegan2.ema_rampup = 0.0, 0.0, 0.05
    c.ema.half_life_images = 500_000
    c.ada.preset, c.ada.target, c.ada.kimg = "bgc", 0.6, 500.0
    c.train.batch_size = 64
    c.train.num_steps = 1_562_500  # 100,000 kimg
    c.train.log_every = 1000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 10_000
    return c
