"""Loading a run back from its workdir: its config, its networks and train state, or only its generator.

The one module that knows how a run is stored and how to rebuild its objects from that: a workdir holds config.json
and checkpoints/<step>/, whose orbax `state` item is the train state and whose `meta` item
(`jaxgan.run.run_info.run_meta`) records the config, the data position, the example shape and the number of classes.
`jaxgan.run.checkpoint.Checkpointer` reads and writes those files and knows nothing of configs or models; this module
turns them back into a config (`config_from_json`), any objective's networks and state (`load_run`), G's sampling
variables (`load_generator`, or `load_generator_checkpoint`, which also names the step it read: the EMA params with
their standing BatchNorm statistics, StyleGAN2's w_avg) or a discriminator rejection sampler over G and D
(`load_rejection_sampler`). A step is a number, `latest` (the
newest readable) or `best` (by the run's own `train.best_metric`): `resolve_step`. The sampling, evaluation and
translation tools all load through here; the trainers import nothing from it but the path resolution of
`train.init_from` (`jaxgan.run.transfer`).

A run saved before a config key moved (`jaxgan.models.RENAMED_KEYS`: the flat `model.ngf` became
`model.dcgan.ngf`, ...) loads unchanged: its stored keys are read at their new places.
"""

from __future__ import annotations

import argparse
import copy
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import ml_collections

from jaxgan.data import build_dataset
from jaxgan.engine.state import GAN, G, NetState, TrainState, create_state
from jaxgan.errors import JaxganError
from jaxgan.models import RENAMED_KEYS
from jaxgan.objectives import Objective, get_objective, objective_of, stored_objective_name
from jaxgan.objectives.factory import build_gan
from jaxgan.objectives.stylegan2 import UNUSED_GAN_KEYS
from jaxgan.run.checkpoint import STATE, Checkpointer
from jaxgan.run.state_layout import abstract_of
from jaxgan.sampling.drs import (
    DRS_BURN_IN_STREAM,
    DRS_FINETUNE_BATCH,
    RejectionSampler,
    check_drs_config,
    drs_networks,
    gan_proposer,
    make_training_mode_discriminate,
)
from jaxgan.sampling.generate import generator_variables, make_batched_generate

CONFIG_FILE = "config.json"
CHECKPOINTS = "checkpoints"
STEP_NAMES = ("latest", "best")  # --step values besides a number


def resolve_checkpoint_dir(path: str | Path) -> tuple[Path, int | None]:
    """(checkpoints directory, step or None) from a workdir, its checkpoints/ dir or one step's dir."""
    path = Path(path).absolute()
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; pass a run's workdir, its checkpoints/ folder "
                                "or one checkpoint step folder (checkpoints/<step>).")
    if (path / CHECKPOINTS).is_dir():
        return path / CHECKPOINTS, None
    if path.name.isdigit() and (path / STATE).is_dir():
        return path.parent, int(path.name)
    return path, None


def move_renamed_keys(stored: Mapping[str, Any], renamed: Mapping[str, str] = RENAMED_KEYS) -> dict[str, Any]:
    """A copy of a stored config (nested dicts) with each old dotted key of `renamed` moved to its new place."""
    out = copy.deepcopy(dict(stored))
    for old, new in renamed.items():
        *old_path, old_leaf = old.split(".")
        parent = _walk(out, old_path)
        if not isinstance(parent, dict) or old_leaf not in parent:
            continue
        value = parent.pop(old_leaf)
        *new_path, new_leaf = new.split(".")
        target = out
        for part in new_path:
            target = target.setdefault(part, {})
        target.setdefault(new_leaf, value)  # a config holding both spellings keeps the new one
    return out


def _walk(tree: Any, path: Sequence[str]) -> Any:
    for part in path:
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def config_from_json(stored: Mapping[str, Any]) -> ml_collections.ConfigDict:
    """Rebuild a run's config from its JSON record, over its objective's default config so keys added since keep
    their defaults and keys renamed since are read at their new places (also for runs saved before `objective`)."""
    name = stored_objective_name(stored)
    config = get_objective(name).default_config()
    stored = {k: v for k, v in stored.items() if k != "task"}
    if name in ("gan", "stylegan2"):
        stored = move_renamed_keys(stored)
    if name == "stylegan2":  # runs saved before the objective had its own config also stored the GAN's keys
        stored = _without(stored, UNUSED_GAN_KEYS)
    with config.unlocked():
        _merge(config, stored)
        config.objective = name
    return config


