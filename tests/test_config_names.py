"""`--config NAME`: shipped configs by name from the checkout or a wheel, paths as before, one line for a typo."""

import setuptools

from jaxgan.cli import main as jaxgan
from jaxgan.config_file import config_names, resolve_config, resolve_config_arg
from jaxgan.tools import reproduce
from tests.conftest import ROOT

CHECKOUT = ROOT / "experiments" / "configs"


def test_a_name_resolves_to_the_shipped_config_file():
    for name in ("mlp_digits", "pix2pix_toy"):
        assert resolve_config(name).read_text() == (CHECKOUT / f"{name}.py").read_text()
    assert config_names() == sorted(p.stem for p in CHECKOUT.glob("*.py"))


def test_a_path_still_works_and_keeps_its_args():
    path = str(CHECKOUT / "mlp_digits.py")
    assert resolve_config(path) == CHECKOUT / "mlp_digits.py"
    assert resolve_config_arg(["--config", "grid25:x", "--workdir", "w"])[1] == f"{resolve_config('grid25')}:x"
    assert resolve_config_arg([f"--config={path}"]) == [f"--config={path}"]


def test_an_unknown_name_is_one_line_with_the_closest_names(tmp_path, capsys):
    assert jaxgan(["train", "--config", "mlp_digit", "--workdir", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: no config 'mlp_digit' (neither a config name nor a path to a .py file); did you "
                           "mean mlp_digits, ")  # the closest name first


def test_reproduce_uses_the_same_resolver():
    assert reproduce.config_path("grid25") == resolve_config("grid25")


def test_the_configs_ship_in_the_package():
    """The wheel's packages (pyproject's find with include jaxgan*) hold jaxgan.configs and so its files."""
    assert "jaxgan.configs" in setuptools.find_namespace_packages(where=str(ROOT), include=["jaxgan*"])
    assert sorted(p.name for p in (ROOT / "jaxgan" / "configs").glob("*.py")) == \
        sorted(p.name for p in CHECKOUT.glob("*.py"))
