"""Test set-up: run JAX on the CPU with 8 forced host devices, so multi-device code is tested here."""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402

jax.config.update("jax_platforms", "cpu")

# Reuse compiled XLA programs across tests and test subprocesses: most of the suite's time is compilation.
jax.config.update("jax_compilation_cache_dir", os.environ.get("JAXGAN_TEST_CACHE", "/tmp/jaxgan-jax-cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)

import importlib  # noqa: E402
import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def tiny_mlp_run_config(**train):
    """The default MLP experiment shrunk to a few-second run (16 hidden units, 8x8 images, batch 8, 6 steps saved
    every 2), for tests that train through `train_and_evaluate`; `train` overrides `config.train`."""
    from jaxgan.config import base_config

    c = base_config()
    c.model.mlp.g_hidden = c.model.mlp.d_hidden = (16,)
    c.model.z_dim = 8
    c.data.image_size = 8
    c.train.update(dict(batch_size=8, num_steps=6, checkpoint_every=2, log_every=1, progress=False, num_devices=1,
                        num_samples=4, sample_every=1000))
    c.train.update(train)
    return c


def _import_file(path: Path):
    """Import a .py file that is not in a package (tools/, experiments/configs/) as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tool(name: str):
    """The module behind a tool (jaxgan/tools/<name>.py), which `jaxgan <name>` and tools/<name>.py run."""
    return importlib.import_module(f"jaxgan.tools.{name}")


def load_experiment_config(name: str):
    """experiments/configs/<name>.py as a module (its get_config() builds the config)."""
    return _import_file(ROOT / "experiments" / "configs" / f"{name}.py")


@pytest.fixture(scope="session")
def digit_classifier(tmp_path_factory):
    """(classifier path, held-out accuracy) from a short run of tools/train_classifier.py, shared by the suite."""
    path = tmp_path_factory.mktemp("classifier") / "digits.npz"
    result = load_tool("train_classifier").main(
        ["--out", str(path), "--steps", "100", "--batch-size", "32", "--learning-rate", "3e-3",
         "--widths", "16,32", "--feature-dim", "64"])
    return path, result["accuracy"]


@pytest.fixture(scope="module")
def child_env(tmp_path_factory):
    """The environment of training subprocesses: CPU, and a shared persistent compile cache per test module."""
    env = dict(os.environ)
    env.update(JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(tmp_path_factory.mktemp("jax_cache")),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", PYTHONUNBUFFERED="1")
    return env
