"""Plot a run: `jaxgan plot --workdir DIR [--out FILE] [--samples N]`.

Writes one PNG (default DIR/plot.png) with a panel of the losses (`Loss/*`), one of D's outputs (`D/*`) and one per
evaluation score (`eval/*`) over steps, all read from DIR/metrics.jsonl, and below them a strip of up to N sample
grids (samples/step_*.png, spread evenly over the run) to see the samples change. Needs matplotlib (the `[plot]`
extra).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from jaxgan.errors import JaxganError
from jaxgan.tools.parsing import tool_parser

PANEL_W, PANEL_H, STRIP_H, DPI = 4.5, 3.0, 2.2, 100  # inches (one line panel; the sample strip's height)
COLUMNS = 3  # line panels per row
SAMPLE_STEP = re.compile(r"step_(\d+)\.png$")


@dataclasses.dataclass(frozen=True)
class Panel:
    """One line plot: its title and the metrics it draws."""

    title: str
    keys: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Layout:
    """What a plot holds: the line panels, the steps of the sample grids shown, and the PNG's size in pixels."""

    panels: tuple[Panel, ...]
    sample_steps: tuple[int, ...]
    size: tuple[int, int]  # (width, height)


def read_metrics(path: Path) -> list[dict[str, float]]:
    """The rows of a metrics.jsonl; a missing or empty file raises one line saying what writes it."""
    if not path.is_file():
        raise JaxganError(f"no {path}: plot reads the metrics.jsonl a run writes (train.writers must include "
                          "'jsonl'); check --workdir.")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise JaxganError(f"{path} holds no rows yet: the run writes one every train.log_every steps.")
    return rows


def panels_of(rows: list[dict[str, float]]) -> tuple[Panel, ...]:
    """Losses, D's outputs, then one panel per eval score: each only when the run logged it."""
    keys = sorted({k for row in rows for k in row})
    panels = [Panel("losses", tuple(k for k in keys if k.startswith("Loss/"))),
              Panel("D outputs", tuple(k for k in keys if k.startswith("D/") and not k.endswith("_prob")))]
    panels += [Panel(k, (k,)) for k in keys if k.startswith("eval/")]
    return tuple(p for p in panels if p.keys)


def pick_samples(samples_dir: Path, count: int) -> list[tuple[int, Path]]:
    """Up to `count` sample grids (step, path), evenly spread from the first to the last."""
    found = sorted((int(m.group(1)), p) for p in samples_dir.glob("step_*.png") if (m := SAMPLE_STEP.search(p.name)))
    if len(found) <= count:
        return found
    picks = np.unique(np.round(np.linspace(0, len(found) - 1, count)).astype(int))
    return [found[i] for i in picks]


def layout(panels: tuple[Panel, ...], samples: list[tuple[int, Path]]) -> Layout:
    """The figure's size: COLUMNS line panels per row, plus the sample strip when there are samples."""
    columns = min(COLUMNS, max(len(panels), 1))
    rows = math.ceil(len(panels) / columns)
    width = PANEL_W * columns
    height = PANEL_H * rows + (STRIP_H if samples else 0)
    return Layout(panels, tuple(step for step, _ in samples), (round(width * DPI), round(height * DPI)))


def series(rows: list[dict[str, float]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric."""
    points = [(row["step"], row[key]) for row in rows if key in row]
    return [s for s, _ in points], [v for _, v in points]


def draw(rows: list[dict[str, float]], plan: Layout, samples: list[tuple[int, Path]], title: str) -> Any:
    """The matplotlib Figure of `plan`."""
    figure_class = import_figure()
    width, height = plan.size
    fig = figure_class(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    columns = min(COLUMNS, max(len(plan.panels), 1))
    line_rows = math.ceil(len(plan.panels) / columns)
    ratios = [PANEL_H] * line_rows + ([STRIP_H] if samples else [])
    grid = fig.add_gridspec(len(ratios), 1, height_ratios=ratios)
    if plan.panels:
        axes = grid[:line_rows, 0].subgridspec(line_rows, columns).subplots(squeeze=False).ravel()
        for ax, panel in zip(axes, plan.panels, strict=False):
            for key in panel.keys:
                steps, values = series(rows, key)
                ax.plot(steps, values, label=key, linewidth=1, marker="o" if len(steps) <= 30 else None, markersize=3)
            ax.set_title(panel.title, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if len(panel.keys) > 1:
                ax.legend(fontsize=7)
        for ax in axes[len(plan.panels):]:
            ax.set_axis_off()
    if samples:
        strip = grid[-1, 0].subgridspec(1, len(samples)).subplots(squeeze=False).ravel()
        for ax, (step, path) in zip(strip, samples, strict=True):
            ax.imshow(np.asarray(Image.open(path).convert("RGB")))
            ax.set_title(f"step {step}", fontsize=8)
            ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    return fig


def import_figure() -> Any:
    """matplotlib's Figure (no pyplot: no GUI backend); a missing package raises one line naming the extra."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise JaxganError("jaxgan plot needs matplotlib: pip install 'jaxgan[plot]'.") from error
    return Figure


def plot_run(workdir: str | Path, out: str | Path | None = None, max_samples: int = 8) -> Layout:
    """Write the run's PNG (default workdir/plot.png); returns what it holds."""
    workdir = Path(workdir)
    rows = read_metrics(workdir / "metrics.jsonl")
    samples = pick_samples(workdir / "samples", max_samples)
    plan = layout(panels_of(rows), samples)
    out = Path(out) if out else workdir / "plot.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    draw(rows, plan, samples, f"{workdir.name}: steps {rows[0]['step']}..{rows[-1]['step']}").savefig(out, dpi=DPI)
    return plan


def main(argv: list[str]) -> Layout:
    """Parse the flags and write the plot."""
    parser = tool_parser("plot", __doc__)
    parser.add_argument("--workdir", required=True, help="the run's directory (holds metrics.jsonl, samples/)")
    parser.add_argument("--out", default=None, help="the PNG to write (default WORKDIR/plot.png)")
    parser.add_argument("--samples", type=int, default=8, help="sample grids in the strip (0 = none)")
    args = parser.parse_args(argv)
    if args.samples < 0:
        raise JaxganError(f"--samples must be >= 0, got {args.samples}.")
    plan = plot_run(args.workdir, args.out, args.samples)
    print(f"wrote {args.out or Path(args.workdir) / 'plot.png'}: {len(plan.panels)} panels, "
          f"{len(plan.sample_steps)} sample grids")
    return plan
