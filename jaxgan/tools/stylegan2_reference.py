"""The NVlabs stylegan2-ada-pytorch reference's training phases, timed one by one (`--stylegan2-reference PATH`).

Nothing of the reference ships with jaxgan: `load_reference` imports `training.networks` and `training.loss` from a
checkout the user gives. `ReferencePhases` builds G and D as the reference's `training_loop` does (float32 on the
CPU: no fp16 layers, no conv clamp; the CUDA plugins are never built, as the reference's ops take their reference
implementations for tensors off CUDA), its `StyleGAN2Loss` without augmentation, and one Adam per network with the
lazy-regularisation correction (lr and betas scaled by k / (k + 1), k the phase interval). `run_phase` is one
iteration of the loop's phase body for Gmain, Greg, Dmain or Dreg on fixed synthetic reals and a fixed z.
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

from jaxgan.errors import JaxganError

REFERENCE_URL = "https://github.com/NVlabs/stylegan2-ada-pytorch"
CHECKOUT_FILES = ("training/networks.py", "training/loss.py", "torch_utils")
REFERENCE_PACKAGES = ("training", "torch_utils", "dnnlib")  # the checkout's top-level packages
PHASES = ("Gmain", "Greg", "Dmain", "Dreg")
ARCHITECTURES = ("orig", "resnet", "skip")
ADAM_BETAS = (0.0, 0.99)  # training_loop's G_opt_kwargs / D_opt_kwargs
PL_BATCH_SHRINK, PL_DECAY = 2, 0.01  # StyleGAN2Loss's defaults, which train.py keeps


@dataclass(frozen=True)
class BenchSpec:
    """The reference's networks, loss and optimiser settings for one benchmark row (float32, no fp16 layers)."""

    resolution: int
    batch: int
    channel_base: int
    channel_max: int
    z_dim: int
    w_dim: int
    mapping_layers: int
    architecture: str  # D's: "orig" | "resnet" | "skip" (G's synthesis is the reference's skip, as train.py's)
    mbstd_group: int
    style_mixing_prob: float
    pl_weight: float
    r1_gamma: float
    pl_interval: int = 4
    r1_interval: int = 16
    lr: float = 0.0025

    def __post_init__(self) -> None:
        """Reject settings the reference's networks cannot build or run."""
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"Unknown StyleGAN2 architecture {self.architecture!r}; choose one of {ARCHITECTURES}.")
        if self.resolution < 4 or self.resolution & (self.resolution - 1):
            raise ValueError(f"The StyleGAN2 reference needs a power-of-two resolution >= 4, got {self.resolution}.")
        group = min(self.mbstd_group, self.batch)
        if self.batch < PL_BATCH_SHRINK or self.mbstd_group < 1 or self.batch % group:
            raise ValueError(f"The StyleGAN2 reference needs a batch >= {PL_BATCH_SHRINK} divisible by its minibatch-"
                             f"std group; got batch {self.batch}, group {self.mbstd_group}.")
        if self.pl_interval < 1 or self.r1_interval < 1:
            raise ValueError(f"Lazy-regularisation intervals must be >= 1, got {self.pl_interval}, {self.r1_interval}.")


def check_checkout(path: str | Path) -> Path:
    """`path` resolved; a one-line ValueError unless it holds the reference's training/ and torch_utils/."""
    root = Path(path).expanduser().resolve()
    for name in CHECKOUT_FILES:
        if not (root / name).exists():
            raise ValueError(f"--stylegan2-reference PATH: {path} is not a checkout of NVlabs stylegan2-ada-pytorch "
                             f"(no {name}); clone {REFERENCE_URL} and pass its path")
    return root


def _forget_other_checkouts(root: Path) -> None:
    """Drop imported reference packages that come from elsewhere, so this checkout's are the ones imported."""
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in REFERENCE_PACKAGES:
            continue
        where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), None)
        if where is None or not Path(where).resolve().is_relative_to(root):
            del sys.modules[name]


def load_reference(path: str | Path) -> SimpleNamespace:
    """Import the reference checkout at `path`: a namespace of torch, its `networks` and `loss` modules, its root."""
    root = check_checkout(path)
    try:
        import torch
    except ImportError:
        raise JaxganError("--stylegan2-reference needs PyTorch: pip install torch (or pip install 'jaxgan[torch]')"
                          ) from None
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))  # first, ahead of any other checkout loaded before
    _forget_other_checkouts(root)
    importlib.invalidate_caches()
    networks = importlib.import_module("training.networks")
    loss = importlib.import_module("training.loss")
    return SimpleNamespace(torch=torch, networks=networks, loss=loss, root=root)


