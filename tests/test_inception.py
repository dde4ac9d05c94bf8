"""FID Inception in flax without torch: shapes, parameter count, weight conversion, preprocessing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.metrics import inception, inception_convert
from jaxgan.metrics.extractors import FID_WEIGHTS_NAME, load_inception_variables

# Parameters of pytorch-fid's fid_inception_v3() (torchvision Inception3 without AuxLogits, fc
# with 1008 classes): sum(p.numel() for p in net.parameters()) with torch 2.13 / torchvision
# 0.28 = 23,834,568 for 1000 classes + 8 * (2048 + 1) for the 8 extra classes.
FID_INCEPTION_PARAMS = 23_850_960
FID_INCEPTION_BN_CHANNELS = 17_216  # BatchNorm channels over the 94 conv layers
FID_INCEPTION_CONVS = 94


@pytest.fixture(scope="module")
def shapes():
    """Flat {name: ShapeDtypeStruct} of the network's variables (traced, not computed)."""
    return inception_convert.flatten_variables(inception.fid_inception_variables())


def _count(shapes, collection):
    return sum(int(np.prod(s.shape)) for k, s in shapes.items() if k.startswith(collection + "/"))


def test_parameter_count_equals_the_fid_inception(shapes):
    assert _count(shapes, "params") == FID_INCEPTION_PARAMS
    assert _count(shapes, "batch_stats") == 2 * FID_INCEPTION_BN_CHANNELS
    assert sum(k.endswith("/conv/kernel") for k in shapes) == FID_INCEPTION_CONVS
    assert shapes["params/Conv2d_1a_3x3/conv/kernel"].shape == (3, 3, 3, 32)
    assert shapes["params/Mixed_7c/branch3x3_2a/conv/kernel"].shape == (1, 3, 384, 384)
    assert shapes["params/fc/kernel"].shape == (2048, 1008)


def test_output_shapes_for_any_input_size(shapes):
    variables = inception_convert.unflatten_variables(shapes)
    model = inception.FIDInceptionV3()
    apply = lambda v, x: model.apply(v, inception.fid_preprocess(x))
    for image_shape in [(2, 28, 28, 1), (3, 64, 48, 3)]:
        pool, logits = jax.eval_shape(apply, variables, jax.ShapeDtypeStruct(image_shape, jnp.float32))
        assert pool.shape == (image_shape[0], 2048) and logits.shape == (image_shape[0], 1008)


def _random_state_dict(shapes, rng):
    """A torch-layout state dict with random values of the FID Inception's shapes."""
    flat = {k: rng.standard_normal(s.shape).astype(np.float32) for k, s in shapes.items()}
    return inception_convert.flat_to_torch(flat), flat


def test_converter_round_trips(shapes, tmp_path):
    state, flat = _random_state_dict(shapes, np.random.default_rng(0))
    assert len(state) == len(flat) + FID_INCEPTION_CONVS  # + bn.num_batches_tracked per conv
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)  # OIHW
    assert state["fc.weight"].shape == (1008, 2048)
    assert "Mixed_5b.branch_pool.bn.running_var" in state
    back = inception_convert.torch_to_flat(state)
    assert back.keys() == flat.keys()
    for name in flat:
        np.testing.assert_array_equal(back[name], flat[name])
    path = tmp_path / "weights.npz"
    np.savez(path, **back)
    loaded = inception_convert.flatten_variables(load_inception_variables(path))
    np.testing.assert_array_equal(loaded["params/Mixed_6e/branch7x7_2/conv/kernel"],
                                  flat["params/Mixed_6e/branch7x7_2/conv/kernel"])


def test_conv_kernels_are_transposed_oihw_to_hwio():
    kernel = np.arange(2 * 3 * 1 * 7, dtype=np.float32).reshape(2, 3, 1, 7)  # O, I, H, W
    flat = inception_convert.torch_to_flat({"Mixed_6b.branch7x7_2.conv.weight": kernel})
    hwio = flat["params/Mixed_6b/branch7x7_2/conv/kernel"]
    assert hwio.shape == (1, 7, 3, 2)
    assert hwio[0, 5, 2, 1] == kernel[1, 2, 0, 5]


def test_missing_weights_say_where_to_get_them(tmp_path):
    path = tmp_path / "fid_inception.npz"
    with pytest.raises(FileNotFoundError) as err:
        load_inception_variables(path)
    message = str(err.value)
    assert FID_WEIGHTS_NAME in message and "github.com/mseitzer/pytorch-fid/releases" in message
    assert f"jaxgan convert-inception {FID_WEIGHTS_NAME} {path}" in message
    with pytest.raises(ValueError, match="jaxgan convert-inception"):
        load_inception_variables(tmp_path / FID_WEIGHTS_NAME)


def test_wrong_weights_file_is_rejected(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, **{"params/fc/kernel": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="does not hold pytorch-fid's FID Inception"):
        load_inception_variables(path)


def test_bilinear_matches_hand_computed_align_corners_false():
    # torch: F.interpolate(torch.tensor([[[[0., 1.]]]]), size=(1, 4), mode='bilinear')
    #        -> [0, 0.25, 0.75, 1]; shrinking 4 -> 2 takes the means of pixel pairs.
    np.testing.assert_allclose(inception.bilinear_matrix(2, 4) @ [0.0, 1.0], [0, 0.25, 0.75, 1])
    np.testing.assert_allclose(inception.bilinear_matrix(4, 2) @ [0.0, 1.0, 2.0, 3.0], [0.5, 2.5])
    rows = inception.bilinear_matrix(28, 299)
    np.testing.assert_allclose(rows.sum(1), 1.0, rtol=1e-6)  # constants are kept


def test_preprocess_repeats_gray_and_keeps_the_range():
    gray = np.random.default_rng(1).uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    out = inception.fid_preprocess(jnp.asarray(gray))
    assert out.shape == (2, 299, 299, 3)
    np.testing.assert_allclose(out, inception.fid_preprocess(jnp.repeat(gray, 3, -1)), atol=1e-6)
    assert float(out.min()) >= -1 - 1e-5 and float(out.max()) <= 1 + 1e-5
    with pytest.raises(ValueError, match="1 or 3 channels"):
        inception.fid_preprocess(jnp.zeros((1, 8, 8, 2)))


def test_average_pool_ignores_padding():
    x = jnp.arange(9.0).reshape(1, 3, 3, 1)
    pooled = inception._avg_pool_3x3(x)
    assert float(pooled[0, 0, 0, 0]) == pytest.approx((0 + 1 + 3 + 4) / 4)  # corner: 4 real cells
    assert float(pooled[0, 1, 1, 0]) == pytest.approx(4.0)
