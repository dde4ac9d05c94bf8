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

from jaxgan.checkpoint import load_generator
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("absl").setLevel(logging.ERROR)  # orbax's read-only notices
    gan, variables, _ = load_generator(args.workdir or args.checkpoint, step=args.step)
    paths = write_sample_set(gan, variables, args.out, num=args.num_samples, seed=args.seed, grid=args.grid,
                             truncation=args.truncation, interp_pairs=args.interp_pairs,
                             interp_steps=args.interp_steps, per_class=args.per_class, batch_size=args.batch_size)
    for path in paths.values():
        print(path)
    return 0


