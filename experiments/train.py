"""`jaxgan train --config FILE --workdir DIR` is `jaxgan train ...` (see jaxgan/tools/train.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("train"))
