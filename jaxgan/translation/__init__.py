"""Image-to-image translation: pix2pix (paired, Isola et al. 2017) and CycleGAN (unpaired, Zhu et al. 2017).

networks.py (U-Net, ResNet G, PatchGAN), losses.py, pool.py (history pool), state.py, pix2pix.py and cyclegan.py
(their phase tables), data.py, config.py, factory.py, trainer.py (`TranslationTask` for the shared loop,
`jaxgan.run.loop`; `jaxgan.run.train.train_and_evaluate` trains it) and inference.py (what `jaxgan translate` runs,
on a run restored by `jaxgan.run.runs`).
"""
