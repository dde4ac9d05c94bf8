"""`jaxgan plot`: one PNG of a run's curves and sample grids, and one line when there is nothing to plot."""

import json

import numpy as np
import pytest
from PIL import Image

from jaxgan.cli import main as jaxgan
from jaxgan.sampling.images import save_png
from jaxgan.tools.plot import DPI, PANEL_H, PANEL_W, STRIP_H, Panel, plot_run

pytest.importorskip("matplotlib")


def fake_run(workdir, sample_steps=(100, 200, 300, 400, 500)):
    """A workdir with 10 metric rows (two evaluations) and a sample grid per step of `sample_steps`."""
    rows = [{"step": s, "time": 0.0, "Loss/D": 1.0 / s, "Loss/G": 2.0, "D/real": 0.5, "D/fake": -0.5,
             "D/real_prob": 0.6, "images_per_sec": 100.0} for s in range(50, 550, 50)]
    rows += [{"step": 250, "eval/fid": 30.0, "eval/is_mean": 2.0}, {"step": 500, "eval/fid": 20.0, "eval/is_mean": 3.0}]
    workdir.mkdir()
    (workdir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for step in sample_steps:
        save_png(np.full((16, 16, 3), step % 256, np.uint8), workdir / "samples" / f"step_{step:07d}.png")
    return workdir


def test_plot_has_a_panel_per_group_and_a_sample_strip(tmp_path):
    workdir = fake_run(tmp_path / "run")
    plan = plot_run(workdir, tmp_path / "out" / "p.png", max_samples=3)
    assert plan.panels == (Panel("losses", ("Loss/D", "Loss/G")), Panel("D outputs", ("D/fake", "D/real")),
                           Panel("eval/fid", ("eval/fid",)), Panel("eval/is_mean", ("eval/is_mean",)))
    assert plan.sample_steps == (100, 300, 500)  # spread over the run: first, middle, last
    with Image.open(tmp_path / "out" / "p.png") as png:  # 3 panels per row: 2 rows, then the strip
        assert png.size == plan.size == (round(3 * PANEL_W * DPI), round((2 * PANEL_H + STRIP_H) * DPI))
        pixels = np.asarray(png.convert("L"))
    assert pixels.std() > 10  # something was drawn


def test_plot_without_samples_has_no_strip(tmp_path):
    workdir = fake_run(tmp_path / "run", sample_steps=())
    plan = plot_run(workdir)
    with Image.open(workdir / "plot.png") as png:
        assert png.size == (round(3 * PANEL_W * DPI), round(2 * PANEL_H * DPI))
    assert plan.sample_steps == ()


def test_a_missing_metrics_file_is_one_line(tmp_path, capsys):
    assert jaxgan(["plot", "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: no {tmp_path / 'metrics.jsonl'}: plot reads the metrics.jsonl a run writes "
                   "(train.writers must include 'jsonl'); check --workdir."]
