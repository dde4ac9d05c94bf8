"""`python tools/benchmark.py ...` is `jaxgan benchmark ...` (see jaxgan/tools/benchmark.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("benchmark"))
