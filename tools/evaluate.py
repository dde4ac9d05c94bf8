"""`python tools/evaluate.py ...` is `jaxgan evaluate ...` (see jaxgan/tools/evaluate.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("evaluate"))
