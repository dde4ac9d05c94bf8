"""`python tools/train_classifier.py ...` is `jaxgan train-classifier ...` (see jaxgan/tools/train_classifier.py)."""

import sys

from jaxgan.cli import run_tool

if __name__ == "__main__":
    sys.exit(run_tool("train-classifier"))
