"""The StyleGAN2 reference phase timer (tools/stylegan2_reference.py) on a fake checkout of a few linear layers, and
core pinning (tools/pinning.py) in a child process. No reference checkout ships with jaxgan or exists in CI."""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jaxgan.tools import pinning
from jaxgan.tools import stylegan2_reference as ref_tool

try:
    import torch
except ImportError:  # the fake-checkout tests need torch; the checkout check and the pinning do not
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install 'jaxgan[torch]')")

ROOT = Path(__file__).resolve().parents[1]
Z, W, NUM_WS, RES, BATCH = 3, 4, 2, 4, 4

NETWORKS = f"""
import torch

class Mapping(torch.nn.Module):
    def __init__(self, z_dim, w_dim, num_ws):
        super().__init__()
        self.fc = torch.nn.Linear(z_dim, w_dim)
        self.num_ws = num_ws
        self.register_buffer("w_avg", torch.zeros([w_dim]))  # a buffer, as the reference's: not a parameter

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, skip_w_avg_update=False):
        return self.fc(z).unsqueeze(1).repeat([1, self.num_ws, 1])

class Synthesis(torch.nn.Module):
    def __init__(self, w_dim, img_resolution, img_channels, **kwargs):
        super().__init__()
        self.kwargs = kwargs
        self.shape = [img_channels, img_resolution, img_resolution]
        self.fc = torch.nn.Linear(w_dim, img_channels * img_resolution * img_resolution)

    def forward(self, ws, **block_kwargs):
        return self.fc(ws.mean(1)).reshape([-1] + self.shape)

class Generator(torch.nn.Module):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={{}}, synthesis_kwargs={{}}):
        super().__init__()
        self.z_dim, self.c_dim, self.mapping_kwargs = z_dim, c_dim, mapping_kwargs
        self.synthesis = Synthesis(w_dim, img_resolution, img_channels, **synthesis_kwargs)
        self.mapping = Mapping(z_dim, w_dim, {NUM_WS})

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, **synthesis_kwargs):
        return self.synthesis(self.mapping(z, c), **synthesis_kwargs)

class Discriminator(torch.nn.Module):
    def __init__(self, c_dim, img_resolution, img_channels, architecture="resnet", channel_base=32768,
                 channel_max=512, num_fp16_res=0, conv_clamp=None, cmap_dim=None, block_kwargs={{}},
                 mapping_kwargs={{}}, epilogue_kwargs={{}}):
        super().__init__()
        self.kwargs = dict(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels,
                           architecture=architecture, channel_base=channel_base, channel_max=channel_max,
                           num_fp16_res=num_fp16_res, conv_clamp=conv_clamp, epilogue_kwargs=epilogue_kwargs)
        self.fc = torch.nn.Linear(img_channels * img_resolution * img_resolution, 5)
        self.out = torch.nn.Linear(5, 1)

    def forward(self, img, c, **block_kwargs):
        return self.out(torch.tanh(self.fc(img.flatten(1))))
"""

LOSS = """
import torch

class StyleGAN2Loss:
    def __init__(self, device, G_mapping, G_synthesis, D, augment_pipe=None, style_mixing_prob=0.9, r1_gamma=10,
                 pl_batch_shrink=2, pl_decay=0.01, pl_weight=2):
        self.kwargs = dict(device=device, augment_pipe=augment_pipe, style_mixing_prob=style_mixing_prob,
                           r1_gamma=r1_gamma, pl_batch_shrink=pl_batch_shrink, pl_decay=pl_decay, pl_weight=pl_weight)
        self.G_mapping, self.G_synthesis, self.D = G_mapping, G_synthesis, D
        self.calls = []
        self.poison = None  # a value the trained net's first gradient is set to after the backward pass

    def accumulate_gradients(self, phase, real_img, real_c, gen_z, gen_c, sync, gain):
        g_params = list(self.G_mapping.parameters()) + list(self.G_synthesis.parameters())
        trained = g_params if phase.startswith("G") else list(self.D.parameters())
        self.calls.append(dict(phase=phase, gain=gain, sync=sync, real=real_img, z=gen_z, c=gen_c,
                               g_grad=[p.requires_grad for p in g_params],
                               d_grad=[p.requires_grad for p in self.D.parameters()],
                               fresh=all(p.grad is None for p in trained)))
        img = self.G_synthesis(self.G_mapping(gen_z, gen_c))
        if phase == "Gmain":
            loss = torch.nn.functional.softplus(-self.D(img, gen_c))
        elif phase == "Greg":
            loss = img.square().mean([1, 2, 3])
        elif phase == "Dmain":
            loss = torch.nn.functional.softplus(self.D(img.detach(), gen_c)) + self.D(real_img, real_c).neg()
        else:
            loss = self.D(real_img, real_c).square()
        loss.mean().mul(gain).backward()
        if self.poison is not None:
            trained[0].grad.fill_(self.poison)
"""


