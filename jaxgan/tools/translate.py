"""Translate images with a trained pix2pix or CycleGAN run.

    jaxgan translate --workdir runs/horse2zebra --input photos/ --out out/ [--grid out/grid.png]

Writes OUT/AtoB/NAME.png and OUT/BtoA/NAME.png (CycleGAN; pix2pix translates A to B only) at the run's crop size,
and with --grid one picture whose rows are: input | A-to-B | B-to-A. Inputs are resized to the run's crop size.
"""

from __future__ import annotations

import argparse

from jaxgan.errors import JaxganError
from jaxgan.run.runs import load_run
from jaxgan.tools.parsing import tool_parser
from jaxgan.translation.inference import read_inputs, translate_images, write_grid, write_outputs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = tool_parser("translate", __doc__)
    parser.add_argument("--workdir", required=True, help="run directory (config.json and checkpoints/)")
    parser.add_argument("--input", required=True, help="an image file or a folder of images")
    parser.add_argument("--out", required=True, help="folder for OUT/AtoB/*.png and OUT/BtoA/*.png")
    parser.add_argument("--direction", default="both", choices=("both", "AtoB", "BtoA"),
                        help="both = every direction the run has")
    parser.add_argument("--grid", default="", help="also save an input | outputs grid to this PNG path")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--paper-mode", action="store_true",
                        help="run G per image in training mode (dropout, own BatchNorm statistics), as pix2pix does")
    parser.add_argument("--seed", type=int, default=0, help="dropout seed for --paper_mode")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config, models, state, _ = load_run(args.workdir, args.step)
    if config.objective not in ("pix2pix", "cyclegan"):
        raise JaxganError(f"{args.workdir} is a run of objective {config.objective!r}; `jaxgan translate` needs a "
                          "pix2pix or CycleGAN run (`jaxgan sample` samples a GAN's).")
    directions = models.directions() if args.direction == "both" else [args.direction]
    names, inputs = read_inputs(args.input, config.data.crop_size, config.data.channels)
    translated = {d: translate_images(models, state, d, inputs, args.batch_size, args.paper_mode, args.seed)
                  for d in directions}
    written = write_outputs(args.out, names, translated)
    if args.grid:
        written.append(write_grid(args.grid, inputs, translated))
    print(f"translated {len(names)} image(s) {' and '.join(directions)}; wrote {len(written)} file(s) "
          f"under {args.out}")
    return 0


