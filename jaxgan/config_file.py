"""Load an experiment config file and check its keys, so that every config mistake is one line naming the fix.

A config file is Python defining `get_config()`; ml_collections' `config_flags` loads it and applies the
`--config.KEY=VALUE` overrides, but a typo there ends in a traceback (`AttributeError: "'num_steps'"`). These checks
run first: a syntax error or a missing `get_config` names the file and the line, and an unknown key (set by
`get_config` or on the command line) is named with the closest real key.

`--config` takes a path or the name of a shipped config (`mlp_digits` for experiments/configs/mlp_digits.py). The
configs ship inside the package as `jaxgan/configs` (a link to experiments/configs in the checkout, the files
themselves in a wheel), so a name resolves the same from a checkout, an editable install or an installed wheel.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path

import ml_collections

from jaxgan.errors import JaxganError

OVERRIDE_PREFIX = "--config."
# Where named configs live: the package's copy (a wheel; a link to experiments/configs in a checkout), then the
# checkout's experiments/configs itself (where the link is not checked out as one).
CONFIG_DIRS = (Path(__file__).resolve().parent / "configs",
               Path(__file__).resolve().parents[1] / "experiments" / "configs")


def config_names() -> list[str]:
    """The names of the shipped configs (`mlp_digits`, ...), sorted."""
    return sorted({p.stem for d in CONFIG_DIRS if d.is_dir() for p in d.glob("*.py") if not p.stem.startswith("_")})


def is_config_name(value: str) -> bool:
    """Whether `--config VALUE` is a name (`mlp_digits`) rather than a path (`my/config.py`)."""
    return not value.endswith(".py") and "/" not in value and "\\" not in value


def resolve_config(value: str) -> Path:
    """The config file of a name (`mlp_digits`) or a path; an unknown name lists the closest names."""
    if not is_config_name(value):
        path = Path(value)
        if not path.is_file():
            raise JaxganError(f"config file {value} not found; pass a path to a config .py file or a config name "
                              "(`jaxgan train --config mlp_digits ...`).")
        return path
    for directory in CONFIG_DIRS:
        if (directory / f"{value}.py").is_file():
            return directory / f"{value}.py"
    names = config_names()
    closest = difflib.get_close_matches(value, names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(closest)}?" if closest else f"the names are {', '.join(names)}."
    raise JaxganError(f"no config {value!r} (neither a config name nor a path to a .py file); {hint}")


def resolve_config_arg(argv: list[str]) -> list[str]:
    """`argv` with the value of --config (a name or path, optionally `:args`) replaced by its config file's path."""
    out = list(argv)
    for i, arg in enumerate(out):
        flag_value = (i + 1, out[i + 1]) if arg == "--config" and i + 1 < len(out) else None
        if arg.startswith("--config="):
            flag_value = (i, arg.split("=", 1)[1])
        if flag_value is None:
            continue
        index, value = flag_value
        name, sep, args = value.partition(":") if ":" in value and not Path(value).exists() else (value, "", "")
        resolved = f"{resolve_config(name)}{sep}{args}"
        out[index] = resolved if index != i else f"--config={resolved}"
        break
    return out


def config_value(config: ml_collections.ConfigDict, key: str) -> object:
    """The value at a dotted key (`train.num_steps`)."""
    for part in key.split("."):
        config = config[part]
    return config


