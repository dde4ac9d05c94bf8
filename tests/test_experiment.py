"""The README's main command, in a quick form: train the default experiment and check what it writes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from child_process import run_to_exit
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_default_experiment_end_to_end(tmp_path):
    workdir = tmp_path / "mlp_digits"
    cmd = [sys.executable, "experiments/train.py", "--config", "experiments/configs/mlp_digits.py",
           "--workdir", str(workdir), "--config.train.num_steps=40", "--config.train.log_every=10",
           "--config.train.sample_every=20", "--config.train.checkpoint_every=20"]
    result = run_to_exit(cmd, tmp_path / "train", cwd=ROOT, watch=[workdir])  # waits for the exit, not a deadline
    assert result.returncode == 0, result.stderr[-3000:]

    config = json.loads((workdir / "config.json").read_text())
    assert config["model"]["name"] == "mlp" and config["train"]["num_steps"] == 40

    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    for row in rows:
        for key in ("Loss/D", "Loss/G", "D/real", "D/fake", "Grad/D_norm", "Grad/G_norm", "images_per_sec"):
            assert np.isfinite(row[key]), key

    grids = sorted((workdir / "samples").glob("*.png"))
    assert [p.name for p in grids] == ["step_0000020.png", "step_0000040.png"]
    picture = np.asarray(Image.open(grids[-1]))
    assert picture.shape == (8 * 29 + 1, 8 * 29 + 1)  # 64 samples of 28x28 with 1 px gaps
    assert picture.std() > 0  # not a blank image

    steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [20, 40]
    assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert "step" in result.stderr  # the progress bar was drawn

    info = json.loads((workdir / "run_info.json").read_text())  # what the numbers were computed with
    assert info["versions"]["jax"] and info["devices"]["device_count"] >= 1
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:  # run from a checkout: its commit is recorded
        assert info["git"]["commit"] == head.stdout.strip() and isinstance(info["git"]["dirty"], bool)
    assert info["step_compile"]["compile_s"] > 0
