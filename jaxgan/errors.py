"""User-facing errors: one line that names the problem and the fix, a non-zero exit, no traceback.

Library code raises `JaxganError` (or a subclass) for bad input: a wrong config value, a missing or corrupt dataset
or checkpoint, a diverged run. The command-line entry points (`jaxgan.cli`) turn these, and the standard error types
that bad input raises (ValueError, OSError), into one line on stderr and exit status 2; `--debug` (or
JAXGAN_DEBUG=1) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any


class JaxganError(Exception):
    """Bad input that the user can fix: the message says what is wrong and how to fix it."""


# What bad input raises: ours, and the standard types that config checks, file access and numpy loading raise.
USER_ERRORS: tuple[type[BaseException], ...] = (JaxganError, ValueError, OSError, FloatingPointError, KeyError)
EXIT_USER_ERROR = 2


def check_choice(value: str, choices, key: str) -> None:
    """Raise a ValueError naming config `key` when `value` is not one of `choices`."""
    if value not in choices:
        raise ValueError(f"Unknown {key} {value!r}; choose one of {sorted(choices)}.")


def one_line(error: BaseException) -> str:
    """The error as one line: its message with newlines folded, prefixed by `error:`."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, KeyError) and text.startswith("'") and text.endswith("'"):
        text = text[1:-1]
    return f"error: {text}"


def debug_requested(argv: list[str]) -> tuple[bool, list[str]]:
    """(whether --debug was given or JAXGAN_DEBUG=1 is set, argv without --debug)."""
    rest = [a for a in argv if a != "--debug"]
    return len(rest) != len(argv) or os.environ.get("JAXGAN_DEBUG") == "1", rest


def run_guarded(main: Callable[[list[str]], Any], argv: list[str]) -> int:
    """Call `main(argv)`; a user error becomes one line on stderr and exit status 2 (a traceback with --debug)."""
    debug, argv = debug_requested(argv)
    try:
        result = main(argv)
    except USER_ERRORS as error:
        if debug:
            raise
        print(one_line(error), file=sys.stderr)
        return EXIT_USER_ERROR
    return result if isinstance(result, int) else 0
