"""Train a GAN, pix2pix or CycleGAN (the config's `task`):
`jaxgan train --config NAME_OR_FILE --workdir DIR [--config.KEY=VALUE ...]`, where NAME is a shipped config
(`mlp_digits` = experiments/configs/mlp_digits.py) and FILE any config .py file.

Any config field can be overridden on the command line, e.g. `--config.train.num_steps=500`.
"""

from __future__ import annotations

import sys

from absl import flags, logging
from ml_collections import config_flags

from jaxgan.config_file import config_path, precheck, resolve_config_arg
from jaxgan.errors import JaxganError
from jaxgan.run.distributed import join_job

FLAGS = flags.FlagValues()
config_flags.DEFINE_config_file("config", None, "A config name (mlp_digits) or the path of a config file.",
                                lock_config=True, flag_values=FLAGS)
flags.DEFINE_string("workdir", None, "Directory for config, metrics, samples and checkpoints.", flag_values=FLAGS)


def parse_flags(argv: list[str]) -> tuple[object, str]:
    """(config, workdir) from the command line; a bad or missing flag raises JaxganError."""
    FLAGS.unparse_flags()
    for name in [n for n in FLAGS if n.startswith("config.")]:
        delattr(FLAGS, name)  # a previous call's override flags (in-process use: tests, notebooks)
    argv = resolve_config_arg(argv)
    precheck(argv)
    command_line, saved_argv = ["jaxgan train", *argv], sys.argv
    sys.argv = command_line  # config_flags finds the --config.KEY overrides in sys.argv, not in the parsed list
    try:
        rest = FLAGS(command_line)
    except (AttributeError, KeyError) as error:  # a config key config_flags could not resolve
        raise JaxganError(f"bad config override: {error} (jaxgan train --help lists the flags)") from error
    except flags.Error as error:
        raise JaxganError(f"{error} (usage: jaxgan train --config FILE --workdir DIR [--config.KEY=VALUE ...])") \
            from error
    finally:
        sys.argv = saved_argv
    if len(rest) > 1:
        raise JaxganError(f"unexpected arguments {rest[1:]}; flags are --config, --workdir and --config.KEY=VALUE.")
    if FLAGS.config is None or not FLAGS.workdir:
        raise JaxganError("both --config FILE and --workdir DIR are required (jaxgan train --help lists the flags).")
    return FLAGS.config, FLAGS.workdir


def help_text(argv: list[str]) -> str:
    """The usage, how to override keys, and every config key with its value and meaning (of --config's file when
    given, else the GAN schema)."""
    from jaxgan.config import base_config
    from jaxgan.config_file import load_config_file
    from jaxgan.tools.config import described_keys

    path = config_path(resolve_config_arg(argv))
    config = load_config_file(path) if path else base_config()
    keys = "\n".join(f"  --config.{row}" for row in described_keys(config))
    return (f"usage: jaxgan train --config NAME|FILE --workdir DIR [--config.KEY=VALUE ...] [--debug]\n\n{__doc__}\n"
            "Override any key below with --config.KEY=VALUE; `jaxgan config NAME` prints a config's keys after its "
            "overrides.\n"
            f"config keys ({path or 'the schema, jaxgan.config.base_config'}):\n{keys}")


def main(argv: list[str]) -> int:
    """Train the config's task (a GAN, pix2pix or CycleGAN) in the workdir, resuming from its checkpoints."""
    if "--help" in argv or "-h" in argv:
        print(help_text(argv))
        return 0
    config, workdir = parse_flags(argv)
    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
    job_watch = join_job(config.parallel)  # before anything touches a device: jax sets its devices up once
    from jaxgan.run.train import train_and_evaluate

    try:
        train_and_evaluate(config, workdir, config_file=config_path(resolve_config_arg(argv)))
    except Exception:
        if job_watch is not None:  # e.g. a collective broken by a lost peer: the watch names it and exits 2
            job_watch.await_lost_peer()
        raise
    if job_watch is not None:
        job_watch.stop(finished=True)  # the others stop watching this process (an error leaves it falling silent)
    return 0
