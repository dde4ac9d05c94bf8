"""pix2pix (Isola et al. 2017): paired translation, G(A) -> B against a PatchGAN D of (A, B) pairs."""

from jaxgan.objectives.translation import TranslationObjective

OBJECTIVE = TranslationObjective("pix2pix")
