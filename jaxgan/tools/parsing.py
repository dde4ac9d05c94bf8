"""One argument parser for every `jaxgan` subcommand: `jaxgan SUB` in its usage line, its docstring kept as written,
and each flag's default shown in `--help`."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring's own line breaks (its examples) and every flag's default."""


def tool_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The parser of subcommand `name` (as typed after `jaxgan`), described by its module docstring `doc`."""
    return argparse.ArgumentParser(prog=f"jaxgan {name}", description=doc, formatter_class=HelpFormatter)
