"""CycleGAN (Zhu et al. 2017): unpaired translation, two Gs and two Ds with cycle and identity losses."""

from jaxgan.objectives.translation import TranslationObjective

OBJECTIVE = TranslationObjective("cyclegan")
