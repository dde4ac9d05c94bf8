"""DCGAN (Radford et al. 2015) at 32x32 on the embedded digits: BatchNorm, Adam 2e-4 with beta1 0.5, BCE.

    jaxgan train --config experiments/configs/dcgan_digits.py --workdir runs/dcgan_digits

ngf = ndf = 32 keeps it CPU-sized; use experiments/configs/dcgan64.py for the paper's 64x64 network.

Expected: the digits' domain FID / IS at step 2,000 (the classifier of `jaxgan train-classifier --out
runs/classifiers/digits28.npz`, 2,000 samples against all 1,797 digits), measured on seeds 1-3: FID 1.07 +- 0.21, IS
8.24 +- 0.07 (per seed: docs/results.md). Reproduce a seed S (checks EXPECTED below: the mean + 3 std of FID and the
mean - 3 std of IS, rounded outwards):

    jaxgan reproduce dcgan_digits --workdir runs/reproduce/dcgan_digits_sS --config.seed=S \
        --config.train.eval_every=2000 --config.eval.metrics="('fid','is')" --config.eval.num_samples=2000 \
        --config.eval.classifier=runs/classifiers/digits28.npz
"""

from jaxgan.config import base_config

# The band `jaxgan reproduce dcgan_digits` checks (with the eval.* keys of the command above).
EXPECTED = {"eval/fid": ("<=", 2.0), "eval/is_mean": (">=", 8.0)}


def get_config():
    c = base_config()
    c.model.name = "dcgan"
    c.model.dcgan.ngf = c.model.dcgan.ndf = 32
    c.data.image_size = 32
    c.train.batch_size = 64
    c.train.num_steps = 2000
    c.train.log_every = 50
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    return c
