"""Train a config's recipe and check its result: `jaxgan reproduce NAME [--workdir DIR] [--config.KEY=VALUE ...]`.

NAME is a shipped config (`grid25`, experiments/configs/grid25.py) or a path to one, resolved as `jaxgan train
--config` resolves it. The config module states its expected result
in machine-readable form, a module-level `EXPECTED = {"eval/modes_captured": (">=", 25), ...}` whose bands are
(">=", low), ("<=", high) or ("in", low, high); each metric is read from the last row of the run's metrics.jsonl
that has it. Trains in --workdir (default runs/reproduce/NAME; an existing run there resumes, a finished one is only
checked), prints PASS or FAIL with every number, and exits 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from jaxgan.config_file import resolve_config
from jaxgan.errors import JaxganError

USAGE = "usage: jaxgan reproduce NAME [--workdir DIR] [--config.KEY=VALUE ...]"
Band = tuple


def config_path(name: str) -> Path:
    """The config file of a shipped config's name (`grid25`) or of a path (`jaxgan.config_file.resolve_config`)."""
    return resolve_config(name)


def expected_bands(path: Path) -> dict[str, Band]:
    """The config module's EXPECTED bands, checked for shape."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bands = getattr(module, "EXPECTED", None)
    if not bands:
        raise JaxganError(f"{path} states no EXPECTED band (a module-level dict metric -> ('>=', x) | ('<=', x) | "
                          "('in', low, high)); add one before reproducing it.")
    for metric, band in bands.items():
        if not (isinstance(band, tuple) and ((band[0] in (">=", "<=") and len(band) == 2)
                                             or (band[0] == "in" and len(band) == 3))):
            raise JaxganError(f"{path}: EXPECTED[{metric!r}] = {band!r} is not ('>=', x), ('<=', x) or "
                              "('in', low, high).")
    return dict(bands)


def final_metrics(metrics_file: Path, names: list[str]) -> dict[str, float]:
    """The last logged value of each of `names` in a metrics.jsonl file."""
    if not metrics_file.is_file():
        raise JaxganError(f"no {metrics_file}: the run wrote no metrics; check its workdir.")
    found: dict[str, float] = {}
    for line in metrics_file.read_text().splitlines():
        row = json.loads(line)
        found.update({k: float(row[k]) for k in names if k in row})
    missing = [k for k in names if k not in found]
    if missing:
        raise JaxganError(f"{metrics_file} never logged {missing}; does the config evaluate them (eval.metrics, "
                          "train.eval_every)?")
    return found


def within(value: float, band: Band) -> bool:
    """Whether `value` lies in `band` (NaN never does)."""
    if math.isnan(value):
        return False
    if band[0] == ">=":
        return value >= band[1]
    if band[0] == "<=":
        return value <= band[1]
    return band[1] <= value <= band[2]


def describe(band: Band) -> str:
    return f"in [{band[1]}, {band[2]}]" if band[0] == "in" else f"{band[0]} {band[1]}"


def check(bands: Mapping[str, Band], values: Mapping[str, float]) -> tuple[bool, list[str]]:
    """(all within their bands, one report line per metric)."""
    lines, ok = [], True
    for metric, band in bands.items():
        good = within(values[metric], band)
        ok &= good
        lines.append(f"  {metric} = {values[metric]:.4g} (expected {describe(band)}): {'ok' if good else 'OUT'}")
    return ok, lines


def split_args(argv: list[str]) -> tuple[str, str | None, list[str]]:
    """(NAME, --workdir or None, the --config.KEY=VALUE overrides)."""
    name, workdir, overrides, rest = None, None, [], list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--workdir" and rest:
            workdir = rest.pop(0)
        elif arg.startswith("--workdir="):
            workdir = arg.split("=", 1)[1]
        elif arg.startswith("--config."):
            overrides.append(arg)
        elif name is None and not arg.startswith("-"):
            name = arg
        else:
            raise JaxganError(f"unexpected argument {arg!r}; {USAGE}")
    if name is None:
        raise JaxganError(f"which config? {USAGE}")
    return name, workdir, overrides


def main(argv: list[str]) -> int:
    """Train NAME's recipe in its workdir, then print PASS/FAIL against its EXPECTED bands; exit 0 / 1."""
    from jaxgan.tools import train

    if any(a in ("-h", "--help") for a in argv):
        print(f"{USAGE}\n\n{__doc__}")
        return 0
    name, workdir, overrides = split_args(argv)
    path = config_path(name)
    bands = expected_bands(path)
    workdir = workdir or str(Path("runs") / "reproduce" / path.stem)
    train_argv = ["--config", str(path), "--workdir", workdir, *overrides]
    argv_before = sys.argv
    sys.argv = ["jaxgan train", *train_argv]  # ml_collections finds the --config.KEY overrides in sys.argv
    try:
        train.main(train_argv)
    finally:
        sys.argv = argv_before
    ok, lines = check(bands, final_metrics(Path(workdir) / "metrics.jsonl", list(bands)))
    print(f"reproduce {path.stem}: {'PASS' if ok else 'FAIL'} (workdir {workdir})")
    print("\n".join(lines))
    return 0 if ok else 1
