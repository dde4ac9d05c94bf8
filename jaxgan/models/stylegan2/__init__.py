"""StyleGAN2 (Karras et al. 2020) networks in flax.linen, following NVlabs stylegan2-ada-pytorch."""

from jaxgan.models.stylegan2.discriminator import Discriminator, minibatch_std
from jaxgan.models.stylegan2.generator import (
    BUFFERS,
    Generator,
    MappingNetwork,
    SynthesisNetwork,
    check_resolution,
    num_ws_for,
    truncate,
)

__all__ = [
    "BUFFERS",
    "Discriminator",
    "Generator",
    "MappingNetwork",
    "SynthesisNetwork",
    "check_resolution",
    "minibatch_std",
    "num_ws_for",
    "truncate",
]
