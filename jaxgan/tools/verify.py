"""Check every checkpoint of a run without training: `jaxgan verify --workdir DIR`.

Reads each checkpoint's metadata and every array, and compares each array's CRC32 with the one recorded when it
was saved. Prints one line per checkpoint (`ok` or `BAD` and why) and exits 1 if any is bad. Read-only: nothing is
moved, deleted or written.
"""

from __future__ import annotations

import argparse
import logging
import sys

from jaxgan.errors import JaxganError
from jaxgan.run.checkpoint import CheckpointCorruptError, Checkpointer
from jaxgan.run.runs import resolve_checkpoint_dir
from jaxgan.tools.parsing import tool_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = tool_parser("verify", __doc__)
    parser.add_argument("--workdir", required=True, help="a training run's workdir (or its checkpoints/ folder)")
    return parser.parse_args(argv)


def verify_all(ckpt: Checkpointer) -> list[tuple[int, bool, str]]:
    """(step, ok, what) for every complete checkpoint, oldest first."""
    results = []
    for step in ckpt.all_steps():
        try:
            what = ckpt.read_with_retries(ckpt.verify_step, step)
            results.append((step, True, what))
        except CheckpointCorruptError as error:
            results.append((step, False, error.short))
    return results


def main(argv: list[str] | None = None) -> int:
    """Verify the checkpoints of --workdir; exit status 1 when any is bad, 0 when all are ok."""
    args = parse_args(argv)
    logging.getLogger("absl").setLevel(logging.ERROR)  # orbax's read-only notices
    directory, _ = resolve_checkpoint_dir(args.workdir)
    with Checkpointer(directory, read_only=True, retry_wait_s=0.05) as ckpt:
        results = verify_all(ckpt)
    if not results:
        raise JaxganError(f"no complete checkpoint in {directory}; nothing to verify.")
    for step, ok, what in results:
        print(f"checkpoint {step}: {'ok' if ok else 'BAD'}: {what}")
    bad = [step for step, ok, _ in results if not ok]
    if bad:
        print(f"error: {len(bad)} of {len(results)} checkpoints in {directory} are bad: {bad}", file=sys.stderr)
        return 1
    return 0
