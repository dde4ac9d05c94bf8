"""`python tools/translate.py ...` is `jaxgan translate ...` (see jaxgan/tools/translate.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("translate"))
