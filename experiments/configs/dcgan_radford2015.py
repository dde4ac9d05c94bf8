"""DCGAN (Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional GANs").

Paper (Sec. 3-4): transposed-conv G and strided-conv D with BatchNorm, ReLU in G, leaky ReLU (slope 0.2) in D, tanh
output, weights from N(0, 0.02), z of 100, minibatch 128, Adam lr 2e-4 with beta1 0.5, the non-saturating BCE loss.
The PyTorch example's widths (ngf = ndf = 64) at 64x64; here ngf = ndf = 32 at 32x32 so it runs on a CPU. Command:

    jaxgan train --config experiments/configs/dcgan_radford2015.py --workdir runs/dcgan_radford2015

Expected: the digit grids under samples/ show digit strokes after about 1,000 steps. The digits' domain FID / IS at step
3,000 (the protocol of docs/results.md, as for dcgan_digits), measured on seeds 1-3: FID 0.91 +- 0.18, IS 8.38 +- 0.06
(per seed: docs/results.md). Reproduce a seed S (checks EXPECTED below: the mean + 3 std of FID and the mean - 3 std of
IS, rounded outwards):

    jaxgan reproduce dcgan_radford2015 --workdir runs/reproduce/dcgan_radford2015_sS --config.seed=S \
        --config.train.eval_every=3000 --config.eval.metrics="('fid','is')" --config.eval.num_samples=2000 \
        --config.eval.classifier=runs/classifiers/digits28.npz

The paper reports no FID (its Table 1: 82.8% CIFAR-10 accuracy of an L2-SVM on D's features). Other data:

    --config.data.name=tfds --config.data.tfds_name=mnist                          # MNIST (tfds must reach it)
    --config.data.name=tfds --config.data.tfds_name=cifar10 --config.data.channels=3
    --config.data.name=folder --config.data.path=/path/to/images --config.data.channels=3
    --config.data.image_size=64 --config.model.dcgan.ngf=64 --config.model.dcgan.ndf=64  # the paper's 64x64 network
"""

from jaxgan.config import base_config

# The band `jaxgan reproduce dcgan_radford2015` checks (with the eval.* keys of the command above).
EXPECTED = {"eval/fid": ("<=", 1.5), "eval/is_mean": (">=", 8.1)}


def get_config():
    c = base_config()
    c.data.image_size = 32         # digits upscaled to 32x32 (DCGAN needs 4 * 2^n)
    c.model.name = "dcgan"
    c.model.z_dim = 100            # paper: 100-d z
    c.model.dcgan.ngf = c.model.dcgan.ndf = 32  # paper: 64 (CPU-sized here)
    c.loss = "non_saturating"      # paper: BCE, G maximises log D(G(z))
    c.optim.g.lr = c.optim.d.lr = 2e-4  # paper: Adam lr 0.0002
    c.optim.g.b1 = c.optim.d.b1 = 0.5   # paper: beta1 0.5 (0.9 oscillated)
    c.train.batch_size = 128       # paper: minibatch 128
    c.train.num_steps = 3000
    c.train.log_every = 50
    c.train.sample_every = 500
    c.train.checkpoint_every = 1000
    return c
