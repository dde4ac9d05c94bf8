"""Print a config's resolved keys, each with its value and what it means:
`jaxgan config NAME|FILE [--config.KEY=VALUE ...]`.

    jaxgan config mlp_digits
    jaxgan config stylegan2_digits --config.train.batch_size=16 | grep train.

The values are the ones `jaxgan train --config NAME` would run with (command-line overrides applied); the
descriptions are the comments beside each key where its block is defined. Override any of them on `jaxgan train`
with `--config.KEY=VALUE`.
"""

from __future__ import annotations

from jaxgan.config_docs import describe
from jaxgan.config_file import config_value, flat_keys
from jaxgan.errors import JaxganError


def described_keys(config) -> list[str]:
    """`key = value  # description` for every key of `config`, aligned."""
    rows = [(key, repr(config_value(config, key))) for key in flat_keys(config)]
    width = max(len(k) + len(v) for k, v in rows) + 3
    return [f"{f'{k} = {v}':<{width}}  # {describe(k)}".rstrip(" #") for k, v in rows]


def main(argv: list[str]) -> int:
    """Print the keys of the config named by argv[0], with the --config.KEY=VALUE overrides of the rest applied."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    from jaxgan.tools.train import parse_flags

    if argv[0].startswith("-"):
        raise JaxganError("usage: jaxgan config NAME|FILE [--config.KEY=VALUE ...] (the config comes first).")
    config, _ = parse_flags(["--config", argv[0], "--workdir", "unused", *argv[1:]])
    print("\n".join(described_keys(config)))
    return 0
