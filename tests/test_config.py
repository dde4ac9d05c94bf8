"""Bad configs stop early with a message that names the key and what to do."""

import re
import sys
from pathlib import Path

import pytest
from child_process import run_to_exit

from jaxgan.config import base_config, validate
from jaxgan.objectives.factory import build_gan

ROOT = Path(__file__).resolve().parents[1]


def run_train(tmp_path, *overrides):
    """The training CLI run to its exit (waited on as an event; a hang guard only catches a silent child)."""
    cmd = [sys.executable, str(ROOT / "experiments/train.py"),
           "--config", str(ROOT / "experiments/configs/mlp_digits.py"), "--workdir", str(tmp_path / "run"),
           *overrides]
    return run_to_exit(cmd, tmp_path / "train", cwd=ROOT)


def test_unknown_key_on_the_command_line_is_rejected(tmp_path):
    result = run_train(tmp_path, "--config.trian.num_steps=5")
    assert result.returncode == 2
    assert "trian" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: unknown config key 'trian.num_steps' (from --config.trian.num_steps=5); "
        "did you mean 'train.num_steps'?")
    assert not (tmp_path / "run").exists()


def train_cli(capsys, tmp_path, config, *overrides):
    """(exit status, last stderr line) of `jaxgan train` in this process."""
    from jaxgan.cli import main

    status = main(["train", "--config", str(config), "--workdir", str(tmp_path / "run"), *overrides])
    return status, capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("override, key, suggestion", [
    ("--config.num_steps=5", "num_steps", "train.num_steps"),   # a key at the wrong level
    ("--config.train.num_stpes=5", "train.num_stpes", "train.num_steps"),  # a typo in the leaf
    ("--config.train.batchsize=8", "train.batchsize", "train.batch_size"),
    ("--config.modle.z_dim=8", "modle.z_dim", "model.z_dim"),
])
def test_unknown_override_names_the_key_and_the_closest_one(capsys, tmp_path, override, key, suggestion):
    status, last = train_cli(capsys, tmp_path, ROOT / "experiments/configs/mlp_digits.py", override)
    assert status == 2
    assert last == f"error: unknown config key {key!r} (from {override}); did you mean {suggestion!r}?"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("old, new", [("model.ngf", "model.dcgan.ngf"), ("model.g_hidden", "model.mlp.g_hidden"),
                                      ("model.d_down", "model.resnet.d_down")])
def test_an_old_flat_model_key_names_its_new_block(capsys, tmp_path, old, new):
    override = f"--config.{old}=32"
    status, last = train_cli(capsys, tmp_path, ROOT / "experiments/configs/mlp_digits.py", override)
    assert status == 2
    assert last.startswith(f"error: unknown config key {old!r} (from {override}); did you mean {new!r}?")
    assert "moved to its architecture's block" in last  # named as a rename, not guessed from the spelling
    path = write_config(tmp_path, f"def get_config():\n    c = base_config()\n    c.{old} = 8\n    return c\n")
    status, last = train_cli(capsys, tmp_path, path)
    assert status == 2
    assert last.startswith(f"error: unknown config key {old!r} (set in {path}:5); did you mean {new!r}?")
    assert not (tmp_path / "run").exists()


def test_the_rename_map_covers_every_moved_key_and_the_sed_script_applies_it():
    """Each old key is gone from the schema, each new one is in it, and tools/rename_config_keys.sed maps the same."""
    import subprocess

    from jaxgan.config_file import flat_keys
    from jaxgan.models import RENAMED_KEYS

    keys = set(flat_keys(base_config()))
    assert RENAMED_KEYS and not keys & set(RENAMED_KEYS) and set(RENAMED_KEYS.values()) <= keys
    text = "".join(f"c.{old} = 1\n--config.{old}=2\n" for old in RENAMED_KEYS)
    out = subprocess.run(["sed", "-E", "-f", str(ROOT / "tools/rename_config_keys.sed")], input=text,
                         capture_output=True, text=True, check=True).stdout
    assert out == "".join(f"c.{new} = 1\n--config.{new}=2\n" for new in RENAMED_KEYS.values())
    again = subprocess.run(["sed", "-E", "-f", str(ROOT / "tools/rename_config_keys.sed")], input=out,
                           capture_output=True, text=True, check=True).stdout
    assert again == out  # idempotent


def write_config(tmp_path, body):
    path = tmp_path / "my_config.py"
    path.write_text("from jaxgan.config import base_config\n\n" + body)
    return path


