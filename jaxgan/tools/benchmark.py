"""Throughput reference: jaxgan's train step (and the PyTorch DCGAN it replaces) in images/s, ms/step and TFLOP/s.

    jaxgan benchmark                      # MLP (batch 64/128/512) + DCGAN-64 (128/512), f32/bf16, K 1/10
    jaxgan benchmark --models dcgan --batch-sizes 512 --dtypes bfloat16 --ks 1
    jaxgan benchmark --quick              # tiny sizes, a smoke run on the CPU
    jaxgan benchmark --models dcgan --batch-sizes 32 --dtypes float32 --ks 1 --pin-core 0   # vs PyTorch, one core
    jaxgan benchmark --models stylegan2 --pin-core 0 --stylegan2-reference /path/to/stylegan2-ada-pytorch

One JSON object per line on stdout, each with a "kind": "env" (versions, device), "jaxgan" (one configuration),
"torch" (one variant of tools/torch_dcgan.py, or its crash), "ratio" (jaxgan's best DCGAN over the best PyTorch
variant at each batch size), "input" (the input pipeline alone, per source and batch size, to the device boundary;
see jaxgan/tools/input_bench.py), "input_speedup" (the JPEG folder's jpeg_2_workers_speedup, 2 grain workers over
0, per batch size) and "train_input" (DCGAN-64 fed from a prepared dataset against on-device data).

    jaxgan benchmark --input-only --no-torch       # the input rows and their speedup (2 cores: target 1.7)

How it measures: synthetic data already on the device; `--warmup` calls after compiling; then `--steps` train steps
(ceil(steps / K) calls), timed to `block_until_ready`. FLOPs per step come from XLA's cost analysis of the same
one-step program compiled for the CPU (on a GPU the cost analysis leaves out the cuDNN convolutions); TFLOP/s is that
count times the measured steps per second. Images per step = batch size (n_disc = 1: D on the real batch and the
fakes, then G).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.config import base_config
from jaxgan.engine.compile_options import step_compiler_options
from jaxgan.engine.multistep import jit_multi_step, unroll_k_steps
from jaxgan.engine.sharding import batch_sharding, data_mesh, jit_data_parallel, replicated
from jaxgan.engine.state import GAN, create_state
from jaxgan.engine.train_step import jit_train_step, with_grad_norm_policy
from jaxgan.objectives.factory import build_gan, build_train_step
from jaxgan.run.profiling import trace_to
from jaxgan.tools import input_bench, plain_jax_mlp
from jaxgan.tools.benchmark_stylegan2 import WIDTHS, stylegan2_rows
from jaxgan.tools.parsing import tool_parser
from jaxgan.tools.pinning import pin_to_core


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Model sizes: the real ones, or tiny ones for `--quick`."""

    mlp_shape: tuple[int, ...] = (28, 28, 1)
    mlp_hidden: tuple[int, ...] = (128, 128)
    dcgan_resolution: int = 64
    dcgan_width: int = 64
    z_dim: int = 100


FULL, QUICK = Sizes(), Sizes((8, 8, 1), (16, 16), 8, 8, 8)
PROFILED_CALLS = 5  # --profile traces this many calls of the first row, after its timed calls


def emit(row: dict) -> None:
    """Print one JSON line (floats rounded) and flush, so partial results survive a crash."""
    clean = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
    print(json.dumps(clean), flush=True)


def model_config(model: str, dtype: str, batch: int, sizes: Sizes) -> tuple[ml_collections.ConfigDict, tuple]:
    """The config of the seeds' MLP GAN or DCGAN (classic recipe: Adam 2e-4, beta1 0.5, BCE) and its example shape."""
    c = base_config()
    c.model.name, c.model.compute_dtype, c.model.z_dim = model, dtype, sizes.z_dim
    c.train.batch_size = batch
    if model == "mlp":
        c.model.mlp.g_hidden = c.model.mlp.d_hidden = sizes.mlp_hidden
        return c, sizes.mlp_shape
    c.model.dcgan.ngf = c.model.dcgan.ndf = sizes.dcgan_width
    return c, (sizes.dcgan_resolution, sizes.dcgan_resolution, 3)


