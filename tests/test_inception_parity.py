"""Our FID Inception equals pytorch-fid's network on the same (random) weights.

Needs torch, torchvision and pytorch-fid (skipped where they are absent). Nothing is downloaded:
pytorch-fid's `fid_inception_v3()` is rebuilt here from its own block classes with random weights.
"""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _import_pytorch_fid():
    """Import pytorch_fid.inception, working around a CUDA torchvision beside a CPU torch.

    PyPI's torchvision is built against CUDA torch; beside the CPU build its C++ ops do not load,
    and its import then stops registering fake kernels for torchvision::nms and ::qnms. pytorch-fid
    uses only torchvision's pure-Python Inception classes, so declaring those two operator schemas
    lets the import finish without changing anything this test uses.
    """
    try:
        pytest.importorskip("torchvision")
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
        for op in ("nms", "qnms"):
            torch.library.define(f"torchvision::{op}",
                                 "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        pytest.importorskip("torchvision")
    return pytest.importorskip("pytorch_fid.inception")


pfi = _import_pytorch_fid()

from conftest import load_tool  # noqa: E402

from jaxgan.metrics import inception, inception_convert  # noqa: E402
from jaxgan.metrics.extractors import InceptionExtractor  # noqa: E402

FID_INCEPTION_PARAMS = 23_850_960  # see tests/test_inception.py for how it was computed
ROOT = Path(__file__).resolve().parents[1]




def _randomise(net, seed):
    """Give convs He-normal weights and BatchNorms random affine params and running stats."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=gen))
                m.bias.copy_(0.1 * torch.randn(n, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
            elif isinstance(m, torch.nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / m.in_features**0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen))
    return net.eval()


def random_fid_inception(seed=0):
    """pytorch-fid's fid_inception_v3() with random weights instead of the downloaded ones."""
    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return _randomise(net, seed)


@pytest.fixture(scope="module")
def torch_net():
    return random_fid_inception()


@pytest.fixture(scope="module")
def converted(torch_net, tmp_path_factory):
    """(.pth path, .npz path) of the random weights, converted with tools/convert_inception.py."""
    folder = tmp_path_factory.mktemp("fid_weights")
    pth, npz = folder / "random_fid_inception.pth", folder / "random_fid_inception.npz"
    torch.save(torch_net.state_dict(), pth)
    load_tool("convert_inception").main([str(pth), str(npz)])
    return pth, npz


def test_features_and_logits_match_pytorch_fid(torch_net, converted, monkeypatch):
    monkeypatch.setattr(pfi, "fid_inception_v3", lambda: torch_net)
    reference = pfi.InceptionV3(output_blocks=[3], use_fid_inception=True).eval()
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    with torch.no_grad():
        unit = torch.from_numpy((images.transpose(0, 3, 1, 2) + 1.0) / 2.0)  # pytorch-fid's input
        want_pool = reference(unit)[0][:, :, 0, 0]
        want_logits = want_pool @ torch_net.fc.weight.T  # IS logits: fc without bias
    pool, logits = InceptionExtractor.from_file(converted[1]).features(images)
    assert float(want_pool.std()) > 0.1  # the random network's features are not degenerate
    np.testing.assert_allclose(np.asarray(pool), want_pool.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.asarray(logits), want_logits.numpy(), atol=1e-4, rtol=1e-5)


def test_parameter_count_equals_pytorch_fid(torch_net):
    ours = inception_convert.flatten_variables(inception.fid_inception_variables())
    count = sum(int(np.prod(v.shape)) for k, v in ours.items() if k.startswith("params/"))
    assert sum(p.numel() for p in torch_net.parameters()) == count == FID_INCEPTION_PARAMS
    buffers = sum(b.numel() for n, b in torch_net.named_buffers() if "running" in n)
    assert buffers == sum(int(np.prod(v.shape)) for k, v in ours.items() if k.startswith("batch"))


def test_converter_round_trips_through_pth(torch_net, converted, tmp_path):
    back = tmp_path / "back.pth"
    load_tool("convert_inception").main([str(converted[1]), str(back)])
    original, restored = torch_net.state_dict(), torch.load(back, weights_only=True)
    assert restored.keys() == original.keys()
    for name, tensor in original.items():
        assert torch.equal(restored[name], tensor), name


@pytest.mark.parametrize("size", [(32, 32), (28, 40), (512, 333)])
def test_resize_matches_torch_interpolate(size):
    images = np.random.default_rng(1).uniform(0, 1, (2, *size, 3)).astype(np.float32)
    want = torch.nn.functional.interpolate(torch.from_numpy(images.transpose(0, 3, 1, 2)),
                                           size=(299, 299), mode="bilinear", align_corners=False)
    got = inception.resize_bilinear(images)
    np.testing.assert_allclose(np.asarray(got), want.numpy().transpose(0, 2, 3, 1), atol=1e-5)