def fake_checkout(root: Path) -> Path:
    """A directory laid out as a stylegan2-ada-pytorch checkout, holding the fake networks and loss above."""
    (root / "training").mkdir(parents=True)
    (root / "torch_utils").mkdir()
    (root / "training" / "__init__.py").write_text("")
    (root / "training" / "networks.py").write_text(textwrap.dedent(NETWORKS))
    (root / "training" / "loss.py").write_text(textwrap.dedent(LOSS))
    (root / "torch_utils" / "__init__.py").write_text("")
    return root


def spec(**overrides) -> ref_tool.BenchSpec:
    """A tiny BenchSpec for the fake networks."""
    values = dict(resolution=RES, batch=BATCH, channel_base=64, channel_max=8, z_dim=Z, w_dim=W, mapping_layers=2,
                  architecture="orig", mbstd_group=2, style_mixing_prob=0.5, pl_weight=2.0, r1_gamma=1.0)
    return ref_tool.BenchSpec(**{**values, **overrides})


@pytest.fixture
def phases(tmp_path):
    """ReferencePhases on a fresh fake checkout (and fresh imports of it)."""
    if torch is None:
        pytest.skip("torch is not installed (pip install 'jaxgan[torch]')")
    return ref_tool.ReferencePhases(ref_tool.load_reference(fake_checkout(tmp_path / "ref")), spec(), seed=0)


def params_of(module) -> list:
    return [p.detach().clone() for p in module.parameters()]


def changed(before: list, module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


# --- the error lines ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("present, missing", [((), "training/networks.py"),
                                              (("training/networks.py",), "training/loss.py"),
                                              (("training/networks.py", "training/loss.py"), "torch_utils")])
def test_not_a_checkout_is_one_line(tmp_path, present, missing):
    for name in present:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    with pytest.raises(ValueError) as error:
        ref_tool.load_reference(tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"--stylegan2-reference PATH: {tmp_path} is not a checkout of NVlabs stylegan2-ada-")
    assert f"(no {missing})" in message and "clone https://github.com/NVlabs/stylegan2-ada-pytorch" in message


def test_unknown_phase_and_bad_spec(phases):
    with pytest.raises(ValueError, match="Unknown StyleGAN2 phase 'Gboth'"):
        phases.run_phase("Gboth")
    with pytest.raises(ValueError, match="architecture"):
        spec(architecture="skipnet")
    with pytest.raises(ValueError, match="divisible"):
        spec(batch=6, mbstd_group=4)


# --- the phases ----------------------------------------------------------------------------------------------------


def test_networks_and_loss_are_built_as_training_loop_builds_them(phases):
    d_kwargs = phases.D.kwargs
    assert d_kwargs == dict(c_dim=0, img_resolution=RES, img_channels=3, architecture="orig", channel_base=64,
                            channel_max=8, num_fp16_res=0, conv_clamp=None, epilogue_kwargs={"mbstd_group_size": 2})
    assert phases.G.synthesis.kwargs == dict(channel_base=64, channel_max=8, num_fp16_res=0, conv_clamp=None)
    assert (phases.G.z_dim, phases.G.c_dim, phases.G.mapping_kwargs) == (Z, 0, {"num_layers": 2})
    assert phases.G.training and phases.D.training
    assert not any(p.requires_grad for p in [*phases.G.parameters(), *phases.D.parameters()])
    loss = phases.loss
    assert (loss.G_mapping, loss.G_synthesis, loss.D) == (phases.G.mapping, phases.G.synthesis, phases.D)
    assert loss.kwargs == dict(device=torch.device("cpu"), augment_pipe=None, style_mixing_prob=0.5, r1_gamma=1.0,
                               pl_batch_shrink=2, pl_decay=0.01, pl_weight=2.0)
    assert phases.real.shape == (BATCH, 3, RES, RES) and phases.real.min() >= -1 and phases.real.max() <= 1
    assert phases.real.min() < -0.5 and phases.real.max() > 0.5  # spread over [-1, 1], not [0, 1]
    assert phases.z.shape == (BATCH, Z) and phases.c.shape == (BATCH, 0)


def test_lazy_regularisation_adam(phases):
    for net, k in (("G", 4), ("D", 16)):
        (group,) = phases.opts[net].param_groups
        assert isinstance(phases.opts[net], torch.optim.Adam)
        assert group["lr"] == pytest.approx(0.0025 * k / (k + 1))
        assert group["betas"][0] == 0 and group["betas"][1] == pytest.approx(0.99 ** (k / (k + 1)))
    g_params = {id(p) for p in phases.G.parameters()}
    assert {id(p) for p in phases.opts["G"].param_groups[0]["params"]} == g_params
    assert {id(p) for p in phases.opts["D"].param_groups[0]["params"]} == {id(p) for p in phases.D.parameters()}