def _without(stored: Mapping[str, Any], dotted_keys: Sequence[str]) -> dict[str, Any]:
    """A deep copy of `stored` without the entries at `dotted_keys`."""
    out = copy.deepcopy(dict(stored))
    for key in dotted_keys:
        *parents, leaf = key.split(".")
        tree = _walk(out, parents) if parents else out
        if isinstance(tree, dict):
            tree.pop(leaf, None)
    return out


def _merge(config: ml_collections.ConfigDict, stored: Mapping[str, Any]) -> None:
    for key, value in stored.items():
        current = config.get(key)
        if isinstance(value, dict) and isinstance(current, ml_collections.ConfigDict):
            _merge(current, value)
        elif isinstance(value, list) and isinstance(current, tuple):
            config[key] = tuple(value)
        elif key in config and current is not None and value is not None and type(current) is not type(value):
            config[key] = type(current)(value)  # JSON loses int/float distinctions (1.0 -> 1)
        elif isinstance(value, dict):
            config[key] = ml_collections.ConfigDict(value)
        else:
            config[key] = value


def _open_checkpoints(path: str | Path) -> tuple[Checkpointer, int | None]:
    """A read-only Checkpointer on the run at `path` and the step the path names; an error when it has none."""
    directory, step = resolve_checkpoint_dir(path)
    ckpt = Checkpointer(directory, read_only=True)
    if not ckpt.all_steps():
        ckpt.close()
        raise FileNotFoundError(f"No complete checkpoint in {directory}; train first (`jaxgan train`) or pass "
                                "a workdir that has checkpoints/.")
    return ckpt, step


def _read_step(ckpt: Checkpointer, read, step: int | None) -> Any:
    """`read(ckpt, step)`, retried; with step=None the newest readable checkpoint (falling back past bad ones)."""
    read = functools.partial(read, ckpt)
    return ckpt.read_with_retries(read, step) if step is not None else ckpt.first_readable(read)


def load_generator(path: str | Path, step: int | None = None) -> tuple[GAN, dict, ml_collections.ConfigDict]:
    """(gan, G's variables, config) from a workdir or checkpoint dir, reading only G's arrays.

    Reads G's EMA params when the run kept an EMA (else G's params) and G's collections (BatchNorm running stats,
    StyleGAN2's w_avg), never D or the optimizer states (orbax partial restore). The EMA params are paired with standing
    BatchNorm statistics recomputed for them (`jaxgan.sampling.generate.generator_variables`). `step=None` takes the
    newest readable checkpoint.
    """
    loaded = load_generator_checkpoint(path, step)
    return loaded.gan, loaded.variables, loaded.config


class LoadedGenerator(NamedTuple):
    """G of one checkpoint, and which checkpoint it is (the step and its folder), for outputs that cite it."""

    gan: GAN
    variables: dict
    config: ml_collections.ConfigDict
    step: int
    checkpoint: Path


def load_generator_checkpoint(path: str | Path, step: int | str | None = None) -> LoadedGenerator:
    """`load_generator` of checkpoint `step` (a number, "latest" or "best"), with the step and folder it read."""
    ckpt, path_step = _open_checkpoints(path)
    with ckpt:
        chosen = resolve_step(ckpt, path_step, step)
        read = lambda ckpt, s: (s, _read_generator(ckpt, s))
        read_step, (gan, variables, config) = _read_step(ckpt, read, chosen)
        return LoadedGenerator(gan, variables, config, read_step, ckpt.directory / str(read_step))


def parse_step(text: str) -> int | str:
    """A --step value: a checkpoint step, `latest` or `best`."""
    if text in STEP_NAMES:
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--step takes a checkpoint step, latest or best, not {text!r}") from None


def resolve_step(ckpt: Checkpointer, path_step: int | None, step: int | str | None) -> int | None:
    """The step `step` names in `ckpt` (None: the newest readable, or the one the path names); one-line errors."""
    if step is None or step == "latest":
        step = path_step
    elif step == "best":
        step = best_step(ckpt)
    if step is not None and int(step) not in ckpt.all_steps():
        raise JaxganError(f"{ckpt.directory} has no checkpoint at step {step}; its steps are {ckpt.all_steps()} "
                          "(or pass --step latest or best).")
    return None if step is None else int(step)


