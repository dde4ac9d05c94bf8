"""The default experiment: the seeds' MLP GAN on scikit-learn's handwritten digits (no download needed).

G: z 100 -> 128 -> 128 -> 784 (leaky ReLU, tanh); D: 784 -> 128 -> 128 -> 1 logit; non-saturating loss, Adam 2e-4
with beta1 0.5 (Radford et al. 2015's settings). The 1,797 8x8 digits are upscaled to 28x28 so the model is the
MNIST-sized one. Command:

    jaxgan train --config experiments/configs/mlp_digits.py --workdir runs/mlp_digits

Expected: by step 10,000 the grids under samples/ show recognisable, if blurry, digits (3, 5, 8, 9 ...), and the
digits' domain FID / IS (the classifier of `jaxgan train-classifier --out runs/classifiers/digits28.npz`,
2,000 samples against all 1,797 digits) is, measured on seeds 1-3: FID 12.3 +- 4.5, IS 5.55 +- 0.67.
Reproduce a seed S (checks EXPECTED below):

    jaxgan reproduce mlp_digits --workdir runs/reproduce/mlp_digits_sS --config.seed=S \
        --config.train.steps_per_dispatch=100 --config.train.eval_every=10000 --config.eval.metrics="('fid','is')" \
        --config.eval.num_samples=2000 --config.eval.classifier=runs/classifiers/digits28.npz

The band is the mean + 3 std for FID and the mean - 3 std for IS, rounded outwards; per-seed numbers are in
docs/results.md.
"""

from jaxgan.config import base_config

# The band `jaxgan reproduce mlp_digits` checks (with the eval.* keys of the command above).
EXPECTED = {"eval/fid": ("<=", 26.0), "eval/is_mean": (">=", 3.5)}


def get_config():
    return base_config()
