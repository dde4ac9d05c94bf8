"""pix2pix and CycleGAN learn toy translations on the CPU; their runs resume and `tools/translate.py` uses them.

Each model trains once per module (a fixture) through `train_and_evaluate`, so these tests also cover the loop,
its workdir and its checkpoints. Widths are tiny and the learning rate is 10x the papers' to learn in ~150 steps.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import load_tool
from PIL import Image

from jaxgan.run.runs import load_run
from jaxgan.run.train import train_and_evaluate
from jaxgan.sampling.images import unit_range_to_uint8
from jaxgan.translation.config import base_config
from jaxgan.translation.inference import translate_images
from jaxgan.translation.state import create_state
from jaxgan.translation.synthetic import write_discs_and_squares, write_inversion_pairs
from jaxgan.translation.trainer import held_out_batch

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(task, path, size, steps):
    c = base_config(task)
    c.data.update({"source": "folder", "path": str(path), "crop_size": size, "num_eval": 8})
    c.model.update({"ngf": 8, "ndf": 8, "n_blocks": 1, "d_layers": 2 if task == "cyclegan" else 3})
    c.optim.lr = 2e-3
    c.train.update({"batch_size": 8 if task == "pix2pix" else 4, "num_steps": steps, "log_every": 50,
                    "eval_every": steps, "checkpoint_every": steps, "progress": False})
    return c


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pix2pix")
    root = write_inversion_pairs(tmp / "data", {"train": 64, "test": 16}, size=32)
    config = tiny_config("pix2pix", root, 32, steps=150)
    train_and_evaluate(config, tmp / "run")
    return config, tmp / "run"


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cyclegan")
    root = write_discs_and_squares(tmp / "data", {"train": (48, 40), "test": (8, 8)}, size=16)
    config = tiny_config("cyclegan", root, 16, steps=150)
    train_and_evaluate(config, tmp / "run")
    return config, tmp / "run"


def red_minus_blue(images):
    return float(np.mean(images[..., 0] - images[..., 2]))




def test_pix2pix_learns_colour_inversion_on_held_out_images(pix2pix_run):
    config, workdir = pix2pix_run
    _, models, state, _ = load_run(workdir)
    held_out = held_out_batch(config)  # the 8 first test pairs, never trained on
    l1 = np.abs(translate_images(models, state, "AtoB", held_out["a"]) - held_out["b"]).mean()
    # Baseline: the best constant colour (the mean colour of the training targets, the right halves).
    targets = np.stack([np.asarray(Image.open(p))[:, 32:] for p in (Path(config.data.path) / "train").iterdir()])
    baseline = np.abs(held_out["b"] - (targets.reshape(-1, 3).mean(0) / 127.5 - 1.0)).mean()
    assert baseline > 0.45
    assert l1 < 0.35 * baseline, (l1, baseline)  # measured: 0.12 vs 0.52
    # The run logged the same held-out error and wrote its artifacts.
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    logged = [r["eval/L1"] for r in rows if "eval/L1" in r]
    assert logged and abs(logged[-1] - l1) < 1e-4
    assert {"Loss/G_L1", "Loss/G_adv", "Loss/D", "Grad/G_norm"} <= {k for r in rows for k in r}
    grid = np.asarray(Image.open(workdir / "samples" / "step_0000150.png"))
    assert grid.shape == (8 * 33 + 1, 3 * 33 + 1, 3)  # one row per held-out pair: A | G(A) | B
    assert json.loads((workdir / "config.json").read_text())["objective"] == "pix2pix"


def test_cyclegan_reaches_low_cycle_error_and_maps_red_discs_to_blue(cyclegan_run):
    config, workdir = cyclegan_run
    _, models, state, _ = load_run(workdir)
    a, b = held_out_batch(config).values()
    fake_b = translate_images(models, state, "AtoB", a)
    fake_a = translate_images(models, state, "BtoA", b)
    cycle_a = np.abs(translate_images(models, state, "BtoA", fake_b) - a).mean()
    cycle_b = np.abs(translate_images(models, state, "AtoB", fake_a) - b).mean()
    untrained = create_state(models, a.shape[1:], seed=config.seed)
    cycle_untrained = np.abs(translate_images(models, untrained, "BtoA",
                                              translate_images(models, untrained, "AtoB", a)) - a).mean()
    assert max(cycle_a, cycle_b) < 0.2 < 0.5 * cycle_untrained, (cycle_a, cycle_b, cycle_untrained)
    # Colour: red-minus-blue of translated A moves most of the way to domain B's, and back.
    gap = red_minus_blue(a) - red_minus_blue(b)
    assert gap > 0.2
    assert abs(red_minus_blue(fake_b) - red_minus_blue(b)) < 0.3 * gap
    assert abs(red_minus_blue(fake_a) - red_minus_blue(a)) < 0.3 * gap
    # The history pools filled to their 50 images inside the jitted steps.
    assert int(state.aux["pools"]["a"].count) == int(state.aux["pools"]["b"].count) == 50
    assert state.aux["pools"]["b"].images.shape == (50, 16, 16, 3)


def test_rerunning_a_finished_run_restores_its_state(cyclegan_run):
    config, workdir = cyclegan_run
    _, _, saved, _ = load_run(workdir)
    resumed = train_and_evaluate(config, workdir)  # already at num_steps: restores, runs no step
    assert int(resumed.step) == 150
    np.testing.assert_array_equal(resumed.aux["pools"]["b"].images, saved.aux["pools"]["b"].images)
    np.testing.assert_array_equal(resumed.nets["g_ba"].params["to_image"]["kernel"],
                                  saved.nets["g_ba"].params["to_image"]["kernel"])


def test_translate_tool_writes_both_directions_and_a_grid(cyclegan_run, tmp_path):
    config, workdir = cyclegan_run
    inputs = Path(config.data.path) / "testA"
    out = tmp_path / "out"
    assert load_tool("translate").main(["--workdir", str(workdir), "--input", str(inputs), "--out", str(out),
                             "--grid", str(out / "grid.png")]) == 0
    names = sorted(p.stem for p in inputs.iterdir())
    assert sorted(p.stem for p in (out / "AtoB").iterdir()) == names == sorted(p.stem for p in (out / "BtoA").iterdir())
    _, models, state, _ = load_run(workdir)
    a = held_out_batch(config)["a"]  # the same images, resized the same way
    expected = unit_range_to_uint8(translate_images(models, state, "AtoB", a))
    written = np.stack([np.asarray(Image.open(out / "AtoB" / f"{n}.png")) for n in names])
    np.testing.assert_array_equal(written, expected)
    grid = np.asarray(Image.open(out / "grid.png"))
    assert grid.shape == (len(names) * 17 + 1, 3 * 17 + 1, 3)  # input | A-to-B | B-to-A
    # A single image works too.
    single = tmp_path / "single"
    load_tool("translate").main(["--workdir", str(workdir), "--input", str(inputs / f"{names[0]}.png"),
                                 "--out", str(single), "--direction", "BtoA"])
    assert [p.name for p in single.iterdir()] == ["BtoA"] and len(list((single / "BtoA").iterdir())) == 1


def test_translate_tool_on_pix2pix_translates_a_to_b_only(pix2pix_run, tmp_path):
    config, workdir = pix2pix_run
    image = np.asarray(Image.open(next((Path(config.data.path) / "test").iterdir())))[:, :32]
    Image.fromarray(image).save(tmp_path / "in.png")
    tool = load_tool("translate")
    tool.main(["--workdir", str(workdir), "--input", str(tmp_path / "in.png"), "--out", str(tmp_path / "o")])
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["AtoB"]
    tool.main(["--workdir", str(workdir), "--input", str(tmp_path / "in.png"), "--out", str(tmp_path / "p"),
               "--paper-mode"])  # per-image batch statistics, as the pix2pix paper tests
    assert np.asarray(Image.open(tmp_path / "p" / "AtoB" / "in.png")).shape == (32, 32, 3)
    with pytest.raises(ValueError, match="translates \\['AtoB'\\], not 'BtoA'"):
        tool.main(["--workdir", str(workdir), "--input", str(tmp_path / "in.png"), "--out", str(tmp_path / "q"),
                   "--direction", "BtoA"])


def test_translate_tool_explains_a_workdir_without_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="No complete checkpoint in .*; train first"):
        load_tool("translate").main(["--workdir", str(tmp_path), "--input", str(tmp_path),
                                     "--out", str(tmp_path / "o")])
