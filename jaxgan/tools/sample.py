"""Sample from a trained run: `python tools/sample.py --workdir DIR --out DIR [--num N] [--seed S]`.

Reads only G's arrays (the EMA params when the run kept an EMA) from the newest readable checkpoint, or from
`--checkpoint PATH` (a checkpoints/ folder or one checkpoint step folder) and `--step`. Writes samples.png,
samples.npz, interp_lerp.png and interp_slerp.png (rows go from one latent to another), truncated.png (BigGAN's
truncation: components with |z_i| > --truncation redrawn) and, for class-conditional models, classes.png (one row
per class, the same latents in every row). The same seed writes the same images.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from jaxgan.checkpoint import load_generator
from jaxgan.errors import JaxganError
from jaxgan.sampling import write_sample_set


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--workdir", help="a training run's workdir (reads its checkpoints/)")
    source.add_argument("--checkpoint", help="a checkpoints/ folder or one checkpoint step folder")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the newest readable)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num-samples", type=int, default=64, help="samples in samples.npz")
    parser.add_argument("--seed", type=int, default=0, help="seed of every latent drawn")
    parser.add_argument("--grid", type=int, default=64, help="samples shown in samples.png and truncated.png")
    parser.add_argument("--truncation", type=float, default=0.5, help="truncation threshold on |z_i|")
    parser.add_argument("--interp-pairs", type=int, default=8, help="rows of the interpolation strips")
    parser.add_argument("--interp-steps", type=int, default=10, help="points per interpolation row")
    parser.add_argument("--per-class", type=int, default=8, help="samples per class row (conditional models)")
    parser.add_argument("--batch-size", type=int, default=256, help="samples per G call")
    return parser.parse_args(argv)


POSITIVE = ("num_samples", "grid", "interp_pairs", "interp_steps", "per_class", "batch_size")


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad values before any checkpoint is read: counts below 1, an --out that is a file, truncation <= 0."""
    for name in POSITIVE:
        if getattr(args, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise JaxganError(f"{flag} must be >= 1, got {getattr(args, name)}.")
    if not args.truncation > 0:
        raise JaxganError(f"--truncation must be > 0 (a bound on |z_i|), got {args.truncation}.")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise JaxganError(f"--out {out} is a file; pass a folder (it is created if missing): the tool writes "
                          "several files into it.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_args(args)
    logging.getLogger("absl").setLevel(logging.ERROR)  # orbax's read-only notices
    gan, variables, _ = load_generator(args.workdir or args.checkpoint, step=args.step)
    paths = write_sample_set(gan, variables, args.out, num=args.num_samples, seed=args.seed, grid=args.grid,
                             truncation=args.truncation, interp_pairs=args.interp_pairs,
                             interp_steps=args.interp_steps, per_class=args.per_class, batch_size=args.batch_size)
    for path in paths.values():
        print(path)
    return 0