def with_fast_layers(gan: GAN, fast: bool) -> GAN:
    """The same GAN with DCGAN's space-to-depth image layers switched on or off (same params, same function)."""
    nets = {}
    for name in ("generator", "discriminator"):
        net = getattr(gan, name)
        if hasattr(net, "fast_image_layers"):
            nets[name] = net.clone(fast_image_layers=fast)
    return dataclasses.replace(gan, **nets)


def cpu_flops(step: Callable, state, batch) -> float | None:
    """FLOPs of `step` from XLA's cost analysis of it compiled for the CPU (None if unavailable)."""
    try:
        device = jax.devices("cpu")[0]
        cpu = jax.sharding.SingleDeviceSharding(device)
        spec = lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=cpu)
        with jax.default_device(device):  # constants made while tracing live on the CPU too
            compiled = jax.jit(step).lower(jax.tree.map(spec, state), jax.tree.map(spec, batch)).compile()
        cost = compiled.cost_analysis()
    except Exception as error:  # noqa: BLE001 - the count is optional; say why it is missing
        print(f"cost analysis failed: {error!r}", file=sys.stderr)
        return None
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float(cost["flops"]) if cost and "flops" in cost else None


def time_calls(fn: Callable, state, batch, calls: int, warmup: int):
    """Run `warmup` calls, then time `calls` calls; returns (seconds, final state, last metrics)."""
    metrics = None
    for _ in range(warmup):
        state, metrics = fn(state, batch)
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(calls):
        state, metrics = fn(state, batch)
    jax.block_until_ready((state, metrics))
    return time.perf_counter() - start, state, metrics


def initial_state(gan: GAN, shape: tuple, cache: dict):
    """A fresh copy of the model's initial state (params are float32 for every compute dtype, so init once)."""
    key = (type(gan.generator).__name__, shape)
    if key not in cache:
        cache[key] = jax.jit(lambda: create_state(gan, shape, 0))()
    return jax.tree.map(jnp.copy, cache[key])


def jaxgan_step(model: str, batch: int, dtype: str, args) -> tuple[Callable, GAN, tuple, dict]:
    """The un-jitted train step of `model` as the trainer runs it, its GAN, the example shape and one batch."""
    config, shape = model_config(model, dtype, batch, QUICK if args.quick else FULL)
    gan = with_fast_layers(build_gan(config, shape), not args.no_fast_layers)
    step = build_train_step(config, gan)
    step = with_grad_norm_policy(step, not args.no_grad_norms, config.train.log_every)  # as the trainer runs it
    rng = np.random.default_rng(0)
    return step, gan, shape, {"x": jnp.asarray(rng.uniform(-1, 1, (1, batch, *shape)), jnp.float32)}


def bench_jaxgan(model: str, batch: int, dtype: str, k: int, args, cache: dict) -> dict:
    """Measure one jaxgan configuration."""
    step, gan, shape, one = jaxgan_step(model, batch, dtype, args)
    key = ("flops", model, batch, dtype)
    if key not in cache and not args.no_flops:
        cache[key] = cpu_flops(step, jax.eval_shape(lambda: create_state(gan, shape, 0)), one)
    mesh = data_mesh(jax.local_devices()[: args.devices]) if args.devices > 1 else None
    unrolled = k > 1 and unroll_k_steps(model)
    if k == 1:
        fn = jit_train_step(step) if mesh is None else jit_data_parallel(step, mesh)
        data = one
    else:
        fn = jit_multi_step(step, k, mesh, unrolled)
        data = {"x": jnp.broadcast_to(one["x"][None], (k, *one["x"].shape))}
    state = initial_state(gan, shape, cache)
    if mesh is not None:
        state = jax.device_put(state, replicated(mesh))
        data = jax.device_put(data, batch_sharding(mesh, 1 if k == 1 else 2))
    start = time.perf_counter()
    state, metrics = fn(state, data)  # compile and first call
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - start
    calls = max(1, math.ceil(args.steps / k))
    seconds, state, metrics = time_calls(fn, state, data, calls, args.warmup)
    profile_dir = args.profile if args.profile and not cache.get("profiled") else None
    with trace_to(profile_dir):  # after the timed calls, so tracing does not slow the figures
        time_calls(fn, state, data, min(calls, PROFILED_CALLS), 0)
    cache["profiled"] = cache.get("profiled") or profile_dir is not None
    steps = calls * k
    flops = cache.get(key)
    loss = np.asarray(jax.device_get(metrics["Loss/D"]))
    return {"kind": "jaxgan", "model": model, "batch": batch, "dtype": dtype, "k": k,
            "unrolled": unrolled, "devices": args.devices,
            "fast_image_layers": not args.no_fast_layers, "grad_norms": not args.no_grad_norms, "steps": steps,
            "images_per_s": batch * steps / seconds, "ms_per_step": 1e3 * seconds / steps,
            "flops_per_step": flops, "tflops_per_s": None if flops is None else flops * steps / seconds / 1e12,
            "compile_s": compile_s, "finite": bool(np.isfinite(loss).all()), "profile": profile_dir}


