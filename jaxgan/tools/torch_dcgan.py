"""The PyTorch DCGAN reference that `jaxgan benchmark` measures jaxgan against.

It is the classic recipe of PyTorch's `examples/dcgan`: G of transposed convs with BatchNorm and ReLU, D of strided
convs with BatchNorm and leaky ReLU, N(0, 0.02) init, Adam 2e-4 with beta1 0.5, BCE. One step updates D on a real
batch and on the detached fakes, then G through D (one G forward pass). Variants: eager or `torch.compile`, float32
or bf16 autocast, contiguous or channels_last. Each variant runs in `time_variant`, which reports a crash as such.
"""

from __future__ import annotations

import dataclasses
import time
import traceback

import torch
from torch import nn


def _g_layers(nz: int, ngf: int, channels: int, resolution: int) -> list[nn.Module]:
    n = resolution.bit_length() - 3  # 64 -> 4 transposed convs after the 4x4 projection
    width = ngf * 2 ** (n - 1)
    layers: list[nn.Module] = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(n - 1):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                   nn.ReLU(True)]
        width //= 2
    return layers + [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]


def _d_layers(ndf: int, channels: int, resolution: int) -> list[nn.Module]:
    n = resolution.bit_length() - 3
    layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    width = ndf
    for _ in range(n - 1):
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                   nn.LeakyReLU(0.2, inplace=True)]
        width *= 2
    return layers + [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]  # logits; BCEWithLogits is the sigmoid + BCE


def _init(m: nn.Module) -> None:
    """DCGAN's initialisation: N(0, 0.02) convs, N(1, 0.02) BatchNorm scales."""
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def build_models(resolution: int = 64, nz: int = 100, ngf: int = 64, ndf: int = 64,
                 channels: int = 3) -> tuple[nn.Module, nn.Module]:
    """(G, D) of PyTorch's DCGAN example for square images of `resolution` = 2^n >= 8."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"The PyTorch DCGAN reference needs a power-of-two resolution >= 8, got {resolution}.")
    g = nn.Sequential(*_g_layers(nz, ngf, channels, resolution))
    d = nn.Sequential(*_d_layers(ndf, channels, resolution))
    g.apply(_init)
    d.apply(_init)
    return g, d


@dataclasses.dataclass(frozen=True)
class Variant:
    """How the reference runs: compiled or eager, bf16 autocast or float32, channels_last or contiguous."""

    compile: bool = False
    bf16: bool = False
    channels_last: bool = False

    @property
    def name(self) -> str:
        parts = ["compile" if self.compile else "eager", "bf16" if self.bf16 else "fp32"]
        return "_".join(parts + (["channels_last"] if self.channels_last else []))


VARIANTS = tuple(Variant(c, b, cl) for c in (False, True) for b in (False, True) for cl in (False, True))


def make_step(g: nn.Module, d: nn.Module, variant: Variant, device: torch.device):
    """The classic DCGAN step `step(real) -> (loss_d, loss_g)` for one variant."""
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    nz = g[0].in_channels
    fwd_g, fwd_d = (torch.compile(g), torch.compile(d)) if variant.compile else (g, d)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=variant.bf16)
    memory_format = torch.channels_last if variant.channels_last else torch.contiguous_format

    def step(real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = real.shape[0]
        ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
        z = torch.randn(b, nz, 1, 1, device=device).contiguous(memory_format=memory_format)
        opt_d.zero_grad(set_to_none=True)
        with autocast:
            fake = fwd_g(z)
            loss_d = bce(fwd_d(real).view(-1).float(), ones) + bce(fwd_d(fake.detach()).view(-1).float(), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        with autocast:
            loss_g = bce(fwd_d(fake).view(-1).float(), ones)
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_variant(variant: Variant, *, batch: int, resolution: int, ngf: int, ndf: int, steps: int, warmup: int,
                 device: torch.device) -> dict:
    """images/s and ms/step of one variant on synthetic data already on the device; a crash is reported, not raised."""
    row = {"variant": variant.name, "batch": batch}
    try:
        torch.manual_seed(0)
        memory_format = torch.channels_last if variant.channels_last else torch.contiguous_format
        g, d = build_models(resolution, ngf=ngf, ndf=ndf)
        g, d = g.to(device, memory_format=memory_format), d.to(device, memory_format=memory_format)
        real = (torch.rand(batch, 3, resolution, resolution, device=device) * 2 - 1).contiguous(
            memory_format=memory_format)
        step = make_step(g, d, variant, device)
        for _ in range(warmup):
            step(real)
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            losses = step(real)
        _sync(device)
        elapsed = time.perf_counter() - start
        finite = all(torch.isfinite(v).item() for v in losses)
        return {**row, "status": "ok", "images_per_s": batch * steps / elapsed, "ms_per_step": 1e3 * elapsed / steps,
                "finite": finite}
    except Exception as error:  # noqa: BLE001 - a crashing configuration is a result, e.g. inductor asserts
        lines = traceback.format_exception_only(type(error), error)
        return {**row, "status": "crashed", "error": "".join(lines).strip()[-500:]}


def main(argv: list[str] | None = None) -> list[dict]:
    """Time the reference's variants alone and print one JSON line each (jaxgan benchmark runs them beside jaxgan)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128, help="images per step")
    parser.add_argument("--resolution", type=int, default=64, help="image side (a power of two >= 8)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--variants", default="eager_fp32", help="comma-separated variant names, or 'all'")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = [v for v in VARIANTS if args.variants == "all" or v.name in args.variants.split(",")]
    rows = [time_variant(v, batch=args.batch_size, resolution=args.resolution, ngf=64, ndf=64, steps=args.steps,
                         warmup=args.warmup, device=device) for v in chosen]
    for row in rows:
        print(json.dumps(row))
    return rows
