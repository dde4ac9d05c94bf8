"""docs/results.md and the configs agree: every config states its expected result and has a row in the table."""

import re
from pathlib import Path

import pytest
from conftest import ROOT, load_experiment_config, load_tool

reproduce = load_tool("reproduce")
CONFIGS = sorted(p.stem for p in (ROOT / "experiments" / "configs").glob("*.py"))
RESULTS = (ROOT / "docs" / "results.md").read_text()
GPU_WORDS = "to be measured on a GPU"
# CPU-sized configs that docs/results.md marks as not measured yet (it says why); measure them, add a band, drop them.
NOT_MEASURED_YET: set[str] = set()


def table_rows(name: str) -> list[str]:
    """The lines of docs/results.md's tables whose first cell names config `name` (alone or among others)."""
    rows = [line for line in RESULTS.splitlines() if line.startswith("|")]
    return [row for row in rows if re.search(rf"`{re.escape(name)}`", row.split("|")[1])]


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_states_its_expected_result(name):
    doc = load_experiment_config(name).__doc__ or ""
    assert "Expected" in doc, f"experiments/configs/{name}.py's docstring states no expected result"


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_has_a_row_measured_or_marked_for_a_gpu(name):
    rows = table_rows(name)
    assert rows, f"docs/results.md has no table row for `{name}`"
    module = load_experiment_config(name)
    if getattr(module, "EXPECTED", None):
        reproduce.expected_bands(Path(module.__file__))  # well-formed bands, or JaxganError
        assert any("measured" in row and GPU_WORDS not in row for row in rows), rows
    elif name in NOT_MEASURED_YET:
        assert any("not measured" in row for row in rows), rows
    else:  # no band to reproduce: only a GPU-sized config may leave its result unmeasured
        assert any(GPU_WORDS in row for row in rows), f"`{name}` has no EXPECTED band and no GPU row: {rows}"
        assert "not yet measured" not in (module.__doc__ or "") or "GPU" in module.__doc__


def test_not_yet_measured_stays_only_in_gpu_sized_configs():
    for name in CONFIGS:
        module = load_experiment_config(name)
        if getattr(module, "EXPECTED", None):
            assert "not yet measured" not in module.__doc__.lower(), f"{name} has a band but says not yet measured"