def flat_keys(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    """Every leaf key of `config` as a dotted path (`train.num_steps`)."""
    keys = []
    for name, value in config.items():
        if isinstance(value, ml_collections.ConfigDict):
            keys.extend(flat_keys(value, f"{prefix}{name}."))
        else:
            keys.append(prefix + name)
    return keys


def closest_key(key: str, known: Iterable[str]) -> str | None:
    """The real key a mistyped `key` most likely meant: same last part first (a missing block), then difflib."""
    known = sorted(known)
    leaf = key.rsplit(".", 1)[-1]
    same_leaf = [k for k in known if k.rsplit(".", 1)[-1] == leaf]
    if same_leaf:
        return same_leaf[0]
    matches = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_key_message(key: str, known: Iterable[str], where: str, renamed: Mapping[str, str] | None = None
                        ) -> str:
    """`unknown config key 'KEY' (WHERE); did you mean 'REAL'?`; a key in `renamed` (old -> new) names its new key."""
    if renamed and key in renamed:
        return (f"unknown config key {key!r} ({where}); did you mean {renamed[key]!r}? (the key moved to its "
                "architecture's block; tools/rename_config_keys.sh renames old keys in config files)")
    suggestion = closest_key(key, known)
    hint = f"; did you mean {suggestion!r}?" if suggestion else "; `jaxgan train --help` lists the flags."
    return f"unknown config key {key!r} ({where}){hint}"


def _frame_in(error: BaseException, path: Path) -> int | None:
    """The line of the innermost traceback frame that runs in the config file `path`, if any."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if Path(frame.filename).resolve() == path]
    return lines[-1] if lines else None


def _innermost_message(error: BaseException) -> str:
    """The message of an error, unwrapping ConfigDict's AttributeError(KeyError(message)) into plain text."""
    message: object = error
    while isinstance(message, BaseException) and len(message.args) == 1:
        message = message.args[0]
    return str(message)


def _assignment_line(source: str, key: str) -> int | None:
    """The first line of `source` that assigns the key's last part (`.num_step =`), to point at a typo."""
    pattern = re.compile(rf"[.\['\"]{re.escape(key.rsplit('.', 1)[-1])}['\"\]]*\s*=[^=]")
    for number, text in enumerate(source.splitlines(), start=1):
        if pattern.search(text):
            return number
    return None


def load_config_file(path: str) -> ml_collections.ConfigDict:
    """Run the config file's `get_config()`; a missing file, syntax error or exception names the file and line."""
    file = Path(path).resolve()
    if not file.is_file():
        raise JaxganError(f"config file {path} not found; pass --config experiments/configs/NAME.py")
    source = file.read_text()
    try:
        code = compile(source, str(file), "exec")
    except SyntaxError as error:
        raise JaxganError(f"{path}:{error.lineno}: syntax error in the config file: {error.msg}") from error
    spec = importlib.util.spec_from_file_location(f"jaxgan_config_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(spec.name, None)
    try:
        exec(code, module.__dict__)
        get_config = getattr(module, "get_config", None)
        if not callable(get_config):
            raise JaxganError(f"{path}:1: the config file defines no get_config(); add `def get_config():` "
                              "returning a ConfigDict (start from jaxgan.config.base_config())")
        config = get_config()
    except JaxganError:
        raise
    except Exception as error:  # noqa: BLE001 - any error inside the user's file becomes one line naming it
        line = _frame_in(error, file)
        text = " ".join(_innermost_message(error).split())
        raise JaxganError(f"{path}:{line or 1}: {type(error).__name__} in the config file: {text}") from error
    if not isinstance(config, ml_collections.ConfigDict):
        raise JaxganError(f"{path}: get_config() returned {type(config).__name__}, not an ml_collections.ConfigDict")
    return config


def schema_for(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The default config of the config's objective: every key a run of that objective reads."""
    from jaxgan.objectives import objective_of

    return objective_of(config).default_config()


def renamed_keys(config: ml_collections.ConfigDict) -> dict[str, str]:
    """Old key -> new key of the keys the config's objective has renamed (the GAN's flat `model.*` keys)."""
    if config.get("objective") not in ("gan", "stylegan2"):
        return {}
    from jaxgan.models import RENAMED_KEYS

    return RENAMED_KEYS


def unknown_keys(config: ml_collections.ConfigDict, schema: ml_collections.ConfigDict) -> tuple[list[str], list[str]]:
    """(the keys of `config` that `schema` lacks, sorted; every key of `schema`)."""
    known = flat_keys(schema)
    return sorted(set(flat_keys(config)) - set(known)), known


def check_config_keys(config: ml_collections.ConfigDict, path: str) -> None:
    """A key `get_config` sets that the schema does not have (a typo that would be ignored) raises JaxganError."""
    unknown, known = unknown_keys(config, schema_for(config))
    if unknown:
        line = _assignment_line(Path(path).read_text(), unknown[0])
        where = f"set in {path}" + (f":{line}" if line else "")
        raise JaxganError(unknown_key_message(unknown[0], known, where, renamed_keys(config)))


def override_keys(argv: Iterable[str]) -> list[tuple[str, str]]:
    """(key, flag) of each `--config.KEY[=VALUE]` on the command line."""
    overrides = []
    for arg in argv:
        if arg.startswith(OVERRIDE_PREFIX):
            key = arg[len(OVERRIDE_PREFIX):].split("=", 1)[0]
            overrides.append((key, arg))
    return overrides


def check_overrides(config: ml_collections.ConfigDict, argv: Iterable[str]) -> None:
    """An override of a key the config does not have raises JaxganError naming the closest real key."""
    known = flat_keys(config)
    known_set = set(known)
    for key, flag in override_keys(argv):
        if key not in known_set:
            raise JaxganError(unknown_key_message(key, known, f"from {flag}", renamed_keys(config)))


def config_path(argv: list[str]) -> str | None:
    """The value of --config FILE / --config=FILE (without a `:args` suffix), if given."""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def precheck(argv: list[str]) -> None:
    """Load the --config file and check its keys and the overrides before config_flags parses them."""
    path = config_path(argv)
    if path is None:
        return
    if ":" in path and not Path(path).exists():
        path = path.split(":", 1)[0]
    config = load_config_file(path)
    check_config_keys(config, path)
    check_overrides(config, argv)
