"""`python tools/convert_inception.py ...` is `jaxgan convert-inception ...` (see jaxgan/tools/convert_inception.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("convert-inception"))
