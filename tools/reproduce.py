"""`python tools/reproduce.py NAME ...` is `jaxgan reproduce NAME ...` (see jaxgan/tools/reproduce.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("reproduce"))
