"""Convert FID Inception weights between pytorch-fid's state dict and jaxgan's flat .npz format.

Both sides are plain {name: numpy array} dicts, so this module needs no torch. Our names are
'<collection>/<module path>/<leaf>', e.g. 'params/Mixed_5b/branch1x1/conv/kernel':

    torch  <prefix>.conv.weight (O, I, H, W)  ->  params/<prefix>/conv/kernel (H, W, I, O)
           <prefix>.bn.weight / .bn.bias       ->  params/<prefix>/bn/scale / bn/bias
           <prefix>.bn.running_mean / _var     ->  batch_stats/<prefix>/bn/mean / bn/var
           fc.weight (1008, 2048) / fc.bias    ->  params/fc/kernel (2048, 1008) / params/fc/bias

`bn.num_batches_tracked` carries no information for inference; it is dropped (and written back as 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# (torch suffix, flax collection, flax suffix)
_BN_LEAVES = (
    ("bn.weight", "params", "bn/scale"),
    ("bn.bias", "params", "bn/bias"),
    ("bn.running_mean", "batch_stats", "bn/mean"),
    ("bn.running_var", "batch_stats", "bn/var"),
)


def torch_to_flat(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Return our flat {'params/...': array} dict from pytorch-fid's FID Inception state dict."""
    flat: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        array = np.asarray(value, dtype=np.float32)
        if name.endswith("num_batches_tracked"):
            continue
        if name == "fc.weight":
            flat["params/fc/kernel"] = array.T
        elif name == "fc.bias":
            flat["params/fc/bias"] = array
        elif name.endswith(".conv.weight"):
            module = name[: -len(".conv.weight")].replace(".", "/")
            flat[f"params/{module}/conv/kernel"] = array.transpose(2, 3, 1, 0)
        else:
            for torch_suffix, collection, flax_suffix in _BN_LEAVES:
                if name.endswith("." + torch_suffix):
                    module = name[: -len(torch_suffix) - 1].replace(".", "/")
                    flat[f"{collection}/{module}/{flax_suffix}"] = array
                    break
            else:
                raise ValueError(f"unexpected FID Inception weight {name!r} in the state dict.")
    return flat


def flat_to_torch(flat: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Return pytorch-fid's state dict (numpy arrays) from our flat dict; inverse of torch_to_flat."""
    state: dict[str, np.ndarray] = {}
    for name, value in flat.items():
        array = np.asarray(value)
        collection, _, path = name.partition("/")
        if path == "fc/kernel":
            state["fc.weight"] = array.T
        elif path == "fc/bias":
            state["fc.bias"] = array
        elif path.endswith("/conv/kernel"):
            state[path[: -len("/kernel")].replace("/", ".") + ".weight"] = array.transpose(3, 2, 0, 1)
        else:
            for torch_suffix, want_collection, flax_suffix in _BN_LEAVES:
                if collection == want_collection and path.endswith("/" + flax_suffix):
                    module = path[: -len(flax_suffix) - 1].replace("/", ".")
                    state[f"{module}.{torch_suffix}"] = array
                    if torch_suffix == "bn.weight":
                        state[f"{module}.bn.num_batches_tracked"] = np.zeros((), np.int64)
                    break
            else:
                raise ValueError(f"unexpected weight {name!r} in a flat FID Inception file.")
    return state


def flatten_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Return flax's nested {collection: {module: {leaf: array}}} as a flat 'a/b/c' dict."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                walk(f"{prefix}/{key}" if prefix else str(key), child)
        else:
            flat[prefix] = node

    walk("", variables)
    return flat


def unflatten_variables(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Return the nested dict flax expects from a flat 'a/b/c' dict."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        node = nested
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested
