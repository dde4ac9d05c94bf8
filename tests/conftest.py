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