def plain_jax_rounds(args, cache: dict) -> list[dict]:
    """With --rounds R > 1: per MLP batch size, jaxgan's float32 one-step program and the plain step (as XLA
    compiles it by default, and with jaxgan's compile options) timed in R alternating rounds of --steps steps each
    (medians), which evens out the drift between back-to-back runs."""
    if args.rounds <= 1:
        return []
    rows = []
    for batch in args.batch_sizes["mlp"]:
        step, gan, shape, one = jaxgan_step("mlp", batch, "float32", args)
        ours = (jit_train_step(step), initial_state(gan, shape, cache), one)
        row = plain_jax_mlp.alternating_rounds(ours, batch, QUICK if args.quick else FULL, args.steps, args.warmup,
                                               args.rounds, time_calls, step_compiler_options(step))
        rows.append({**row, "grad_norms": not args.no_grad_norms})
    return rows


def bench_torch(batches: Iterable[int], args) -> list[dict]:
    """Measure the PyTorch DCGAN variants, where torch is installed."""
    try:
        import torch

        from jaxgan.tools.torch_dcgan import VARIANTS, time_variant
    except ImportError as error:
        return [{"kind": "torch", "status": "unavailable", "error": repr(error)}]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sizes = QUICK if args.quick else FULL
    wanted = set(args.torch_variants.split(",")) if args.torch_variants else None
    rows = []
    for batch in batches:
        for variant in VARIANTS:
            if (wanted and variant.name not in wanted) or (wanted is None and args.quick and variant.compile):
                continue
            row = time_variant(variant, batch=batch, resolution=sizes.dcgan_resolution, ngf=sizes.dcgan_width,
                               ndf=sizes.dcgan_width, steps=args.steps, warmup=args.warmup, device=device)
            rows.append({"kind": "torch", "model": "dcgan", "device": str(device), **row})
            emit(rows[-1])
    return rows


def ratios(jax_rows: list[dict], torch_rows: list[dict]) -> list[dict]:
    """jaxgan's best DCGAN images/s over the best PyTorch variant's, per batch size."""
    out = []
    for batch in sorted({r["batch"] for r in torch_rows if r.get("status") == "ok"}):
        ours = [r for r in jax_rows if r["model"] == "dcgan" and r["batch"] == batch]
        theirs = [r for r in torch_rows if r.get("status") == "ok" and r["batch"] == batch]
        if not ours:
            continue
        best, ref = max(ours, key=lambda r: r["images_per_s"]), max(theirs, key=lambda r: r["images_per_s"])
        out.append({"kind": "ratio", "model": "dcgan", "batch": batch, "ratio": best["images_per_s"] /
                    ref["images_per_s"], "jaxgan_images_per_s": best["images_per_s"],
                    "jaxgan_config": f"{best['dtype']} K={best['k']}", "torch_images_per_s": ref["images_per_s"],
                    "torch_variant": ref["variant"]})
    return out


