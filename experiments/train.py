"""Train a GAN: `python experiments/train.py --config experiments/configs/NAME.py --workdir DIR`.

Any config field can be overridden on the command line, e.g. `--config.train.num_steps=500`.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from jaxgan import trainer
from jaxgan.translation import trainer as translation_trainer

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Path to an experiment config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for config, metrics, samples and checkpoints.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
    if FLAGS.config.get("task", "gan") in ("pix2pix", "cyclegan"):
        translation_trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    else:
        trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)


if __name__ == "__main__":
    app.run(main)