def test_each_phase_runs_with_its_gain_and_updates_its_net_only(phases):
    for name in ref_tool.PHASES:
        trained, frozen = (phases.G, phases.D) if name[0] == "G" else (phases.D, phases.G)
        trained_before, frozen_before = params_of(trained), params_of(frozen)
        phases.run_phase(name)
        assert changed(trained_before, trained), name
        assert not changed(frozen_before, frozen), name
        assert not any(p.requires_grad for p in [*phases.G.parameters(), *phases.D.parameters()]), name
    calls = phases.loss.calls
    assert [c["phase"] for c in calls] == list(ref_tool.PHASES)
    assert [c["gain"] for c in calls] == [1, 4, 1, 16]
    assert all(c["sync"] for c in calls)
    assert [all(c["g_grad"]) for c in calls] == [True, True, False, False]  # requires_grad on the trained net only
    assert [any(c["d_grad"]) for c in calls] == [False, False, True, True]
    assert all(c["fresh"] for c in calls)  # zero_grad(set_to_none=True) before each phase
    assert all(c["real"] is phases.real and c["z"] is phases.z for c in calls)  # fixed inputs


@pytest.mark.parametrize("value, expected", [(math.nan, 0.0), (math.inf, 1e5), (-math.inf, -1e5)])
def test_gradients_are_nan_guarded_before_the_step(phases, value, expected):
    phases.loss.poison = value
    phases.run_phase("Dreg")
    first = next(phases.D.parameters())
    exp_avg = phases.opts["D"].state[first]["exp_avg"]  # beta1 = 0: the (guarded) gradient itself
    assert torch.all(exp_avg == expected)
    assert all(torch.isfinite(p).all() for p in phases.D.parameters())


def test_param_counts_leave_out_buffers(phases):
    g = (Z * W + W) + (W * 3 * RES * RES + 3 * RES * RES)
    d = (3 * RES * RES * 5 + 5) + (5 + 1)
    assert phases.param_counts() == {"G": g, "D": d}


def test_time_phase_and_seeds(tmp_path, phases):
    per_call = phases.time_phase("Greg", repeats=3, warmup=2)
    assert len(per_call) == 3 and all(t > 0 for t in per_call)  # one duration per timed call
    assert [c["phase"] for c in phases.loss.calls] == ["Greg"] * 5
    other_ref = ref_tool.load_reference(fake_checkout(tmp_path / "other"))
    assert other_ref.networks.__file__.startswith(str((tmp_path / "other").resolve()))  # this checkout's modules
    back = ref_tool.load_reference(tmp_path / "ref")  # the first checkout again: its modules, not the last one's
    assert back.loss.__file__.startswith(str((tmp_path / "ref").resolve()))
    first, same, other = (ref_tool.ReferencePhases(other_ref, spec(), seed=seed) for seed in (0, 0, 1))
    assert torch.equal(first.real, same.real) and torch.equal(first.z, same.z)
    assert not changed(params_of(first.G), same.G)
    assert not torch.equal(first.real, other.real) and not torch.equal(first.z, other.z)
    assert changed(params_of(first.G), other.G)


# --- pinning -------------------------------------------------------------------------------------------------------

PIN_CHILD = """
import json, os, sys, threading
if sys.argv[2] == "torch":
    import torch
    torch.set_num_threads(2)
    torch.ones(256, 256) @ torch.ones(256, 256)  # starts torch's intra-op threads before the pinning
from jaxgan.tools.pinning import pin_to_core
stop = threading.Event()
before = [threading.Thread(target=stop.wait) for _ in range(3)]
for t in before:
    t.start()
pin_to_core(int(sys.argv[1]))
after = threading.Thread(target=stop.wait)
after.start()
affinity = {tid: sorted(os.sched_getaffinity(int(tid))) for tid in os.listdir("/proc/self/task")}
stop.set()
torch_threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
print(json.dumps({"affinity": affinity, "torch_threads": torch_threads}))
"""


@pytest.mark.parametrize("with_torch", [False, pytest.param(True, marks=needs_torch)])
def test_pin_to_core_pins_every_thread(with_torch):
    core = min(os.sched_getaffinity(0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PIN_CHILD, str(core), "torch" if with_torch else "-"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["affinity"]) >= 5  # the main thread, three started before the pinning, one after
    assert all(cores == [core] for cores in result["affinity"].values()), result["affinity"]
    assert result["torch_threads"] == (1 if with_torch else None)  # torch not imported by the pinning itself


def test_pin_to_a_missing_core_is_one_line():
    before = os.sched_getaffinity(0)
    bad = max(os.cpu_count() or 1, *before) + 1
    with pytest.raises(ValueError) as error:
        pinning.pin_to_core(bad)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"--pin-core {bad}")
    assert str(sorted(before)) in message
    assert os.sched_getaffinity(0) == before


def test_load_average():
    loads = pinning.load_average()
    assert len(loads) == 3 and all(isinstance(x, float) and x >= 0 for x in loads)
