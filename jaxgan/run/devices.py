"""The devices a run trains on, checked before anything is written: a platform that is not there is one clear line.

jax fails in several ways when `JAX_PLATFORMS` names a platform that cannot start, not installed or with no device (a
RuntimeError naming the backend, or a bare AssertionError for `cuda` without a visible NVIDIA GPU); `visible_devices`
turns each into `PlatformUnavailableError` saying what to install or which variable to unset.
"""

from __future__ import annotations

import jax

from jaxgan.errors import JaxganError

# What makes each platform available, by the name JAX_PLATFORMS uses.
INSTALL_HINTS = {
    "cuda": 'NVIDIA GPUs need jax\'s CUDA wheels: pip install "jax[cuda12]" (in a checkout: pip install -e '
            '".[cuda12]"; cuda13 for CUDA 13), and a GPU that nvidia-smi lists',
    "gpu": 'GPUs need jax\'s CUDA or ROCm wheels: pip install "jax[cuda12]" (in a checkout: pip install -e '
           '".[cuda12]"), and a GPU that nvidia-smi lists',
    "rocm": 'AMD GPUs need jax\'s ROCm plugin (see jax\'s install guide) and a GPU that rocm-smi lists',
    "tpu": 'TPUs need a Cloud TPU VM and pip install "jax[tpu]" (in a checkout: pip install -e ".[tpu]")',
}


class PlatformUnavailableError(JaxganError):
    """The platform the run asks for (JAX_PLATFORMS) cannot be started on this machine."""


def requested_platforms() -> list[str]:
    """The platforms named by JAX_PLATFORMS (or jax.config's jax_platforms); empty when jax picks by itself."""
    return [p.strip() for p in (jax.config.jax_platforms or "").split(",") if p.strip()]


def visible_devices() -> list:
    """`jax.devices()`; PlatformUnavailableError (what to install or unset) when the requested platform is missing."""
    try:
        return jax.devices()
    except (RuntimeError, AssertionError) as error:
        raise PlatformUnavailableError(unavailable_message(requested_platforms(), error)) from error


def unavailable_message(platforms: list[str], error: BaseException) -> str:
    """One line naming the platform that failed, why, and the fix."""
    reason = " ".join(str(error).split()) or "jax found no such device"
    if not platforms:
        return (f"jax could not start any device ({reason}); reinstall jax (pip install -U jax) or set "
                "JAX_PLATFORMS=cpu to train on the CPU.")
    missing = next((p for p in platforms if p in INSTALL_HINTS), platforms[0])
    hint = INSTALL_HINTS.get(missing, f"{missing!r} is not a platform jax knows (cpu, cuda, rocm, tpu)")
    return (f"JAX_PLATFORMS={','.join(platforms)} asks for {missing}, which cannot start here ({reason}). {hint}; "
            "or unset JAX_PLATFORMS to use the devices this machine has.")
