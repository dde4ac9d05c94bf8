"""`python tools/prepare_dataset.py ...` is `jaxgan prepare ...` (see jaxgan/tools/prepare.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("prepare"))