def build_networks(networks: ModuleType, spec: BenchSpec) -> tuple:
    """(G, D) as training_loop constructs them from train.py's kwargs: c_dim 0, RGB, float32, train mode, frozen."""
    common = dict(c_dim=0, img_resolution=spec.resolution, img_channels=3)
    widths = dict(channel_base=spec.channel_base, channel_max=spec.channel_max, num_fp16_res=0, conv_clamp=None)
    g = networks.Generator(z_dim=spec.z_dim, w_dim=spec.w_dim, mapping_kwargs=dict(num_layers=spec.mapping_layers),
                           synthesis_kwargs=dict(widths), **common)
    d = networks.Discriminator(architecture=spec.architecture, block_kwargs={}, mapping_kwargs={},
                               epilogue_kwargs=dict(mbstd_group_size=spec.mbstd_group), **widths, **common)
    return g.train().requires_grad_(False), d.train().requires_grad_(False)


def lazy_adam(torch: ModuleType, module, lr: float, interval: int):
    """training_loop's Adam for a lazily regularised net: lr and betas scaled by interval / (interval + 1)."""
    ratio = interval / (interval + 1)
    return torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=[beta**ratio for beta in ADAM_BETAS])


class ReferencePhases:
    """The reference's G, D, loss and optimisers on fixed inputs; `run_phase` is one training-loop phase iteration."""

    def __init__(self, ref: SimpleNamespace, spec: BenchSpec, seed: int = 0):
        torch = self.torch = ref.torch
        self.spec = spec
        torch.manual_seed(seed)  # the networks' initialisation, and the loss's style mixing and noise draws
        self.G, self.D = build_networks(ref.networks, spec)
        self.loss = ref.loss.StyleGAN2Loss(
            device=torch.device("cpu"), G_mapping=self.G.mapping, G_synthesis=self.G.synthesis, D=self.D,
            augment_pipe=None, style_mixing_prob=spec.style_mixing_prob, r1_gamma=spec.r1_gamma,
            pl_batch_shrink=PL_BATCH_SHRINK, pl_decay=PL_DECAY, pl_weight=spec.pl_weight)
        self.opts = {"G": lazy_adam(torch, self.G, spec.lr, spec.pl_interval),
                     "D": lazy_adam(torch, self.D, spec.lr, spec.r1_interval)}
        inputs = torch.Generator().manual_seed(seed)
        shape = [spec.batch, 3, spec.resolution, spec.resolution]
        self.real = torch.rand(shape, generator=inputs) * 2 - 1  # NCHW in [-1, 1], as the loop scales uint8 reals
        self.z = torch.randn([spec.batch, spec.z_dim], generator=inputs)
        self.c = torch.zeros([spec.batch, 0])

    def param_counts(self) -> dict:
        """Trainable parameters of G and D (buffers such as w_avg and noise_const not counted)."""
        return {"G": sum(p.numel() for p in self.G.parameters()), "D": sum(p.numel() for p in self.D.parameters())}

    def _phase(self, name: str) -> tuple:
        """(module, optimiser, gain) of phase `name`: the gain is the phase's interval, 1 for the main phases."""
        intervals = {"Gmain": 1, "Greg": self.spec.pl_interval, "Dmain": 1, "Dreg": self.spec.r1_interval}
        if name not in intervals:
            raise ValueError(f"Unknown StyleGAN2 phase {name!r}; choose one of {PHASES}.")
        net = name[0]
        return (self.G if net == "G" else self.D), self.opts[net], intervals[name]

    def run_phase(self, name: str) -> None:
        """One iteration of training_loop's phase body: fresh grads, one accumulation round, NaN-guarded Adam step."""
        module, opt, gain = self._phase(name)
        opt.zero_grad(set_to_none=True)
        module.requires_grad_(True)
        self.loss.accumulate_gradients(phase=name, real_img=self.real, real_c=self.c, gen_z=self.z, gen_c=self.c,
                                       sync=True, gain=gain)
        module.requires_grad_(False)
        for param in module.parameters():
            if param.grad is not None:
                self.torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
        opt.step()

    def time_phase(self, name: str, repeats: int, warmup: int = 1) -> list[float]:
        """Seconds per `run_phase(name)` call for `repeats` calls after `warmup` untimed ones."""
        self._phase(name)
        for _ in range(warmup):
            self.run_phase(name)
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.run_phase(name)
            seconds.append(time.perf_counter() - start)
        return seconds