def best_step(ckpt: Checkpointer) -> int:
    """The step of the run's best checkpoint by its own `train.best_metric` (read from its newest record)."""
    train = config_from_json(ckpt.read_meta(ckpt.latest_step())["config"]).train
    if not train.best_metric:
        raise JaxganError(f"--step best needs a run that ranks its checkpoints (train.best_metric); the run in "
                          f"{ckpt.directory} has none: pass one of its steps {ckpt.all_steps()} or latest.")
    with Checkpointer(ckpt.directory, read_only=True, best_metric=train.best_metric,
                      best_mode=train.best_mode) as ranked:
        step = ranked.best_step()
    if step is None:
        raise JaxganError(f"no checkpoint in {ckpt.directory} has a {train.best_metric} score yet; pass one of its "
                          f"steps {ckpt.all_steps()} or latest.")
    return step


def _gan_of(ckpt: Checkpointer, step: int) -> tuple[GAN, ml_collections.ConfigDict, tuple[int, ...]]:
    """The GAN rebuilt from checkpoint `step`'s stored config, that config, and the example shape."""
    meta = ckpt.read_meta(step)
    config = config_from_json(meta["config"])
    shape = tuple(meta["example_shape"])
    return build_gan(config, shape, meta.get("num_classes")), config, shape


def generator_item(abstract: TrainState, ema: bool) -> dict:
    """The partial-restore target holding only what sampling needs: G's params (EMA ones if `ema`) and collections."""
    g = {} if ema else {"params": abstract.nets[G].params}
    if abstract.nets[G].collections:
        g["collections"] = abstract.nets[G].collections
    item = {"nets": {G: g}} if g else {}
    if ema:  # the EMA params, and the step and key that fix their standing BatchNorm statistics
        item.update(ema={G: abstract.nets[G].params}, step=abstract.step, rng=abstract.rng)
    return item


def _read_generator(ckpt: Checkpointer, step: int) -> tuple[GAN, dict, ml_collections.ConfigDict]:
    gan, config, shape = _gan_of(ckpt, step)
    ema = G in (ckpt.item_metadata(step).get("ema") or {})
    abstract = jax.eval_shape(functools.partial(create_state, gan, shape, 0, ema=False))
    restored = ckpt.restore_partial(abstract_of(generator_item(abstract, ema)), step)
    g = restored.get("nets", {}).get(G, {})
    if not ema:
        return gan, {"params": g["params"], **g.get("collections", {})}, config
    net = NetState(g.get("params"), g.get("collections", {}), None)
    state = TrainState(step=restored["step"], rng=restored["rng"], nets={G: net}, ema=restored["ema"])
    return gan, generator_variables(state, gan), config


class Run(NamedTuple):
    """A run restored from one checkpoint: its config, its objective's networks (a GAN spec, or translation models),
    its whole train state and the checkpoint's JSON record."""

    config: ml_collections.ConfigDict
    networks: Any
    state: TrainState
    meta: dict[str, Any]


def load_run(path: str | Path, step: int | str | None = None, objective: Objective | None = None) -> Run:
    """The run at `path` (a workdir or a checkpoint folder) at `step` (a number, "latest" or "best"; default: the
    newest readable), every array restored, for any objective: the one its config names, or `objective` (your own)."""
    ckpt, path_step = _open_checkpoints(path)
    with ckpt:
        read = functools.partial(_read_run, objective=objective)
        return _read_step(ckpt, read, resolve_step(ckpt, path_step, step))


def _read_run(ckpt: Checkpointer, step: int, objective: Objective | None = None) -> Run:
    meta = ckpt.read_meta(step)
    config = config_from_json(meta["config"])
    networks, init = (objective or objective_of(config)).restore_target(config, meta)
    state, meta = ckpt.restore(jax.eval_shape(init), step)
    return Run(config, networks, state, meta)


def load_rejection_sampler(path: str, *, step: int | str | None = None, seed: int = 0, percentile: float = 95.0,
                           burn_in: int = 10_000, batch_size: int = 256) -> RejectionSampler:
    """DRS over a saved GAN run: the G and D fine-tuning of its `eval.drs_*` keys, D scoring whole training batches,
    the burn-in drawn from `seed`'s own stream; `batch_size` is G's."""
    config, gan, state, _ = load_run(path, step)
    check_drs_config(config)

    def real_batches():
        dataset = build_dataset(config.data, seed=config.seed)
        return dataset.batches(config.train.batch_size, start_batch=DRS_FINETUNE_BATCH)

    d_batch = config.train.batch_size
    propose = gan_proposer(gan, make_batched_generate(gan, batch_size), make_training_mode_discriminate(gan, d_batch),
                           *drs_networks(config.eval, gan, state, real_batches))
    burn_in_key = jax.random.fold_in(jax.random.key(seed), DRS_BURN_IN_STREAM)
    return RejectionSampler(propose, burn_in_key, burn_in, percentile, d_batch)
