"""Bad configs stop early with a message that names the key and what to do."""

import sys
from pathlib import Path

import pytest
from child_process import run_to_exit

from jaxgan.config import base_config, validate
from jaxgan.factory import build_gan

ROOT = Path(__file__).resolve().parents[1]


def run_train(tmp_path, *overrides):
    """The training CLI run to its exit (waited on as an event; a hang guard only catches a silent child)."""
    cmd = [sys.executable, str(ROOT / "experiments/train.py"),
           "--config", str(ROOT / "experiments/configs/mlp_digits.py"), "--workdir", str(tmp_path / "run"),
           *overrides]
    return run_to_exit(cmd, tmp_path / "train", cwd=ROOT)


def test_unknown_key_on_the_command_line_is_rejected(tmp_path):
    result = run_train(tmp_path, "--config.trian.num_steps=5")
    assert result.returncode != 0
    assert "trian" in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


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
