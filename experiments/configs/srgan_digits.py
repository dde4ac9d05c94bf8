"""SRGAN (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network")
at 4x on the embedded digits: 7x7 -> 28x28, SRResNet G, pixel (MSE) loss + 1e-3 x the non-saturating adversarial loss.

    jaxgan train --config experiments/configs/srgan_digits.py --workdir runs/srgan_digits \
        --config.eval.classifier=runs/classifiers/digits28.npz

The LR images are the 28x28 digits downsampled 4x (antialiased bicubic, as the paper's) inside the step. G has 32
channels and 4 residual blocks, D 4 convs from 16 channels and Dense(128) (the paper: 64 channels, 16 blocks, 8 convs
from 64, Dense(1024)), to keep it CPU-sized; Adam 1e-4 with beta1 0.9 as the paper, batch 32, 1,000 steps. 360 digits
are held out (the same for every seed) and scored every 500 steps. Other data: --config.data.name=tfds
--config.data.tfds_name=mnist for MNIST (28x28), or data.name=folder with data.image_size a multiple of 4.
Without eval.classifier (`jaxgan train-classifier --out runs/classifiers/digits28.npz`) only PSNR is logged.

Expected at step 1,000, measured on seeds 1-3 (the classifier of `jaxgan train-classifier`; the 360 held-out digits'
upsamplings against the 1,437 training digits): PSNR 26.64 +- 0.25 dB against bicubic's 22.28, domain FID 0.52 +- 0.08
against bicubic's 2.42 (per seed and the SRResNet ablation: docs/srgan.md). Reproduce a seed S (checks EXPECTED below:
the mean - 3 std of PSNR and the mean + 3 std of FID, rounded outwards, and bicubic's PSNR, which the held-out set and
the downsampling fix):

    jaxgan reproduce srgan_digits --workdir runs/reproduce/srgan_digits_sS --config.seed=S \
        --config.eval.classifier=runs/classifiers/digits28.npz
"""

from jaxgan.objectives.srgan import default_config

# The band `jaxgan reproduce srgan_digits` checks (with the eval.classifier of the command above).
EXPECTED = {"eval/psnr": (">=", 25.8), "eval/fid": ("<=", 0.8), "eval/psnr_bicubic": ("in", 22.2, 22.35)}


def get_config():
    c = default_config()
    c.model.features = 32
    c.model.blocks = 4
    c.model.d_features = 16
    c.model.d_convs = 4
    c.model.d_dense = 128
    c.train.batch_size = 32
    c.train.num_steps = 1000
    c.train.log_every = 50
    c.train.eval_every = 500
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    return c