def env_row() -> dict:
    """Versions and the device, so a table can say what it was measured on."""
    import flax
    import optax

    row = {"kind": "env", "jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__,
           "backend": jax.default_backend(), "device": jax.devices()[0].device_kind,
           "device_count": jax.device_count(), "python": sys.version.split()[0]}
    try:
        import torch

        row["torch"] = torch.__version__
    except ImportError:
        row["torch"] = None
    return row


# The seeds' MLP GAN is also timed at its own batch of 64 (the issue's 700k images/s target is set there).
DEFAULT_BATCH_SIZES = {"mlp": [64, 128, 512], "dcgan": [128, 512]}
STYLEGAN2_BATCH_SIZES = [4]  # `--models stylegan2`: one minibatch-std group (benchmark_stylegan2)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = tool_parser("benchmark", __doc__)
    p.add_argument("--models", default="mlp,dcgan", help="comma-separated: mlp, dcgan, stylegan2")
    p.add_argument("--stylegan2-resolutions", default="",
                   help="StyleGAN2: comma-separated resolutions (default 32, the `cifar` networks; --quick: 8)")
    p.add_argument("--stylegan2-widths", default="quarter,full",
                   help="StyleGAN2: the `cifar` networks' width, quarter (channel_base 8192, 128 maps) and/or full")
    p.add_argument("--stylegan2-ada", default="off", help="StyleGAN2: rows with ADA on, off or both")
    p.add_argument("--stylegan2-reference", metavar="PATH", default=None,
                   help="StyleGAN2: a checkout of NVlabs stylegan2-ada-pytorch, timed beside jaxgan (needs torch)")
    p.add_argument("--pin-core", type=int, default=None, metavar="CORE",
                   help="pin the process (jaxgan and PyTorch alike) to one CPU core, like taskset -c CORE")
    p.add_argument("--batch-sizes", default=None,
                   help="comma-separated, for every model (default: MLP 64,128,512, DCGAN 128,512; --quick: 8)")
    p.add_argument("--dtypes", default="float32,bfloat16", help="comma-separated compute dtypes")
    p.add_argument("--ks", default="1,10", help="comma-separated train steps per dispatch")
    p.add_argument("--steps", type=int, default=None, help="timed train steps (default 50; --quick: 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls after compiling (default 5; --quick: 1)")
    p.add_argument("--devices", type=int, default=1, help="data-parallel over this many local devices")
    p.add_argument("--no-fast-layers", action="store_true", help="DCGAN with plain conv image layers")
    p.add_argument("--no-grad-norms", action="store_true",
                   help="jaxgan's step without its Grad/* metrics (train.grad_norms=False); by default they are "
                        "computed every train.log_every steps, as in training")
    p.add_argument("--plain-jax", action="store_true",
                   help="MLP: also time the same step written directly in JAX (jaxgan/tools/plain_jax_mlp.py)")
    p.add_argument("--rounds", type=int, default=1,
                   help="with --plain-jax: also time the MLP steps in this many alternating rounds (medians)")
    p.add_argument("--no-flops", action="store_true", help="skip the CPU compile that counts FLOPs")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--torch-variants", default="", help="e.g. eager_fp32,compile_bf16 (default: all; --quick: eager)")
    p.add_argument("--no-input", action="store_true", help="skip the input pipeline measurement")
    p.add_argument("--input-only", action="store_true", help="only the input rows and the end-to-end train row")
    p.add_argument("--input-batch-sizes", default=None, help="input rows' batch sizes (default 128,512; --quick: 16)")
    p.add_argument("--input-sources", default="", help="comma-separated input rows to run (default: all)")
    p.add_argument("--e2e-steps", type=int, default=None, help="timed steps of the end-to-end row (default 5; 0: skip)")
    p.add_argument("--quick", action="store_true", help="tiny models and few steps: a smoke run for the CPU")
    p.add_argument("--profile", metavar="DIR", default=None,
                   help="write a jax.profiler trace of the first jaxgan row's steps to DIR (tensorboard --logdir DIR)")
    args = p.parse_args(argv)
    unknown = set(args.models.split(",")) - {*DEFAULT_BATCH_SIZES, "stylegan2"}
    if unknown:
        p.error(f"--models: unknown {sorted(unknown)}; choose from {sorted({*DEFAULT_BATCH_SIZES, 'stylegan2'})}.")
    args.stylegan2_batch_sizes = _ints(args.batch_sizes) if args.batch_sizes else STYLEGAN2_BATCH_SIZES
    args.stylegan2_resolutions = _ints(args.stylegan2_resolutions)
    ada = args.stylegan2_ada.split(",")
    if not ada or set(ada) - {"on", "off"}:
        p.error(f"--stylegan2-ada: expected on, off or on,off, got {args.stylegan2_ada!r}.")
    args.stylegan2_ada = [v == "on" for v in ada]
    args.stylegan2_widths = args.stylegan2_widths.split(",")
    if not args.stylegan2_widths or set(args.stylegan2_widths) - set(WIDTHS):
        p.error(f"--stylegan2-widths: expected quarter, full or quarter,full, got {','.join(args.stylegan2_widths)!r}.")
    if args.batch_sizes or args.quick:
        args.batch_sizes = dict.fromkeys(("mlp", "dcgan"), _ints(args.batch_sizes or "8"))
    else:
        args.batch_sizes = DEFAULT_BATCH_SIZES
    args.steps = args.steps or (2 if args.quick else 50)
    args.input_batch_sizes = _ints(args.input_batch_sizes or ("16" if args.quick else "128,512"))
    args.e2e_steps = args.e2e_steps if args.e2e_steps is not None else (1 if args.quick else 5)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    if args.pin_core is not None:  # before jax's CPU client exists, which sizes its thread pools by the free cores
        pin_to_core(args.pin_core)
    if args.devices > len(jax.local_devices()):
        p.error(f"--devices={args.devices} but only {len(jax.local_devices())} local devices exist.")
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the benchmark; print and return its rows."""
    args = parse_args(argv)
    rows = [env_row()]
    emit(rows[0])
    cache: dict = {}
    jax_rows = []
    for model in [] if args.input_only else args.models.split(","):
        if model == "stylegan2":  # its own rows: phases, step kinds and the reference (benchmark_stylegan2)
            rows += stylegan2_rows(args, args.stylegan2_batch_sizes, emit)
            continue
        for batch in args.batch_sizes[model]:
            for dtype in args.dtypes.split(","):
                for k in _ints(args.ks):
                    jax_rows.append(bench_jaxgan(model, batch, dtype, k, args, cache))
                    emit(jax_rows[-1])
    rows += jax_rows
    if args.plain_jax and "mlp" in args.models.split(","):
        rows += plain_jax_mlp.rows_beside(jax_rows, args.batch_sizes["mlp"], QUICK if args.quick else FULL,
                                          args.steps, args.warmup, time_calls, emit)
        for row in plain_jax_rounds(args, cache):
            rows.append(row)
            emit(row)
    if not (args.no_torch or args.input_only) and "dcgan" in args.models.split(","):
        torch_rows = bench_torch(args.batch_sizes["dcgan"], args)
        rows += torch_rows
        for row in ratios(jax_rows, torch_rows):
            rows.append(row)
            emit(row)
    if not args.no_input:
        rows += input_rows(args)
    return rows


def input_rows(args: argparse.Namespace) -> list[dict]:
    """The input-pipeline rows, then DCGAN-64 at the first input batch size fed from the prepared dataset."""
    with tempfile.TemporaryDirectory() as tmp:
        only = [name for name in args.input_sources.split(",") if name]
        rows = input_bench.bench_input(args.input_batch_sizes, args.quick, Path(tmp), emit, only)
        if args.e2e_steps:
            sizes = dataclasses.replace(QUICK if args.quick else FULL, dcgan_resolution=input_bench.SIDE)
            config, _ = model_config("dcgan", "float32", args.input_batch_sizes[0], sizes)
            rows.append(input_bench.bench_end_to_end(config, Path(tmp) / "prepared64", args.e2e_steps))
            emit(rows[-1])
    return rows


