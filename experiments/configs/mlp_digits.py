"""The default experiment: the seeds' MLP GAN on scikit-learn's handwritten digits (no download needed).

G: z 100 -> 128 -> 128 -> 784 (leaky ReLU, tanh); D: 784 -> 128 -> 128 -> 1 logit; non-saturating loss, Adam 2e-4
with beta1 0.5 (Radford et al. 2015's settings). The 1,797 8x8 digits are upscaled to 28x28 so the model is the
MNIST-sized one. Command:

    python experiments/train.py --config experiments/configs/mlp_digits.py --workdir runs/mlp_digits

Expected: about 1 minute on 2 idle CPU cores (10,000 steps); by step 10,000 the grids under samples/ show
recognisable, if blurry, digits (3, 5, 8, 9 ...).
"""

from jaxgan.config import base_config


def get_config():
    return base_config()
