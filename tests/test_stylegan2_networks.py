"""StyleGAN2 G and D: parameter counts equal the reference's, mapping/truncation/noise semantics, bad input.

Parameter counts, derived by hand from NVlabs stylegan2-ada-pytorch `training/networks.py` (buffers such as w_avg,
noise_const and the resample filters are not parameters):
  FC(i -> o)          = i*o + o
  SynthesisLayer(i,o) = affine FC(512 -> i) + o*i*9 (weight) + 1 (noise strength) + o (bias)
  ToRGB(i)            = FC(512 -> i) + 3*i + 3
  Conv(i -> o, k)     = o*i*k*k + o (the D's residual 1x1 'skip' has no bias)
  channels(res)       = min(channel_base // res, 512)

cifar (train.py cfg_specs: fmaps=1 -> channel_base 32768, map=2; D architecture 'orig'; 32x32; every res 512 ch):
  G mapping: 2 * FC(512->512) = 2 * 262,656 = 525,312
    conditional (10 classes): embed FC(10->512) 5,632 + fc0 FC(1024->512) 524,800 + fc1 262,656 = 793,088
  SynthesisLayer(512,512) = 262,656 + 2,359,296 + 1 + 512 = 2,622,465;  ToRGB(512) = 262,656 + 1,536 + 3 = 264,195
  b4 = const 512*4*4 (8,192) + 2,622,465 + 264,195 = 2,894,852;  b8 = b16 = b32 = 2*2,622,465 + 264,195 = 5,509,125
  synthesis = 2,894,852 + 3 * 5,509,125 = 19,422,227
  G = 525,312 + 19,422,227 = 19,947,539   (conditional: 793,088 + 19,422,227 = 20,215,315)
  D ('orig'): b32 = fromrgb 3*512+512 (2,048) + 2 * Conv(512->512, 3) (2 * 2,359,808) = 4,721,664
              b16 = b8 = 2 * 2,359,808 = 4,719,616
              epilogue = conv Conv(513->512, 3) 2,364,416 + fc FC(8192->512) 4,194,816 + out FC(512->1) 513
  D = 4,721,664 + 2 * 4,719,616 + 2,364,416 + 4,194,816 + 513 = 20,720,641
    conditional: out FC(512->512) 262,656 instead of 513, plus the label mapping (8 layers):
    embed FC(10->512) 5,632 + 8 * 262,656 = 2,106,880  ->  20,720,128 + 262,656 + 2,106,880 = 23,089,664

paper256 (fmaps=0.5 -> channel_base 16384, map=8; D 'resnet'; channels 4..32: 512, 64: 256, 128: 128, 256: 64):
  G mapping: 8 * 262,656 = 2,101,248
  b4 = 2,894,852;  b8 = b16 = b32 = 5,509,125 each (16,527,375)
  b64  = SL(512,256) 262,656+1,179,648+257 = 1,442,561 + SL(256,256) 131,328+589,824+257 = 721,409
         + ToRGB(256) 131,328+768+3 = 132,099                                                     = 2,296,069
  b128 = SL(256,128) 131,328+294,912+129 = 426,369 + SL(128,128) 65,664+147,456+129 = 213,249
         + ToRGB(128) 65,664+384+3 = 66,051                                                       =   705,669
  b256 = SL(128,64) 65,664+73,728+65 = 139,457 + SL(64,64) 32,832+36,864+65 = 69,761
         + ToRGB(64) 32,832+192+3 = 33,027                                                        =   242,245
  G = 2,101,248 + 2,894,852 + 16,527,375 + 2,296,069 + 705,669 + 242,245 = 24,767,458
  D blocks (fromrgb only in b256; conv0 tmp->tmp, conv1 tmp->out, skip out*tmp):
    b256 (64->128): 256 + 36,928 + 73,856 + 8,192 = 119,232
    b128 (128->256): 147,584 + 295,168 + 32,768 = 475,520
    b64 (256->512): 590,080 + 1,180,160 + 131,072 = 1,901,312
    b32 = b16 = b8 (512->512): 2,359,808 * 2 + 262,144 = 4,981,760 each (14,945,280)
    epilogue = 2,364,416 + 4,194,816 + 513 = 6,559,745
  D = 119,232 + 475,520 + 1,901,312 + 14,945,280 + 6,559,745 = 24,001,089
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.engine.state import param_count
from jaxgan.models.stylegan2 import Discriminator, Generator, num_ws_for, truncate

CIFAR = dict(channel_base=32768, conv_clamp=256, num_fp16_res=4, dtype=jnp.bfloat16)
PAPER256 = dict(channel_base=16384, conv_clamp=256, num_fp16_res=4, dtype=jnp.bfloat16)


def _count(module, *inputs):
    shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), *inputs))
    return param_count(shapes["params"])


@pytest.mark.parametrize("num_classes,g_count,d_count", [(None, 19_947_539, 20_720_641),
                                                         (10, 20_215_315, 23_089_664)])
def test_cifar_parameter_counts(num_classes, g_count, d_count):
    labels = None if num_classes is None else jnp.zeros((1,), jnp.int32)
    g = Generator(32, 3, num_classes=num_classes, mapping_layers=2, **CIFAR)
    d = Discriminator(32, num_classes=num_classes, architecture="orig", mbstd_group_size=32, **CIFAR)
    assert _count(g, jnp.zeros((1, 512)), labels) == g_count
    assert _count(d, jnp.zeros((1, 32, 32, 3)), labels) == d_count


def test_paper256_parameter_counts():
    g = Generator(256, 3, mapping_layers=8, **PAPER256)
    d = Discriminator(256, mbstd_group_size=8, **PAPER256)
    assert _count(g, jnp.zeros((1, 512))) == 24_767_458
    assert _count(d, jnp.zeros((1, 256, 256, 3))) == 24_001_089


def _tiny_g(**kw):
    return Generator(16, 3, z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=16, **kw)


def test_generator_and_discriminator_run_conditional():
    g, d = _tiny_g(num_classes=3), Discriminator(16, num_classes=3, channel_base=64, channel_max=16)
    z, labels = jax.random.normal(jax.random.PRNGKey(0), (4, 8)), jnp.asarray([0, 1, 2, 0])
    gv = g.init(jax.random.PRNGKey(1), z, labels)
    img = g.apply(gv, z, labels, rngs={"noise": jax.random.PRNGKey(2)})
    assert img.shape == (4, 16, 16, 3) and bool(jnp.all(jnp.isfinite(img)))
    dv = d.init(jax.random.PRNGKey(3), img, labels)
    logits = d.apply(dv, img, labels)
    assert logits.shape == (4,)
    other = d.apply(dv, img, (labels + 1) % 3)
    assert float(jnp.max(jnp.abs(logits - other))) > 1e-6  # the label changes D's answer


def test_fused_and_unfused_modconv_generators_agree_and_bf16_runs():
    z = jax.random.normal(jax.random.PRNGKey(0), (3, 8))
    v = _tiny_g().init(jax.random.PRNGKey(1), z)
    a = _tiny_g().apply(v, z, noise_mode="const")
    b = _tiny_g(fused_modconv=True).apply(v, z, noise_mode="const")
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    c = _tiny_g(num_fp16_res=2, conv_clamp=256, dtype=jnp.bfloat16).apply(v, z, noise_mode="const")
    assert c.dtype == jnp.float32 and float(jnp.max(jnp.abs(c - a))) < 0.1 * float(jnp.max(jnp.abs(a)))


def test_noise_modes():
    g, z = _tiny_g(), jax.random.normal(jax.random.PRNGKey(0), (2, 8))
    v = g.init(jax.random.PRNGKey(1), z)
    v = jax.tree_util.tree_map_with_path(  # give every noise strength a value so that the noise matters
        lambda path, x: jnp.full_like(x, 0.5) if "noise_strength" in str(path) else x, v)
    const = g.apply(v, z, noise_mode="const")
    np.testing.assert_array_equal(np.asarray(const), np.asarray(g.apply(v, z, noise_mode="const")))
    r1 = g.apply(v, z, rngs={"noise": jax.random.PRNGKey(5)})
    r2 = g.apply(v, z, rngs={"noise": jax.random.PRNGKey(6)})
    none = g.apply(v, z, noise_mode="none")
    assert float(jnp.max(jnp.abs(r1 - r2))) > 1e-3 and float(jnp.max(jnp.abs(none - const))) > 1e-3
    with pytest.raises(ValueError, match="noise key"):
        g.apply(v, z)
    with pytest.raises(ValueError, match="noise_mode"):
        g.apply(v, z, noise_mode="fixed")


def test_w_avg_moving_average_and_truncation():
    g, z = _tiny_g(), jax.random.normal(jax.random.PRNGKey(0), (5, 8))
    v = g.init(jax.random.PRNGKey(1), z)
    v = {**v, "buffers": jax.tree.map(lambda x: x, v["buffers"])}
    v["buffers"]["mapping"]["w_avg"] = jnp.full((8,), 0.3)
    ws = g.apply(v, z, method=Generator.map)
    assert ws.shape == (5, num_ws_for(16), 8)
    _, upd = g.apply(v, z, train=True, method=Generator.map, mutable=["buffers"])
    want = 0.995 * 0.3 + 0.005 * np.mean(np.asarray(ws[:, 0]), axis=0)
    np.testing.assert_allclose(np.asarray(upd["buffers"]["mapping"]["w_avg"]), want, rtol=1e-5)
    _, frozen = g.apply(v, z, train=True, update_w_avg=False, method=Generator.map, mutable=["buffers"])
    np.testing.assert_array_equal(np.asarray(frozen["buffers"]["mapping"]["w_avg"]), np.float32(0.3))
    at_avg = g.apply(v, z, truncation_psi=0.0, method=Generator.map)
    np.testing.assert_allclose(np.asarray(at_avg), 0.3, rtol=1e-6)
    half = g.apply(v, z, truncation_psi=0.5, truncation_cutoff=2, method=Generator.map)
    np.testing.assert_allclose(np.asarray(half[:, :2]), 0.3 + 0.5 * (np.asarray(ws[:, :2]) - 0.3), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(half[:, 2:]), np.asarray(ws[:, 2:]))


def test_bad_inputs_name_the_problem():
    for res in (48, 2, 0):
        with pytest.raises(ValueError, match="power of two"):
            Generator(res)
        with pytest.raises(ValueError, match="power of two"):
            Discriminator(res)
    with pytest.raises(ValueError, match="resolution >= 8"):
        Discriminator(4)
    with pytest.raises(ValueError, match="truncation_psi must be >= 0"):
        truncate(jnp.zeros((1, 2, 3)), jnp.zeros(3), -0.5)
    g, z = _tiny_g(), jnp.zeros((1, 8))
    v = g.init(jax.random.PRNGKey(0), z)
    with pytest.raises(ValueError, match="truncation_psi must be >= 0"):
        g.apply(v, z, truncation_psi=-1.0, noise_mode="none")
    with pytest.raises(ValueError, match="architecture"):
        Discriminator(16, architecture="dense")
