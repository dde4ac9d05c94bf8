"""A run you can follow: workdir/log.txt (banner, eval lines, status lines, summary), a plain terminal, resume."""

import json
import logging
import re
import sys

import pytest
from absl import logging as absl_logging

from jaxgan.cli import main as jaxgan
from jaxgan.run.run_log import LOG_FILE, RunLog, best_evaluation, format_number

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
ABSL_LINE = re.compile(r"^[IWEF]\d{4} ")  # absl's own format: W1206 19:13:45.123 file.py:12] ...


def tiny_ring_args(workdir, num_steps):
    """`jaxgan train` of mlp_ring8 (by name) with G 2-8-2 and D 2-8-4-1, evaluated every 3 steps, no progress bar."""
    return ["train", "--config", "mlp_ring8", "--workdir", str(workdir),
            "--config.model.mlp.g_hidden=(8,)", "--config.model.mlp.d_hidden=(8, 4)",
            f"--config.train.num_steps={num_steps}", "--config.train.batch_size=8", "--config.train.num_devices=1",
            "--config.train.log_every=2", "--config.train.eval_every=3", "--config.train.sample_every=100",
            "--config.train.checkpoint_every=100", "--config.train.num_samples=16", "--config.train.progress=False",
            "--config.eval.num_samples=64", "--config.train.async_checkpoint=False"]


def dense_params(widths):
    """Weights and biases of a stack of Dense layers with these widths (input first): the hand count."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))


def file_lines(workdir):
    """log.txt's lines without their time stamps."""
    return [STAMP.sub("", line) for line in (workdir / LOG_FILE).read_text().splitlines()]


def run_cli(capfd, args):
    """Run `jaxgan ARGS` in-process; (exit status, terminal lines of stdout and stderr)."""
    status = jaxgan(args)
    out, err = capfd.readouterr()
    return status, [line for line in (out + err).splitlines() if line.strip()]


def test_log_txt_has_the_banner_evals_status_and_summary_and_the_terminal_is_plain(tmp_path, capfd):
    workdir = tmp_path / "run"
    status, terminal = run_cli(capfd, tiny_ring_args(workdir, 6))
    assert status == 0
    lines = file_lines(workdir)
    assert f"parameters: D {dense_params([2, 8, 4, 1]):,}, G {dense_params([2, 8, 2]):,}" in lines
    assert any(line.startswith("jaxgan run: config ") and line.endswith("mlp_ring8.py, starting at step 0 of 6")
               for line in lines)
    assert "devices: 1 x cpu (cpu), 1 process(es)" in lines
    assert "global batch: 8 (8 images per step)" in lines
    assert "data: ring8: sampled on the fly (no fixed size)" in lines
    status_steps = [line.split("  ")[0] for line in lines if line.startswith("step ")]
    assert {"step 2/6", "step 4/6", "step 6/6"} <= set(status_steps)  # every log_every (and at each save)

    rows = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    evals = {r["step"]: {k: v for k, v in r.items() if k.startswith("eval/")} for r in rows if "eval/hq_fraction" in r}
    assert sorted(evals) == [3, 6]
    for step, values in evals.items():  # one line per evaluation, the numbers metrics.jsonl holds
        expected = f"eval step {step}: " + "  ".join(f"{k[5:]} {format_number(v)}" for k, v in values.items())
        assert expected in lines and expected in terminal
    best_value = max(v["eval/modes_captured"] for v in evals.values())
    best_step = min(s for s, v in evals.items() if v["eval/modes_captured"] == best_value)
    summary = [line for line in lines if line.startswith("Done: ")]
    assert len(summary) == 1
    assert summary[0].startswith("Done: steps 0 -> 6 (6 this session) in ")
    assert summary[0].endswith(f"Best eval/modes_captured = {format_number(best_value)} at step {best_step}.")

    assert not [line for line in terminal if "WARNING" in line or ABSL_LINE.match(line) or "orbax" in line.lower()]
    assert set(terminal) <= set(lines)  # log.txt holds what the terminal showed

    status, resumed = run_cli(capfd, tiny_ring_args(workdir, 8))  # resume: appended, not rewritten
    assert status == 0
    lines_after = file_lines(workdir)
    assert lines_after[:len(lines)] == lines
    assert any(line.endswith("mlp_ring8.py, resuming at step 6 of 8") for line in lines_after[len(lines):])
    assert any(line.startswith("Resumed from the checkpoint of step 6 ") for line in resumed)
    assert any(line.startswith("Done: steps 6 -> 8 (2 this session)") for line in lines_after[len(lines):])
    assert not [line for line in resumed if "WARNING" in line or ABSL_LINE.match(line)]


def test_library_logging_goes_to_log_txt_and_not_the_terminal(tmp_path, capfd):
    terminal = logging.StreamHandler(sys.stderr)  # what logging.basicConfig (called by absl) puts on the root
    root = logging.getLogger()
    root.addHandler(terminal)
    try:
        with RunLog(tmp_path):
            absl_logging.warning("absl says something")
            logging.getLogger("orbax.checkpoint").warning("orbax wrote a file")
            logging.getLogger("jaxgan.run.loop").info("Resumed from somewhere")
            logging.getLogger("jaxgan.run.loop").warning("the run looks dead")
        out, err = capfd.readouterr()
        logging.getLogger("orbax.checkpoint").warning("after the run")
        _, err_after = capfd.readouterr()
    finally:
        root.removeHandler(terminal)
    assert out == "Resumed from somewhere\n"
    assert err == "warning: the run looks dead\n"
    assert file_lines(tmp_path) == ["WARNING absl: absl says something", "WARNING orbax.checkpoint: orbax wrote a file",
                                    "Resumed from somewhere", "warning: the run looks dead"]
    assert "after the run" in err_after  # the terminal handler is given back when the run ends


def test_a_disabled_run_log_writes_and_prints_nothing(tmp_path, capfd):
    with RunLog(tmp_path, enabled=False) as run_log:
        run_log.banner(["banner"])
        run_log.evaluated(1, {"eval/fid": 2.0})
        run_log.summary(0, 1, 8)
    assert not (tmp_path / LOG_FILE).exists()
    assert capfd.readouterr().out == ""


@pytest.mark.parametrize("metric, mode, expected", [
    ("eval/fid", "min", ("eval/fid", 1.0, 20)),
    ("eval/is_mean", "max", ("eval/is_mean", 6.0, 20)),
    ("", "min", ("eval/fid", 1.0, 20)),  # no best_metric: the first value, lower is better for FID
])
def test_best_evaluation(metric, mode, expected):
    evaluations = [(10, {"eval/fid": 3.0, "eval/is_mean": 5.0}), (20, {"eval/fid": 1.0, "eval/is_mean": 6.0}),
                   (30, {"eval/fid": 1.0, "eval/is_mean": 6.0})]  # a tie: the earliest step
    assert best_evaluation(evaluations, metric, mode) == expected
    assert best_evaluation([(5, {"eval/modes_captured": 7.0}), (9, {"eval/modes_captured": 8.0})]) == \
        ("eval/modes_captured", 8.0, 9)  # higher is better for mode coverage
    assert best_evaluation([]) is None
