"""CRC32 per array of a pytree, by dotted path: what a checkpoint records at save time and checks at restore time."""

from __future__ import annotations

import zlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


def array_checksums(tree: Any) -> dict[str, str]:
    """CRC32 of each array's bytes by dotted path, computed on the host (arrays not held whole here are skipped)."""
    flat = ocp.tree.to_flat_dict(ocp.tree.serialize_tree(tree, keep_empty_nodes=False), sep=".")
    sums = {}
    for path, leaf in flat.items():
        host = _host_copy(leaf)
        if host is not None:
            sums[path] = f"crc32:{zlib.crc32(np.ascontiguousarray(host).view(np.uint8).reshape(-1)):08x}"
    return sums


def _host_copy(leaf: Any) -> np.ndarray | None:
    """The whole array on the host: a replicated or process-local jax.Array's bytes, or None if held in pieces."""
    if isinstance(leaf, jax.Array):
        if leaf.is_fully_replicated:
            return np.asarray(leaf.addressable_data(0))
        return np.asarray(leaf) if leaf.is_fully_addressable else None
    return np.asarray(leaf)


def checksum_mismatches(tree: Any, expected: dict[str, str]) -> list[str]:
    """Dotted paths of the arrays of `tree` whose CRC32 differs from the one recorded at save time."""
    found = array_checksums(tree)
    return [path for path, value in found.items() if path in expected and expected[path] != value]