def test_unknown_key_set_in_the_config_file(capsys, tmp_path):
    path = write_config(tmp_path, "def get_config():\n    c = base_config()\n    c.train.num_step = 5\n    return c\n")
    status, last = train_cli(capsys, tmp_path, path)
    assert status == 2
    assert last == (f"error: unknown config key 'train.num_step' (set in {path}:5); did you mean 'train.num_steps'?")


def test_config_file_syntax_error_names_file_and_line(capsys, tmp_path):
    path = write_config(tmp_path, "def get_config(:\n    return base_config()\n")
    status, last = train_cli(capsys, tmp_path, path)
    assert status == 2
    assert last.startswith(f"error: {path}:3: syntax error in the config file")


def test_config_file_without_get_config(capsys, tmp_path):
    path = write_config(tmp_path, "def get_conf():\n    return base_config()\n")
    status, last = train_cli(capsys, tmp_path, path)
    assert status == 2
    assert last.startswith(f"error: {path}:1: the config file defines no get_config()")


def test_error_inside_get_config_names_its_line(capsys, tmp_path):
    path = write_config(tmp_path, "def get_config():\n    c = base_config()\n    c.trian.num_steps = 5\n    return c\n")
    status, last = train_cli(capsys, tmp_path, path)
    assert status == 2
    assert last.startswith(f"error: {path}:5: AttributeError in the config file: 'trian'")


def test_missing_config_file(capsys, tmp_path):
    status, last = train_cli(capsys, tmp_path, tmp_path / "nope.py")
    assert status == 2
    assert last == (f"error: config file {tmp_path / 'nope.py'} not found; pass a path to a config .py file or a "
                    "config name (`jaxgan train --config mlp_digits ...`).")


def test_debug_shows_the_traceback(tmp_path):
    result = run_train(tmp_path, "--config.num_steps=5", "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "JaxganError" in result.stderr


def test_wrong_value_type_is_rejected(tmp_path):
    result = run_train(tmp_path, "--config.train.batch_size=abc")
    assert result.returncode != 0
    assert "batch_size" in result.stderr


@pytest.mark.parametrize("key, value, message", [
    ("loss", "wgan", "Unknown loss 'wgan'"),
    ("model.name", "transformer", "Unknown model.name 'transformer'"),
    ("optim.d.name", "adagrad", "Unknown optim.d.name 'adagrad'"),
    ("optim.g.schedule", "step", "Unknown optim.g.schedule 'step'"),
    ("model.compute_dtype", "float16", "Unknown model.compute_dtype"),
    ("n_disc", 0, "n_disc must be >= 1"),
    ("ema.decay", 1.5, r"ema.decay must be in \[0, 1\)"),
])
def test_validate_names_the_bad_key(key, value, message):
    config = base_config()
    node, leaf = config, key.split(".")
    for part in leaf[:-1]:
        node = node[part]
    node[leaf[-1]] = value
    with pytest.raises(ValueError, match=message):
        validate(config)


def test_images_of_the_wrong_shape_for_the_model():
    config = base_config()
    config.model.name = "dcgan"
    with pytest.raises(ValueError, match="resolution of 4\\*2\\^n or 7\\*2\\^n.*got 30"):
        build_gan(config, (30, 30, 1))
    with pytest.raises(ValueError, match="DCGAN needs square images"):
        build_gan(config, (2,))


def test_unknown_dataset_and_missing_path(tmp_path):
    from jaxgan.data import build_dataset

    config = base_config()
    config.data.name = "imagenet_folder"
    with pytest.raises(ValueError, match="imagenet_folder"):
        build_dataset(config.data, seed=0)
    config.data.name = "folder"
    config.data.path = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build_dataset(config.data, seed=0)


def test_overrides_parse_in_process_again_and_again():
    """`jaxgan.cli.main(['train', ...])` in one process: each call sees its own overrides (not sys.argv's)."""
    from jaxgan.tools.train import parse_flags

    base = ["--config", str(ROOT / "experiments/configs/mlp_digits.py"), "--workdir", "unused"]
    assert parse_flags([*base, "--config.train.num_steps=3"])[0].train.num_steps == 3
    assert parse_flags([*base, "--config.train.num_steps=4", "--config.loss=hinge"])[0].loss == "hinge"
    assert parse_flags(base)[0].train.num_steps == 10_000


def test_train_help_lists_every_config_key(capsys):
    from jaxgan.cli import main

    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: jaxgan train --config NAME|FILE --workdir DIR")
    assert re.search(r"^  --config\.train\.num_steps = 10000 +# train steps", out, re.M)
    assert re.search(r"^  --config\.train\.profile_steps = \(0, 0\) +# \(start step, count\)", out, re.M)
