"""`jaxgan reproduce`: the band check on fake metrics, its errors, and one tiny end-to-end run that must FAIL."""

import json

import pytest
from conftest import load_tool

from jaxgan.cli import main as cli_main
from jaxgan.errors import JaxganError

reproduce = load_tool("reproduce")
BANDS = {"eval/modes_captured": (">=", 25), "eval/hq_fraction": ("in", 0.95, 1.0)}


def write_metrics(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_last_logged_value_of_each_metric_is_checked(tmp_path):
    rows = [{"step": 1000, "eval/modes_captured": 25.0, "eval/hq_fraction": 0.97},
            {"step": 1100, "Loss/D": 1.3},  # a training row without eval/* keys
            {"step": 2000, "eval/modes_captured": 24.0, "eval/hq_fraction": 0.99}]
    values = reproduce.final_metrics(write_metrics(tmp_path / "m.jsonl", rows), list(BANDS))
    assert values == {"eval/modes_captured": 24.0, "eval/hq_fraction": 0.99}
    ok, lines = reproduce.check(BANDS, values)
    assert not ok
    assert lines == ["  eval/modes_captured = 24 (expected >= 25): OUT",
                     "  eval/hq_fraction = 0.99 (expected in [0.95, 1.0]): ok"]


@pytest.mark.parametrize("value,band,inside", [
    (25, (">=", 25), True), (24.9, (">=", 25), False), (0.2, ("<=", 0.2), True), (0.21, ("<=", 0.2), False),
    (0.95, ("in", 0.95, 1.0), True), (1.01, ("in", 0.95, 1.0), False), (0.94, ("in", 0.95, 1.0), False),
    (float("nan"), (">=", 0), False), (float("nan"), ("<=", 1), False)])
def test_band_edges(value, band, inside):
    assert reproduce.within(value, band) is inside


def test_a_metric_the_run_never_logged_is_an_error(tmp_path):
    path = write_metrics(tmp_path / "m.jsonl", [{"step": 10, "eval/modes_captured": 25.0}])
    with pytest.raises(JaxganError, match=r"never logged \['eval/hq_fraction'\]"):
        reproduce.final_metrics(path, list(BANDS))


def test_a_config_without_a_band_or_with_a_malformed_one_is_refused(tmp_path):
    none = tmp_path / "none.py"
    none.write_text("def get_config():\n    return None\n")
    with pytest.raises(JaxganError, match="states no EXPECTED band"):
        reproduce.expected_bands(none)
    bad = tmp_path / "bad.py"
    bad.write_text("EXPECTED = {'eval/fid': ('<', 3)}\n")
    with pytest.raises(JaxganError, match="is not"):
        reproduce.expected_bands(bad)
    with pytest.raises(JaxganError, match="no config 'nope'"):
        reproduce.config_path("nope")


def test_the_mixture_recipes_state_their_bands():
    for name in ("grid25", "mlp_ring8"):
        bands = reproduce.expected_bands(reproduce.config_path(name))
        assert set(bands) == {"eval/modes_captured", "eval/hq_fraction"}


def test_a_tiny_run_trains_checks_and_fails_with_its_numbers(tmp_path, capsys):
    workdir = tmp_path / "run"
    argv = ["reproduce", "grid25", "--workdir", str(workdir), "--config.train.num_steps=20",
            "--config.train.eval_every=20", "--config.train.steps_per_dispatch=10", "--config.train.batch_size=16",
            "--config.model.mlp.g_hidden=(8,)", "--config.model.mlp.d_hidden=(8,)",
            "--config.train.checkpoint_every=20"]
    assert cli_main(argv) == 1  # 20 steps cannot cover 25 modes
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in rows if "eval/modes_captured" in r][-1]
    assert last["step"] == 20
    out = capsys.readouterr().out
    assert f"reproduce grid25: FAIL (workdir {workdir})" in out
    assert f"eval/modes_captured = {last['eval/modes_captured']:.4g} (expected >= 25): OUT" in out
    assert f"eval/hq_fraction = {last['eval/hq_fraction']:.4g}" in out
