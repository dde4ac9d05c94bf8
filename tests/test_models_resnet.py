"""ResNet G and D: the papers' CIFAR-10 parameter counts, shapes at 32 and 64, per-example D, bad sizes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config
from jaxgan.engine.state import param_count
from jaxgan.models.resnet import ResNetDiscriminator, ResNetGenerator
from jaxgan.objectives.factory import build_gan

KEY = jax.random.PRNGKey(0)


def abstract_params(module, *inputs):
    """Params (shapes only, nothing computed) of `module` initialised on `inputs`."""
    return jax.eval_shape(lambda: module.init(KEY, *inputs, train=False))["params"]


def g_params(widths):
    return param_count(abstract_params(ResNetGenerator(widths, 3), jnp.zeros((1, 128)), None))


def d_params(widths, down):
    return param_count(abstract_params(ResNetDiscriminator(widths, down), jnp.zeros((1, 32, 32, 3)), None))


def test_sngan_cifar10_parameter_counts_match_the_architecture_table():
    # Miyato et al. 2018, Table 4 (and the authors' resnet_32): z 128, every conv and linear with a bias.
    # G: dense 128 -> 4*4*256:                     128*4096 + 4096            =   528,384
    #    up-block 256 -> 256 (x3): BN 2*256, conv3x3 9*256*256 + 256, BN 2*256, conv3x3 9*256*256 + 256,
    #    shortcut conv1x1 256*256 + 256:           512 + 590,080 + 512 + 590,080 + 65,792 = 1,246,976 (x3 = 3,740,928)
    #    BN 2*256 + conv3x3 256 -> 3:              512 + 9*256*3 + 3          =     7,427
    #                                                                     total = 4,276,739
    assert g_params((256, 256, 256, 256)) == 4_276_739
    # D: optimized block 3 -> 128: conv3x3 9*3*128 + 128, conv3x3 9*128*128 + 128, shortcut 3*128 + 128 = 151,680
    #    down block 128 -> 128: 2 conv3x3 (147,584 each) + shortcut conv1x1 128*128 + 128            = 311,680
    #    2 blocks 128 -> 128 without resampling (identity shortcut): 2 * 2 * 147,584                 = 590,336
    #    linear 128 -> 1: 129                                                                total = 1,053,825
    assert d_params((128, 128, 128, 128), 2) == 1_053_825


def test_wgan_gp_cifar10_generator_count_matches_gan_cifar_resnet():
    # Gulrajani et al. 2017, gan_cifar_resnet.py with DIM_G = 128 (the critic is SNGAN's D without SN):
    # dense 128*2048 + 2048 = 264,192; 3 up-blocks of 256 + 147,584 + 256 + 147,584 + 16,512 = 312,192 each;
    # BN 256 + conv3x3 9*128*3 + 3 = 3,715.  Total 264,192 + 936,576 + 3,715 = 1,204,483.
    assert g_params((128, 128, 128, 128)) == 1_204_483


@pytest.mark.parametrize("res, g_widths, d_widths, down", [(32, (8, 8, 8, 8), (8, 8, 8, 8), 2),
                                                        (64, (32, 16, 8, 8, 4), (4, 8, 16, 32, 32), 5)])
def test_generator_and_discriminator_shapes_at_32_and_64(res, g_widths, d_widths, down):
    g = ResNetGenerator(g_widths, channels=3)
    d = ResNetDiscriminator(d_widths, down)
    x = jax.eval_shape(lambda: g.init_with_output(KEY, jnp.zeros((2, 16)), None, train=False)[0])
    assert x.shape == (2, res, res, 3)
    logits = jax.eval_shape(lambda: d.init_with_output(KEY, jnp.zeros((2, res, res, 3)), None, train=False)[0])
    assert logits.shape == (2,)


def test_small_resnet_runs_in_range_and_d_is_per_example():
    g = ResNetGenerator((4, 4), channels=1)
    d = ResNetDiscriminator((4, 4), down=1)

    @jax.jit
    def run(z):
        x, _ = g.init_with_output(KEY, z, None, train=False)
        d_vars = d.init(KEY, x, None, train=False)
        return x, d.apply(d_vars, x, None), d.apply(d_vars, x[1:2], None)

    x, batch, single = run(jax.random.normal(KEY, (3, 8)))
    assert x.shape == (3, 8, 8, 1) and float(jnp.max(jnp.abs(x))) <= 1.0
    np.testing.assert_allclose(batch[1:2], single, rtol=1e-5, atol=1e-6)  # no batch coupling in D


def test_bad_resnet_sizes_give_clear_errors():
    config = base_config()
    config.model.name = "resnet"
    with pytest.raises(ValueError, match="g_widths"):
        build_gan(config, (28, 28, 1))  # 4 widths make 32x32 images, not 28x28
    config.model.resnet.g_widths, config.model.resnet.d_down = (8, 8, 8), 5
    with pytest.raises(ValueError, match="d_down"):
        build_gan(config, (16, 16, 1))
    with pytest.raises(ValueError, match="square images"):
        build_gan(config, (2,))
