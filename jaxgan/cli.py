"""The `jaxgan` command: `jaxgan SUBCOMMAND [flags]`, one entry point for training and every tool.

Each subcommand is a module under `jaxgan.tools` with `main(argv)`; the scripts in `tools/` and
`experiments/train.py` are thin wrappers over the same modules. Bad input ends in one `error: ...` line and exit
status 2 (`--debug` shows the traceback).
"""

from __future__ import annotations

import importlib
import os
import sys

from jaxgan.errors import run_guarded

# subcommand -> (module under jaxgan.tools, one-line description)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train a config's objective (GAN, StyleGAN2, pix2pix, CycleGAN, ...) in a workdir (resumes)"),
    "sample": ("sample", "sample grids, .npz, interpolations from a run's generator"),
    "evaluate": ("evaluate", "FID/KID/IS/precision-recall of a run, folder or .npz against a reference"),
    "translate": ("translate", "translate images with a pix2pix or CycleGAN run"),
    "benchmark": ("benchmark", "time the train step (and the PyTorch reference) and the input pipeline"),
    "convert-inception": ("convert_inception", "convert pytorch-fid's FID Inception .pth weights to .npz"),
    "train-classifier": ("train_classifier", "train the digit classifier for domain FID/IS"),
    "prepare": ("prepare", "convert an image folder, .zip or tfds dataset to a pre-resized uint8 dataset"),
    "reproduce": ("reproduce", "train a config's recipe and check its result against the band it states"),
    "verify": ("verify", "check every checkpoint of a run against its checksums, without training"),
    "upgrade-run": ("upgrade_run", "convert a run saved before objectives to today's checkpoint layout"),
    "config": ("config", "print a config's keys with their values and what each means"),
    "plot": ("plot", "a PNG of a run's losses, D outputs, eval scores and sample grids over steps"),
}


def usage() -> str:
    """The top-level help text: one line per subcommand."""
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "usage: jaxgan SUBCOMMAND [--help] [flags]\n\nsubcommands:\n" + "\n".join(lines)


def run_tool(name: str, argv: list[str] | None = None) -> int:
    """Run subcommand `name` with `argv` (default: sys.argv[1:]) under the one-line error guard."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    module = importlib.import_module(f"jaxgan.tools.{SUBCOMMANDS[name][0]}")
    return run_guarded(module.main, sys.argv[1:] if argv is None else list(argv))


def main(argv: list[str] | None = None) -> int:
    """Dispatch `jaxgan SUBCOMMAND ...`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in SUBCOMMANDS:
        print(f"error: unknown subcommand {argv[0]!r}.\n{usage()}", file=sys.stderr)
        return 2
    return run_tool(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
