"""One-line descriptions of config keys, read from the comment beside each key where its block is defined.

Every block is a `default_config()` whose keys carry a trailing `# comment` (`num_steps=10_000,  # train steps`),
so the schema's own source is the documentation: `jaxgan config NAME` prints each key with its value and that line.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# `key=value,  # text`, `"key": value,  # text` and `c.block.key = value  # text`.
KEY_COMMENT = re.compile(r"""^\s*(?:c\.)?["']?([A-Za-z_][\w.]*)["']?\s*[:=]\s*[^#\n]*#\s*(.+?)\s*$""")
# Where each top-level block is defined, so that a leaf name shared by two blocks (`lr`, `decay`) finds its own.
BLOCK_HOMES = {"data": "data/", "model": "models/", "loss": "terms/losses.py", "reg": "terms/regularizers.py",
               "optim": "engine/optim.py", "augment": "terms/augment.py", "eval": "metrics/training_eval.py",
               "stylegan2": "objectives/stylegan2.py", "ada": "objectives/stylegan2.py",
               "parallel": "run/distributed.py", "srgan": "objectives/srgan.py"}


@cache
def key_comments() -> tuple[tuple[str, str, str], ...]:
    """(file relative to the package, dotted name as written, comment) for every commented key in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(("configs/", "tools/")):
            continue
        for line in path.read_text().splitlines():
            match = KEY_COMMENT.match(line)
            if match and not match.group(2).startswith(("noqa", "type:")):
                found.append((relative, match.group(1), match.group(2)))
    return tuple(found)


def describe(key: str) -> str:
    """The comment beside `key` (`train.num_steps`) where its block defines it; "" when none is found."""
    block, leaf = key.split(".")[0], key.split(".")[-1]
    home = BLOCK_HOMES.get(block, "config.py")
    candidates = [(f, n, c) for f, n, c in key_comments() if n.split(".")[-1] == leaf]
    for keep in (lambda f, n: key.endswith(n) and "." in n, lambda f, n: f.startswith(home), lambda f, n: True):
        matches = [c for f, n, c in candidates if keep(f, n)]
        if matches:
            return matches[0]
    return ""
