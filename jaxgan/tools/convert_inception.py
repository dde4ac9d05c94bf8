"""Convert FID Inception weights: pytorch-fid's .pth state dict <-> jaxgan's .npz (only .npz -> .pth needs torch).

    jaxgan convert-inception pt_inception-2015-12-05-6726825d.pth fid_inception.npz
    jaxgan convert-inception fid_inception.npz back.pth        # the reverse direction

The direction follows the source's suffix. The .pth is read without torch and without running its pickle
(`jaxgan.files.torchfile`). Evaluation downloads and converts it by itself when no weights file is given; by hand, get
it from pytorch-fid's release asset
https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from jaxgan.metrics.inception_convert import flat_to_torch
from jaxgan.metrics.inception_weights import convert_pth
from jaxgan.tools.parsing import tool_parser


def _torch():
    """Import torch or exit with the install command."""
    try:
        import torch
    except ImportError:
        sys.exit("writing .pth files needs torch: pip install torch (the CPU build is enough).")
    return torch


def pth_to_npz(source: Path, target: Path) -> Path:
    """Convert a pytorch-fid state dict file to our .npz (names and shapes checked first; no torch needed)."""
    return convert_pth(source, target)


def npz_to_pth(source: Path, target: Path) -> Path:
    """Convert our .npz back to a pytorch-fid state dict file."""
    torch = _torch()
    with np.load(source) as data:
        state = flat_to_torch({name: data[name] for name in data.files})
    target.parent.mkdir(parents=True, exist_ok=True)
    # np.array(order="C") keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d).
    torch.save({name: torch.from_numpy(np.array(a, order="C")) for name, a in state.items()},
               target)
    return target


def main(argv: list[str] | None = None) -> Path:
    """Parse arguments and convert in the direction the source suffix implies."""
    parser = tool_parser("convert-inception", __doc__)
    parser.add_argument("source", type=Path, help=".pth (pytorch-fid) or .npz (jaxgan) weights")
    parser.add_argument("target", type=Path, help="output file (.npz or .pth)")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"{args.source} does not exist.")
    if args.source.suffix in (".pth", ".pt"):
        out = pth_to_npz(args.source, args.target)
    elif args.source.suffix == ".npz":
        out = npz_to_pth(args.source, args.target)
    else:
        parser.error(f"source must end in .pth/.pt or .npz; got {args.source}.")
    print(f"wrote {out}")
    return out


