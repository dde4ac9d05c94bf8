"""Score DRS variants on the newest checkpoint of saved 2-D mixture runs: one JSON line per run and variant.

Each variant sets `eval.drs_generator` and `eval.drs_finetune_steps` (jaxgan/sampling/drs.py) and runs the trainer's own
evaluation (jaxgan.metrics.training_eval) on the run's newest checkpoint, with the run's eval settings and
`--eval-seed`.

    python experiments/drs_variants.py --eval-seed 0 runs/grid25_s1 runs/grid25_s2 ...
"""

from __future__ import annotations

import argparse
import json

from jaxgan.data import build_dataset
from jaxgan.metrics.training_eval import TrainingEvaluator
from jaxgan.run.runs import load_gan_run

VARIANTS = (("ema", 0), ("live", 0), ("ema", 1000), ("ema", 5000))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdirs", nargs="+", help="workdirs of finished runs")
    parser.add_argument("--eval-seed", type=int, default=0, help="eval.seed: the latents and the burn-in")
    parser.add_argument("--variants", default=",".join(f"{g}:{n}" for g, n in VARIANTS),
                        help="generator:finetune_steps pairs, e.g. ema:0,live:0")
    args = parser.parse_args(argv)
    variants = [(name, int(steps)) for name, steps in (v.split(":") for v in args.variants.split(","))]
    for workdir in args.workdirs:
        config, gan, state, _ = load_gan_run(workdir)
        dataset = build_dataset(config.data, seed=config.seed)
        for generator, steps in variants:
            config.eval.drs, config.eval.seed = True, args.eval_seed
            config.eval.drs_generator, config.eval.drs_finetune_steps = generator, steps
            result = TrainingEvaluator(config, gan, dataset)(state, int(state.step))
            print(json.dumps({"workdir": workdir, "generator": generator, "finetune_steps": steps, **result}),
                  flush=True)


if __name__ == "__main__":
    main()
