"""Translation networks: shapes at 256x256, the papers' parameter counts, the PatchGAN's 70x70 receptive field."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.engine.state import param_count
from jaxgan.translation.networks import (
    PatchDiscriminator,
    ResNetGenerator,
    UNetGenerator,
    patch_layers,
    receptive_field,
    unet_num_downs,
)


def numpy_variables(module, shape, seed=0):
    """Variables of `module` drawn with numpy (no jitted RNG to compile): params N(0, 0.1), BatchNorm stats (0, 1)."""
    abstract = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), jnp.zeros(shape), train=False))
    rng = np.random.default_rng(seed)
    params = jax.tree.map(lambda a: rng.normal(0.0, 0.1, a.shape).astype(np.float32), abstract["params"])
    stats = {k: v for k, v in abstract.items() if k != "params"}
    stats = jax.tree_util.tree_map_with_path(
        lambda path, a: np.full(a.shape, 1.0 if "var" in jax.tree_util.keystr(path) else 0.0, np.float32), stats)
    return {"params": params, **stats}


def abstract_run(module, shape):
    """(param count, output shape) of `module` on zeros of `shape`, traced with eval_shape (no FLOPs)."""
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    variables = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x, train=False), x)
    out = jax.eval_shape(lambda v, x: module.apply(v, x, train=False), variables, x)
    return param_count(variables["params"]), out.shape


# Parameter counts of the authors' PyTorch networks (pytorch-CycleGAN-and-pix2pix, models/networks.py), summed
# layer by layer: conv(i, o, k, bias) = i*o*k*k (+ o), BatchNorm(c) = 2c, InstanceNorm (affine=False) = 0.
def conv(i, o, k, bias):
    return i * o * k * k + (o if bias else 0)


def pytorch_unet256(ngf=64, c=3):
    # Convs before BatchNorm have no bias; only the outermost transposed conv has one. 8 levels of widths:
    widths = [ngf, 2 * ngf, 4 * ngf] + [8 * ngf] * 5
    down = conv(c, widths[0], 4, False) + sum(conv(widths[i - 1], widths[i], 4, False) for i in range(1, 8))
    down_bn = sum(2 * w for w in widths[1:7])  # no norm on the outermost nor the innermost down conv
    up = conv(widths[7], widths[6], 4, False)  # innermost: no skip input
    up += sum(conv(2 * widths[i], widths[i - 1], 4, False) for i in range(1, 7))
    up += conv(2 * widths[0], c, 4, True)
    up_bn = sum(2 * widths[i - 1] for i in range(1, 8))
    return down + down_bn + up + up_bn


def pytorch_resnet(n_blocks, ngf=64, c=3):
    # Instance norm: every conv has a bias; c7s1-64, d128, d256, blocks of two 3x3 convs, u128, u64, c7s1-3.
    total = conv(c, ngf, 7, True) + conv(ngf, 2 * ngf, 3, True) + conv(2 * ngf, 4 * ngf, 3, True)
    total += n_blocks * 2 * conv(4 * ngf, 4 * ngf, 3, True)
    return total + conv(4 * ngf, 2 * ngf, 3, True) + conv(2 * ngf, ngf, 3, True) + conv(ngf, c, 7, True)


def pytorch_patchgan(c, ndf=64):
    # BatchNorm: C64 (bias, no norm), C128/C256/C512 (no bias, BN), then a biased conv to 1 channel.
    widths = [ndf, 2 * ndf, 4 * ndf, 8 * ndf]
    total = conv(c, ndf, 4, True) + sum(conv(widths[i - 1], widths[i], 4, False) + 2 * widths[i] for i in (1, 2, 3))
    return total + conv(8 * ndf, 1, 4, True)


def test_parameter_counts_match_the_authors_networks():
    assert abstract_run(UNetGenerator(), (1, 256, 256, 3))[0] == pytorch_unet256() == 54_413_955  # "54.414 M"
    assert abstract_run(ResNetGenerator(n_blocks=9), (1, 256, 256, 3))[0] == pytorch_resnet(9) == 11_378_179
    assert abstract_run(ResNetGenerator(n_blocks=6), (1, 128, 128, 3))[0] == pytorch_resnet(6) == 7_837_699
    # pix2pix's D sees input and output stacked (6 channels); CycleGAN's one image (3), with instance norm.
    assert abstract_run(PatchDiscriminator(), (1, 256, 256, 6))[0] == pytorch_patchgan(6) == 2_768_705
    assert abstract_run(PatchDiscriminator(), (1, 256, 256, 3))[0] == pytorch_patchgan(3) == 2_765_633
    instance = abstract_run(PatchDiscriminator(norm="instance"), (1, 256, 256, 3))[0]
    assert instance == pytorch_patchgan(3) - 2 * (128 + 256 + 512) + (128 + 256 + 512)  # BN params -> biases


@pytest.mark.parametrize("module, shape, out", [
    (UNetGenerator(), (2, 256, 256, 3), (2, 256, 256, 3)),
    (ResNetGenerator(), (2, 256, 256, 3), (2, 256, 256, 3)),
    (PatchDiscriminator(), (2, 256, 256, 6), (2, 30, 30, 1)),  # 30x30 overlapping 70x70 patches
    (UNetGenerator(out_channels=1, num_downs=5, ngf=8), (2, 32, 32, 3), (2, 32, 32, 1)),
    (ResNetGenerator(ngf=8, n_blocks=2), (1, 36, 20, 1), (1, 36, 20, 3)),
])
def test_output_shapes(module, shape, out):
    assert abstract_run(module, shape)[1] == out


def test_unet_depth_follows_the_resolution():
    assert [unet_num_downs(s) for s in (256, 128, 32)] == [8, 7, 5]
    with pytest.raises(ValueError, match="power-of-two"):
        unet_num_downs(48)
    with pytest.raises(ValueError, match="divisible by 32"):
        abstract_run(UNetGenerator(num_downs=5), (1, 48, 48, 3))
    # At 32x32 with 5 levels the innermost features are 1x1: 5 stride-2 convs down, 5 transposed convs up.
    variables = jax.eval_shape(lambda: UNetGenerator(num_downs=5, ngf=4).init(
        jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)), train=False))
    names = set(variables["params"])
    assert {f"down{i}" for i in range(5)} <= names and {f"up{i}" for i in range(5)} <= names


def test_patchgan_receptive_field_is_70_pixels():
    assert receptive_field(patch_layers(3)) == 70
    assert receptive_field(patch_layers(1)) == 16 and receptive_field(patch_layers(2)) == 34  # the paper's 16, 34
    # Measured: the input pixels that move one output logit (inference mode, so BatchNorm is per-pixel affine).
    D = PatchDiscriminator(ndf=4)
    x = np.random.default_rng(1).normal(size=(1, 128, 128, 3)).astype(np.float32)
    variables = numpy_variables(D, x.shape)
    assert abstract_run(D, x.shape)[1] == (1, 14, 14, 1)
    grad = jax.jit(jax.grad(lambda x: D.apply(variables, x, train=False)[0, 7, 7, 0]))(x)
    rows, cols = np.nonzero(np.abs(np.asarray(grad[0])).sum(-1))
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)
    assert rows.min() == 7 * 8 - 23  # stride 8; padding 1 + 2 + 4 + 8 + 8 shifts the window by 23


def test_unet_dropout_draws_from_the_dropout_rng_only_in_training():
    G = UNetGenerator(num_downs=6, ngf=2)  # one 8 ngf level between the innermost and the widening ones
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)
    variables = numpy_variables(G, x.shape)
    train_out = jax.jit(lambda key: G.apply(variables, x, train=True, mutable=["batch_stats"],
                                            rngs={"dropout": key})[0])
    np.testing.assert_array_equal(train_out(jax.random.PRNGKey(0)), train_out(jax.random.PRNGKey(0)))
    assert not np.allclose(train_out(jax.random.PRNGKey(0)), train_out(jax.random.PRNGKey(1)))
    # Inference mode needs no RNG; without dropout, training mode needs none either.
    eval_out = jax.jit(lambda v: G.apply(v, x, train=False))
    np.testing.assert_array_equal(eval_out(variables), eval_out(variables))
    no_dropout = UNetGenerator(num_downs=6, ngf=2, dropout=0.0)
    assert abstract_run(no_dropout, x.shape)[1] == x.shape
    jax.eval_shape(lambda: no_dropout.apply(variables, x, train=True, mutable=["batch_stats"]))
