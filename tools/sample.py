"""`python tools/sample.py ...` is `jaxgan sample ...` (see jaxgan/tools/sample.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("sample"))
