"""The README's commands stay true: each names a real subcommand with flags that parse, the cheap ones run end to
end (with tiny step counts), and none writes into the repository outside runs/."""

import argparse
import re
import shlex
from pathlib import Path

import pytest

from jaxgan.cli import SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "translation.md"]
# Commands the README gives that are not jaxgan's: the install and test steps, and tensorboard.
OTHER_COMMANDS = ("python3 -m venv", ". ", "pip install", "ruff check", "python -m pytest", "tensorboard --logdir",
                  "python -c")
# Appended to a README command to run it end to end in seconds (later flags override earlier ones).
TINY = {
    "train": ["--config.train.num_steps=4", "--config.train.log_every=2", "--config.train.sample_every=4",
              "--config.train.checkpoint_every=4", "--config.train.progress=False"],
    "sample": ["--num-samples", "8", "--grid", "4", "--interp-pairs", "1", "--interp-steps", "2", "--batch-size", "8"],
    "train-classifier": ["--steps", "5", "--widths", "4,8", "--feature-dim", "8", "--batch-size", "16"],
    "evaluate": ["--num-samples", "32", "--batch-size", "16", "--kid-subset-size", "16", "--kid-subsets", "2"],
}
TINY_EVAL = ["--config.train.eval_every=2", "--config.eval.num_samples=32", "--config.eval.batch_size=16",
             "--config.eval.reference_samples=64", "--config.eval.kid_subset_size=16", "--config.eval.kid_subsets=2",
             "--config.eval.is_splits=2"]
END_TO_END = ("train", "sample", "train-classifier", "evaluate")


def code_blocks(text: str) -> list[str]:
    """The fenced bash blocks and the 4-space indented blocks of a markdown text (other fences are skipped)."""
    blocks, fenced, indented, fence = [], [], [], None  # fence: the open fence's language, None outside one
    for line in text.splitlines():
        if line.startswith("```"):
            if fence in ("bash", "sh"):
                blocks.append("\n".join(fenced))
            fence, fenced = (line.strip()[3:] if fence is None else None), []
            continue
        if fence is not None:
            fenced.append(line)
        elif line.startswith("    ") and line.strip():
            indented.append(line[4:])
        elif indented:
            blocks.append("\n".join(indented))
            indented = []
    return blocks + (["\n".join(indented)] if indented else [])


def shell_commands(path: Path) -> list[str]:
    """Every command of the file's code blocks: continuations joined, `&&` chains split, comments dropped."""
    commands = []
    for block in code_blocks(path.read_text()):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands.extend(part.strip() for part in line.split("&&"))
    return commands


def as_subcommand(command: str) -> tuple[str, list[str]] | None:
    """(subcommand, its arguments) of a `jaxgan ...`, `jaxgan X ...` or `jaxgan train ...`."""
    words = shlex.split(command)
    if words[0] == "jaxgan":
        return words[1], words[2:]
    if words[0] in ("python", "python3") and words[1].startswith(("tools/", "experiments/")):
        name = Path(words[1]).stem
        return ("train" if words[1] == "experiments/train.py" else name.replace("_", "-")), words[2:]
    return None


def readme_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for path in DOCS:
        for command in shell_commands(path):
            parsed = as_subcommand(command)
            if parsed is None:
                assert command.startswith(OTHER_COMMANDS), f"{path.name}: a command this test does not check: {command}"
            else:
                commands.append(parsed)
    return commands


class ParsedError(Exception):
    """Raised instead of running the tool once its flags have parsed."""


def check_flags(name: str, argv: list[str], monkeypatch) -> None:
    """Parse `jaxgan NAME ARGV`'s flags as the tool does, without running it (SystemExit on a bad flag)."""
    module = pytest.importorskip(f"jaxgan.tools.{SUBCOMMANDS[name][0]}")
    if name == "train":
        module.parse_flags(argv)
        return
    if name == "config":  # no flags of its own: the config and its overrides, as train parses them
        assert module.main(argv) == 0
        return
    if name == "reproduce":  # its own small parser, then the config it names and that config's bands
        config, _, _ = module.split_args(argv)
        assert module.expected_bands(module.config_path(config))
        return
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        original(self, args, namespace)
        raise ParsedError

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    with pytest.raises(ParsedError):
        module.main(argv)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", original)


def test_readme_names_its_commands():
    names = [name for name, _ in readme_commands()]
    assert {"train", "sample", "evaluate", "train-classifier", "translate"} <= set(names)


@pytest.mark.parametrize("name, argv", readme_commands(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_readme_command_exists_and_its_flags_parse(name, argv, monkeypatch):
    assert name in SUBCOMMANDS
    monkeypatch.chdir(ROOT)
    check_flags(name, argv, monkeypatch)


def docstring_examples() -> list[tuple[str, list[str]]]:
    """(subcommand, arguments) of every `jaxgan ...` example in the subcommands' module docstrings (what --help
    shows), without trailing comments, pipes and [optional] parts."""
    import importlib

    examples = []
    for name, (module, _) in SUBCOMMANDS.items():
        doc = (importlib.import_module(f"jaxgan.tools.{module}").__doc__ or "").replace("\\\n", " ")
        for line in doc.splitlines():
            line = re.sub(r"\[[^]]*\]", "", line.split(" #")[0].split(" | ")[0]).strip()
            if line.startswith(f"jaxgan {name}"):
                examples.append(as_subcommand(line))
    return examples


@pytest.mark.parametrize("name, argv", docstring_examples(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_help_example_parses(name, argv, monkeypatch):
    monkeypatch.chdir(ROOT)
    check_flags(name, argv, monkeypatch)


def test_outputs_go_under_runs_never_the_repo_root():
    for name, argv in readme_commands():
        for flag in ("--workdir", "--out", "--grid"):
            if flag in argv:
                target = argv[argv.index(flag) + 1]
                assert target.startswith("runs/"), f"jaxgan {name} {flag} {target}: outputs belong under runs/"


def test_the_ci_script_runs_the_readme_test_command():
    test_command = next(b for b in code_blocks((ROOT / "README.md").read_text()) if "pytest" in b).strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_the_tensorboard_command_has_its_extra():
    text = (ROOT / "pyproject.toml").read_text()
    assert "tensorboard = [" in text and "[tensorboard]" in (ROOT / "README.md").read_text()


def test_the_cheap_readme_commands_run_end_to_end(tmp_path, monkeypatch):
    """train, sample, train-classifier, evaluate and the evaluating train run as the README chains them."""
    from jaxgan.cli import main

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = sorted(p.name for p in ROOT.iterdir())
    ran = []
    for name, argv in readme_commands():
        if name not in END_TO_END or "runs/mlp_digits" not in " ".join(argv) and name != "train-classifier":
            continue
        argv = [a.replace("runs/", f"{tmp_path}/runs/") for a in argv] + TINY[name]
        if any(a.startswith("--config.train.eval_every") for a in argv):
            argv += TINY_EVAL
        assert main([name, *argv]) == 0, (name, argv)
        ran.append(name)
    assert sorted(set(ran)) == sorted(END_TO_END)
    runs = tmp_path / "runs"
    assert (runs / "mlp_digits" / "run_info.json").exists() and (runs / "mlp_digits" / "eval.json").exists()
    assert (runs / "mlp_digits" / "sampled" / "samples.png").exists()
    assert (runs / "mlp_digits_eval" / "eval_protocol.json").exists()
    assert sorted(p.name for p in ROOT.iterdir()) == before  # nothing written into the repository
