"""DRAFT"""

from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.data.name = "npz"
    c.data.path = ""  # the .npz of MNIST images 0-7999 (jaxgan prepare ... --range 0:8000 --out X.npz)
    c.data.image_size = 28
    c.data.channels = 1
    c.model.name = "dcgan"
    c.model.ngf = c.model.ndf = 32
    for net in ("g", "d"):
        c.optim[net].lr = 2e-4
        c.optim[net].schedule = "linear"
        c.optim[net].end_factor = 0.1
    c.ema.decay = 0.999
    c.train.batch_size = 64
    c.train.num_steps = 6000
    c.train.log_every = 500
    c.train.sample_every = 2000
    c.train.checkpoint_every = 2000
    c.train.eval_every = 2000
    c.train.progress = False
    c.eval.metrics = ("fid", "is")
    c.eval.num_samples = 2000
    c.eval.classifier = ""  # the MNIST digit classifier .npz (jaxgan train-classifier --npz ...)
    c.eval.reference = ""  # statistics of MNIST images 8000-9999 (jaxgan evaluate ... --save-ref FILE)
    c.train.best_metric = "eval/fid"
    return c
