"""Sample from a trained run: `jaxgan sample --workdir DIR --out DIR [--num N] [--seed S]`.

Reads only G's arrays (the EMA params when the run kept an EMA) from the newest readable checkpoint, or from
`--checkpoint PATH` (a checkpoints/ folder or one checkpoint step folder) and `--step` (a step, latest or best), and
says on stderr which step it read. Writes samples.png, samples.npz, interp_lerp.png and interp_slerp.png (rows go
from one latent to another), truncated.png (BigGAN's truncation: components with |z_i| > --truncation redrawn) and,
for class-conditional models, classes.png (one row per class, the same latents in every row); `--class C` draws
every other sample of class C. The same seed writes the same images.

Every G also takes the reference's generate.py options (`jaxgan.sampling.seeds`): `--seeds 0,1,2` writes
seed0000.png, ... (one image per seed; `--class` for a conditional G), and `--video loop.gif` (or .mp4) an
interpolation loop through the seeds (default 0-3), `--video-steps` frames apart (needs the `[video]` extra). With
--seeds, --video or --style-mix-* only those files are written. StyleGAN2 runs (model.name=stylegan2) add
`--style-mix-rows 1,2 --style-mix-cols 3,4,5`, which writes style_mix.png (each row's w with the `--styles` layers,
default 0-6, from each column's w), and `--trunc-psi`, which moves w toward the tracked w_avg (1 = off). G's
per-layer noise is the constant noise unless `--noise-mode random` (drawn from the seed) or `none`, so a seed always
gives the same image.

`--drs` instead writes drs_samples.npz and drs_samples.png: `--num-samples` samples kept by discriminator rejection
sampling (Azadi et al. 2019; jaxgan/sampling/drs.py), which reads D too, with `--drs-percentile` as the paper's gamma.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

from jaxgan.errors import JaxganError
from jaxgan.run.checkpoint_noise import quiet_orbax_notices
from jaxgan.run.runs import load_generator_checkpoint, load_rejection_sampler, parse_step
from jaxgan.sampling.drs import check_percentile
from jaxgan.sampling.generate import picture_of, write_sample_set
from jaxgan.sampling.images import save_png
from jaxgan.sampling.seeds import write_seed_images, write_video
from jaxgan.sampling.stylegan2 import check_stylegan2, write_style_mixing
from jaxgan.tools.parsing import tool_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = tool_parser("sample", __doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--workdir", help="a training run's workdir (reads its checkpoints/)")
    source.add_argument("--checkpoint", help="a checkpoints/ folder or one checkpoint step folder")
    parser.add_argument("--step", type=parse_step, default=None,
                        help="checkpoint step, latest (default: the newest readable) or best (by train.best_metric)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num-samples", type=int, default=64, help="samples in samples.npz")
    parser.add_argument("--seed", type=int, default=0, help="seed of every latent drawn")
    parser.add_argument("--grid", type=int, default=64, help="samples shown in samples.png and truncated.png")
    parser.add_argument("--truncation", type=float, default=0.5, help="truncation threshold on |z_i|")
    parser.add_argument("--interp-pairs", type=int, default=8, help="rows of the interpolation strips")
    parser.add_argument("--interp-steps", type=int, default=10, help="points per interpolation row")
    parser.add_argument("--per-class", type=int, default=8, help="samples per class row (conditional models)")
    parser.add_argument("--batch-size", type=int, default=256, help="samples per G call")
    drs = parser.add_argument_group("discriminator rejection sampling")
    drs.add_argument("--drs", action="store_true", help="write drs_samples.npz/.png: samples D's ratio keeps")
    drs.add_argument("--drs-percentile", type=float, default=95.0, help="gamma: this percentile of F (0 = none)")
    drs.add_argument("--drs-burn-in", type=int, default=10_000, help="the fixed proposals that give D_M and gamma")
    seeds = parser.add_argument_group("seeds, classes and videos (every G)")
    seeds.add_argument("--seeds", type=int_list, default=None, help="one PNG per seed, e.g. 0,1,2 or 0-7")
    seeds.add_argument("--class", dest="class_idx", type=int, default=None, help="class of a conditional G")
    seeds.add_argument("--video", default=None,
                       help="write an interpolation loop through --seeds (default 0-3) to this .gif or .mp4 in --out")
    seeds.add_argument("--video-steps", type=int, default=30, help="video frames from one seed to the next")
    seeds.add_argument("--video-fps", type=int, default=30, help="video frames per second")
    sg2 = parser.add_argument_group("StyleGAN2 runs")
    sg2.add_argument("--style-mix-rows", type=int_list, default=None, help="seeds of the style-mixing rows")
    sg2.add_argument("--style-mix-cols", type=int_list, default=None, help="seeds of the style-mixing columns")
    sg2.add_argument("--styles", type=int_list, default=None, help="layers taken from the columns (default 0-6)")
    sg2.add_argument("--trunc-psi", type=float, default=1.0, help="truncation toward w_avg (1 = none, 0 = w_avg)")
    sg2.add_argument("--noise-mode", default="const", help="const (default) | random | none")
    return parser.parse_args(argv)


def int_list(text: str) -> list[int]:
    """'0,1,5-7' -> [0, 1, 5, 6, 7], as the reference's num_range."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers or ranges like 0,1,5-7, got {text!r}"
                                         ) from None
    return out


