"""`jaxgan config NAME`: every key with its resolved value and the comment beside it where its block defines it."""

import re
from pathlib import Path

import pytest

from jaxgan.cli import main
from jaxgan.config_docs import describe
from jaxgan.config_file import config_names

PACKAGE = Path(__file__).resolve().parents[1] / "jaxgan"


def printed_rows(capsys, argv: list[str]) -> dict[str, tuple[str, str]]:
    """{key: (value, description)} of `jaxgan config ARGV`'s output."""
    assert main(["config", *argv]) == 0
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        key, rest = line.split(" = ", 1)
        value, _, text = rest.partition("  # ")
        rows[key] = (value.strip(), text.strip())
    return rows


@pytest.mark.parametrize("name", ["mlp_digits", "stylegan2_digits", "pix2pix_toy"])
def test_every_key_of_a_shipped_config_is_described(capsys, name):
    rows = printed_rows(capsys, [name])
    assert len(rows) > 40
    assert [k for k, (_, text) in rows.items() if not text] == []


def test_values_follow_the_overrides_and_descriptions_come_from_the_defining_line(capsys):
    rows = printed_rows(capsys, ["mlp_digits", "--config.train.num_steps=7", "--config.loss=hinge"])
    assert rows["train.num_steps"][0] == "7" and rows["loss"][0] == "'hinge'"
    source = (PACKAGE / "config.py").read_text()
    defining = re.search(r"^\s*num_steps=10_000,\s+# (.+)$", source, re.M).group(1)
    assert rows["train.num_steps"][1] == defining


def test_a_leaf_name_shared_by_two_blocks_takes_its_own_blocks_comment():
    data_line = re.search(r'"name": "digits",\s+# (.+)$', (PACKAGE / "data/build.py").read_text(), re.M).group(1)
    assert describe("data.name") == data_line
    assert describe("model.name") != data_line and "stylegan2" in describe("model.name")


def test_config_names_a_bad_config_in_one_line(capsys):
    assert main(["config", "mlp_digit"]) == 2
    assert "did you mean mlp_digits" in capsys.readouterr().err
    assert "mlp_digits" in config_names()