POSITIVE = ("num_samples", "grid", "interp_pairs", "interp_steps", "per_class", "batch_size", "drs_burn_in",
            "video_steps", "video_fps")


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad values before any checkpoint is read: counts below 1, an --out that is a file, truncation <= 0."""
    for name in POSITIVE:
        if getattr(args, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise JaxganError(f"{flag} must be >= 1, got {getattr(args, name)}.")
    if not args.truncation > 0:
        raise JaxganError(f"--truncation must be > 0 (a bound on |z_i|), got {args.truncation}.")
    if args.trunc_psi < 0:
        raise JaxganError(f"--trunc-psi must be >= 0 (1 = no truncation, 0 = the average w), got {args.trunc_psi}.")
    check_percentile(args.drs_percentile)
    if (args.style_mix_rows is None) != (args.style_mix_cols is None):
        raise JaxganError("A style-mixing grid needs both --style-mix-rows and --style-mix-cols (seed lists).")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise JaxganError(f"--out {out} is a file; pass a folder (it is created if missing): the tool writes "
                          "several files into it.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_args(args)
    quiet_orbax_notices()  # the tool says itself which step it read
    if args.drs:
        for path in write_drs_samples(args):
            print(path)
        return 0
    loaded = load_generator_checkpoint(args.workdir or args.checkpoint, args.step)
    print(f"step {loaded.step}: {loaded.checkpoint}", file=sys.stderr)
    try:
        paths = write_requested(loaded.gan, loaded.variables, args)
    except ValueError as error:
        raise JaxganError(str(error)) from None
    for path in paths:
        print(path)
    return 0


def write_requested(gan, variables: dict, args: argparse.Namespace) -> list[Path]:
    """The outputs asked for, for any G: per-seed images, the style-mixing grid and/or a video, else the sample set."""
    options = dict(class_idx=args.class_idx, psi=args.trunc_psi, noise_mode=args.noise_mode)
    paths = []
    if args.style_mix_rows is not None:
        check_stylegan2(gan)
        paths.append(write_style_mixing(gan, variables, args.out, args.style_mix_rows, args.style_mix_cols,
                                        args.styles, **options))
    if args.video:
        seeds = args.seeds if args.seeds is not None else list(range(4))
        paths.append(write_video(gan, variables, Path(args.out) / args.video, seeds, steps=args.video_steps,
                                 fps=args.video_fps, **options))
    elif args.seeds is not None:
        paths += write_seed_images(gan, variables, args.out, args.seeds, **options)
    if paths:
        return paths
    if args.trunc_psi != 1.0 or args.noise_mode != "const":  # StyleGAN2's knobs on its own seed images
        return write_seed_images(gan, variables, args.out, list(range(args.grid)), **options)
    written = write_sample_set(gan, variables, args.out, num=args.num_samples, seed=args.seed, grid=args.grid,
                               truncation=args.truncation, interp_pairs=args.interp_pairs,
                               interp_steps=args.interp_steps, per_class=args.per_class, batch_size=args.batch_size,
                               class_idx=args.class_idx)
    return list(written.values())


def write_drs_samples(args: argparse.Namespace) -> list[Path]:
    """drs_samples.npz (samples, acceptance rate, gamma percentile) and drs_samples.png, from G and D of the run."""
    sampler = load_rejection_sampler(args.workdir or args.checkpoint, step=args.step, seed=args.seed,
                                     percentile=args.drs_percentile, burn_in=args.drs_burn_in,
                                     batch_size=args.batch_size)
    samples = sampler(jax.random.key(args.seed), args.num_samples)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "drs_samples.npz", samples=samples, acceptance_rate=sampler.acceptance_rate,
             percentile=args.drs_percentile)
    return [out / "drs_samples.npz", save_png(picture_of(samples[:args.grid]), out / "drs_samples.png")]
