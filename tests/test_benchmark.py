"""`jaxgan benchmark`: a --quick run on the CPU prints every kind of row with consistent fields (no timing asserts)."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from jaxgan.engine.state import create_state
from jaxgan.objectives.factory import build_gan
from jaxgan.tools import benchmark, plain_jax_mlp

# The PyTorch reference needs torch, which the [torch] extra (part of [test]) installs: pip install -e ".[torch]".
try:
    from jaxgan.tools import torch_dcgan
except ImportError:
    torch_dcgan = None
needs_torch = pytest.mark.skipif(torch_dcgan is None, reason='needs torch: pip install -e ".[torch]"')
ROOT = Path(__file__).resolve().parents[1]

JAXGAN_FIELDS = {"model", "batch", "dtype", "k", "unrolled", "devices", "fast_image_layers", "steps", "images_per_s",
                 "ms_per_step", "flops_per_step", "tflops_per_s", "compile_s", "finite"}


@needs_torch
def test_quick_run_reports_jaxgan_torch_ratio_and_input_rows(capsys):
    returned = benchmark.main(["--quick", "--models", "dcgan", "--ks", "1,2", "--dtypes", "bfloat16",
                               "--torch-variants", "eager_fp32"])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in printed] == [r["kind"] for r in returned]
    rows = {}
    for row in printed:
        rows.setdefault(row["kind"], []).append(row)
    assert rows["env"][0]["backend"] == "cpu"
    assert [(r["model"], r["dtype"], r["k"]) for r in rows["jaxgan"]] == [("dcgan", "bfloat16", k) for k in (1, 2)]
    for r in rows["jaxgan"]:
        assert r.keys() >= JAXGAN_FIELDS and r["finite"]
        assert r["images_per_s"] > 0 and r["flops_per_step"] > 0
        assert r["steps"] % r["k"] == 0
        assert r["ms_per_step"] * r["images_per_s"] / 1e3 == pytest.approx(r["batch"], rel=1e-2)
        assert r["tflops_per_s"] == pytest.approx(r["flops_per_step"] * r["images_per_s"] / r["batch"] / 1e12,
                                                  rel=1e-2, abs=1e-4)
    assert len({r["flops_per_step"] for r in rows["jaxgan"]}) == 1  # one count per (model, batch, dtype), any K
    (torch_row,) = rows["torch"]
    assert torch_row["variant"] == "eager_fp32" and torch_row["status"] == "ok" and torch_row["images_per_s"] > 0
    (ratio,) = rows["ratio"]
    best = max(r["images_per_s"] for r in rows["jaxgan"] if r["model"] == "dcgan")
    assert ratio["ratio"] == pytest.approx(best / torch_row["images_per_s"], rel=1e-3)
    assert {r["source"] for r in rows["input"]} == {"prepared", "npz_in_memory", "jpeg_folder_0_workers",
                                                   "jpeg_folder_2_workers", "tfds_mock_celeb_a"}
    for r in rows["input"]:
        assert r["device_images_per_s"] > 0 and r["shape"] == [64, 64, 3] and r["dtype"] == "uint8"
        assert r["mb_per_s"] == pytest.approx(r["host_images_per_s"] * 64 * 64 * 3 / 1e6, rel=1e-3)
    (e2e,) = rows["train_input"]
    assert e2e["model"] == "dcgan" and e2e["prepared_images_per_s"] > 0 and e2e["synthetic_images_per_s"] > 0


@needs_torch
def test_a_crashing_torch_variant_is_reported_not_raised(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("inductor assert in conv backward")

    monkeypatch.setattr(torch_dcgan, "build_models", broken)
    row = torch_dcgan.time_variant(torch_dcgan.Variant(compile=True, channels_last=True), batch=2, resolution=8,
                                   ngf=2, ndf=2, steps=1, warmup=0, device=torch_dcgan.torch.device("cpu"))
    assert row["status"] == "crashed" and "inductor assert" in row["error"]
    assert row["variant"] == "compile_fp32_channels_last"


@needs_torch
def test_torch_reference_is_the_classic_dcgan():
    g, d = torch_dcgan.build_models(64)
    z = torch_dcgan.torch.zeros(2, 100, 1, 1)
    assert tuple(g(z).shape) == (2, 3, 64, 64) and tuple(d(g(z)).shape) == (2, 1, 1, 1)
    # PyTorch examples/dcgan (nz 100, ngf = ndf = 64): convs 100*512*16 + 512*256*16 + 256*128*16 + 128*64*16
    # + 64*3*16 = 3,574,784 plus BatchNorm 2*(512+256+128+64) = 1,920; D: 3*64*16 + 64*128*16 + 128*256*16
    # + 256*512*16 + 512*16 = 2,763,776 plus BatchNorm 2*(128+256+512) = 1,792.
    assert sum(p.numel() for p in g.parameters()) == 3_576_704
    assert sum(p.numel() for p in d.parameters()) == 2_765_568
    with pytest.raises(ValueError, match="power-of-two"):
        torch_dcgan.build_models(28)


def test_default_sizes_cover_the_issue_targets_and_unknown_models_are_rejected(capsys):
    args = benchmark.parse_args([])
    assert args.batch_sizes == {"mlp": [64, 128, 512], "dcgan": [128, 512]}  # MLP target at 64, DCGAN at 128/512
    assert benchmark.parse_args(["--batch-sizes", "32"]).batch_sizes == {"mlp": [32], "dcgan": [32]}
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--models", "gan"])
    assert "unknown ['gan']" in capsys.readouterr().err


def test_torch_reference_script_without_torch_prints_one_line(tmp_path):
    """tools/torch_dcgan.py where torch cannot be imported: one line naming the extra, exit status non-zero."""
    (tmp_path / "torch.py").write_text("raise ImportError('no torch here')\n")
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, str(ROOT / "tools/torch_dcgan.py"), "--help"], capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ['error: tools/torch_dcgan.py needs PyTorch; install it with: '
                                                'pip install -e ".[torch]"']


def input_pair(batch, zero_rate, two_rate, wait):
    """The JPEG folder's 0- and 2-worker input rows at `batch`, as input_bench.input_row makes them."""
    return [{"kind": "input", "source": f"jpeg_folder_{w}_workers", "workers": w, "batch": batch,
             "host_images_per_s": rate, "host_cpu_bound_images_per_s": 2 * rate, "host_cpu_wait_fraction": wait}
            for w, rate in ((0, zero_rate), (2, two_rate))]


def test_speedup_row_is_2_workers_over_0_at_its_batch_and_flags_a_busy_machine():
    from jaxgan.tools import input_bench

    rows = input_pair(128, 1000.0, 2000.0, 0.01) + input_pair(512, 1000.0, 1500.0, 0.30)
    quiet, busy = input_bench.worker_speedup(rows, 128), input_bench.worker_speedup(rows, 512)
    assert quiet["jpeg_2_workers_speedup"] == 2.0 and quiet["met"] and "note" not in quiet
    assert quiet["jpeg_2_workers_cpu_bound_speedup"] == 2.0
    assert busy["jpeg_2_workers_speedup"] == 1.5 and not busy["met"] and "30%" in busy["note"]
    assert input_bench.worker_speedup(rows[:1], 128) is None  # only one of the pair ran


def test_process_cpu_counts_worker_processes():
    """A child's CPU shows in process_cpu while it lives (grain's workers are children): at least what the child
    itself reports for a fixed amount of work (no clock deadline: the work is a count, not a duration)."""
    from jaxgan.tools import input_bench

    before = input_bench.process_cpu()
    if before is None:
        pytest.skip("needs Linux's /proc/PID/task/*/schedstat")
    work = "import sys, time\nsum(range(20_000_000))\nprint(time.process_time(), flush=True)\nsys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", work], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        own_cpu = float(child.stdout.readline())
        after = input_bench.process_cpu()
    finally:
        child.stdin.close()
        child.wait()
    assert child.pid not in before and after[child.pid][0] >= 0.95 * own_cpu > 0 and after[child.pid][1] >= 0


def test_input_only_run_prints_the_jpeg_speedup(capsys):
    benchmark.main(["--input-only", "--no-torch", "--quick", "--e2e-steps", "0",
                    "--input-sources", "jpeg_folder_2_workers,jpeg_folder_0_workers"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["env", "input", "input", "input_speedup"]
    two, zero, speedup = rows[1:]
    assert (two["workers"], zero["workers"], speedup["batch"]) == (2, 0, 16)
    assert speedup["jpeg_2_workers_speedup"] == pytest.approx(two["host_images_per_s"] / zero["host_images_per_s"],
                                                              rel=1e-3)
    assert speedup["jpeg_2_workers_cpu_bound_speedup"] == pytest.approx(
        two["host_cpu_bound_images_per_s"] / zero["host_cpu_bound_images_per_s"], rel=1e-3)
    for row in (two, zero):
        assert row["images_per_cpu_s"] > 0 and row["host_cpu_bound_images_per_s"] > 0
        assert 0 <= row["host_cpu_wait_fraction"] <= 1


def test_stylegan2_rows_interleave_phases_with_the_reference_and_mix_the_step_kinds_over_a_cycle():
    """Each round times every phase (ours, then the reference's), then each step kind; the mixed step is the lazy
    cycle's mean (12 main, 3 +Greg, 1 +Greg+Dreg) and the reference's Gmain + Dmain + Greg / 4 + Dreg / 16."""
    from jaxgan.engine.train_step import Phase, PhasedStep
    from jaxgan.tools import benchmark_stylegan2 as sg2

    noop = lambda state, batch, keys: (state, {})
    step = PhasedStep((Phase("Gmain", noop), Phase("Greg", noop, 4), Phase("Dmain", noop), Phase("Dreg", noop, 16)), 1)
    cycle = sg2.cycle_kinds(step)
    assert {k: cycle.count(k) for k in set(cycle)} == {"main": 12, "+Greg": 3, "+Greg+Dreg": 1}

    calls = []

    class Fake:  # ours (time) and the reference (time_phase): records the order, returns a set time per name
        def __init__(self, who, seconds):
            self.who, self.seconds = who, seconds

        def time(self, name):
            calls.append((self.who, name))
            return self.seconds[name]

        def time_phase(self, name, repeats, warmup=1):
            calls.append((self.who, name))
            return [self.seconds[name]] * repeats

    ours = Fake("ours", {"Gmain": 0.2, "Greg": 0.3, "Dmain": 0.1, "Dreg": 0.4, "main": 0.35, "+Greg": 0.7,
                         "+Greg+Dreg": 1.1})
    ref = Fake("ref", {"Gmain": 0.1, "Greg": 0.2, "Dmain": 0.1, "Dreg": 0.8})
    ms, ref_ms = sg2.timed_rounds(ours, ref, ["+Greg", "+Greg+Dreg", "main"], rounds=2)
    one_round = [("ours", "Gmain"), ("ref", "Gmain"), ("ours", "Greg"), ("ref", "Greg"), ("ours", "Dmain"),
                 ("ref", "Dmain"), ("ours", "Dreg"), ("ref", "Dreg"), ("ours", "+Greg"), ("ours", "+Greg+Dreg"),
                 ("ours", "main")]
    assert calls == one_round * 3  # the warm-up round, then 2 timed rounds
    assert ms["Gmain"] == pytest.approx(200) and ref_ms["Dreg"] == pytest.approx(800)
    mine, theirs, ratio = sg2.summary_rows(ms, ref_ms, cycle, 4, {})
    assert mine["ms_per_step"] == pytest.approx((12 * 350 + 3 * 700 + 1100) / 16)  # 462.5 ms
    assert theirs["ms_per_step"] == pytest.approx(100 + 100 + 200 / 4 + 800 / 16)  # 300 ms
    assert ratio["ratio_mixed"] == pytest.approx(300 / 462.5) and ratio["ratio_by_phase"]["Dreg"] == 2.0
    assert mine["images_per_s"] == pytest.approx(4 / 0.4625)
    args = benchmark.parse_args(["--models", "stylegan2", "--stylegan2-widths", "full", "--stylegan2-ada", "on"])
    assert args.stylegan2_widths == ["full"] and args.stylegan2_ada == [True]
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--models", "stylegan2", "--stylegan2-widths", "half"])


def test_stylegan2_benchmark_config_matches_the_reference_settings():
    """The jaxgan config and the reference's BenchSpec of a row agree on every shared setting."""
    from jaxgan.tools import benchmark_stylegan2 as sg2

    config = sg2.stylegan2_config(32, 4, 0.25, ada=False, quick=False)
    spec = sg2.reference_spec(config, 32)
    assert (spec.channel_base, spec.channel_max, spec.mapping_layers, spec.architecture) == (8192, 128, 2, "orig")
    assert (spec.pl_weight, spec.r1_gamma, spec.pl_interval, spec.r1_interval) == (2.0, 0.01, 4, 16)
    assert spec.style_mixing_prob == config.stylegan2.style_mixing_prob == 0.0 and config.ada.preset == ""


def test_input_window_opens_after_one_untimed_batch_per_worker():
    """With W workers, W batches are consumed before the clock starts (they start together), then `batches` timed."""
    from jaxgan.tools import input_bench

    consumed = []
    items = (consumed.append(i) or [0.0] for i in range(100))
    input_bench.time_batches(items, 3, warmup=2)
    assert len(consumed) == 5


def test_plain_jax_mlp_row_is_timed_beside_jaxgan_and_has_its_parameter_count(capsys):
    rows = benchmark.main(["--quick", "--models", "mlp", "--ks", "1", "--dtypes", "float32", "--no-input",
                           "--no-flops", "--no-torch", "--plain-jax", "--no-grad-norms"])
    by_kind = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    (ours,), (plain,), (ratio,) = by_kind["jaxgan"], by_kind["plain_jax"], by_kind["ratio"]
    assert not ours["grad_norms"] and plain["finite"] and plain["batch"] == ours["batch"]
    assert ratio["ratio"] == pytest.approx(ours["images_per_s"] / plain["images_per_s"])
    sizes = benchmark.QUICK
    init, _ = plain_jax_mlp.make_plain_step(8, sizes.z_dim, sizes.mlp_hidden, sizes.mlp_shape)
    g, d = init(0)[:2]
    config, shape = benchmark.model_config("mlp", "float32", 8, sizes)
    state = create_state(build_gan(config, shape), shape, 0)
    count = lambda tree: sum(x.size for x in jax.tree.leaves(tree))
    assert (count(g), count(d)) == (count(state.nets["G"].params), count(state.nets["D"].params))


def test_alternating_rounds_swap_the_order_each_round_and_report_medians():
    calls = []

    def fake_time_calls(fn, state, batch, n, warmup):
        name = "jaxgan" if fn is ours_fn else "plain"
        calls.append((name, n))
        seconds = {"jaxgan": [2.0, 1.0, 4.0], "plain": [1.0, 1.0, 1.0]}[name][sum(c[0] == name for c in calls[2:]) - 1]
        return seconds, state, None

    ours_fn = lambda state, batch: (state, {})
    row = plain_jax_mlp.alternating_rounds((ours_fn, 0, {}), 8, benchmark.QUICK, 10, 2, 3, fake_time_calls)
    assert [c[0] for c in calls[2:]] == ["jaxgan", "plain", "plain", "jaxgan", "jaxgan", "plain"]
    assert calls[:2] == [("jaxgan", 1), ("plain", 1)] and all(n == 10 for _, n in calls[2:])
    assert row["jaxgan_images_per_s"] == 40.0 and row["plain_jax_images_per_s"] == 80.0  # medians of 80/40/20, 80
    assert row["ratio"] == 0.5 and row["rounds"] == 3


def test_alternating_rounds_with_options_also_time_the_plain_step_under_them(monkeypatch):
    made, calls = {}, []

    def fake_setup(batch, sizes, options=None):
        name = "same" if options else "plain"
        made[name] = lambda state, x: (state, None)
        return (lambda seed: 0), made[name], 0

    def fake_time_calls(fn, state, batch, n, warmup):
        name = {id(f): k for k, f in {**made, "jaxgan": ours_fn}.items()}[id(fn)]
        calls.append(name)
        return {"jaxgan": 1.0, "plain": 2.0, "same": 0.8}[name], state, None

    ours_fn = lambda state, batch: (state, {})
    monkeypatch.setattr(plain_jax_mlp, "plain_setup", fake_setup)
    row = plain_jax_mlp.alternating_rounds((ours_fn, 0, {}), 8, benchmark.QUICK, 10, 2, 3, fake_time_calls,
                                           {"an_option": "True"})
    assert calls[3:] == ["jaxgan", "plain", "same", "plain", "same", "jaxgan", "same", "jaxgan", "plain"]
    assert row["ratio"] == 2.0 and row["ratio_same_options"] == 0.8 and row["compiler_options"] == {"an_option": "True"}


def test_rounds_rows_come_with_plain_jax(capsys):
    rows = benchmark.main(["--quick", "--models", "mlp", "--ks", "1", "--dtypes", "float32", "--no-input",
                           "--no-flops", "--no-torch", "--plain-jax", "--rounds", "2"])
    (row,) = [r for r in rows if r["kind"] == "rounds"]
    assert row["rounds"] == 2 and row["grad_norms"] and row["batch"] == 8
    assert row["ratio"] == pytest.approx(row["jaxgan_images_per_s"] / row["plain_jax_images_per_s"])
    if jax.default_backend() == "cpu":  # jaxgan's steps ask for XLA:CPU options, so the plain step is timed with them
        assert row["compiler_options"] and row["plain_jax_same_options_images_per_s"] > 0
        assert row["ratio_same_options"] == pytest.approx(
            row["jaxgan_images_per_s"] / row["plain_jax_same_options_images_per_s"])


def test_pin_core_takes_effect_before_jax_starts_its_cpu_client():
    # XLA sizes its CPU thread pools by the cores it may use when its client starts: pinning later leaves two
    # pools' threads sharing one core. A fresh process, since this one's client started long ago.
    code = ("from jax._src import xla_bridge\n"
            "from jaxgan.tools import benchmark\n"
            "seen = []\n"
            "benchmark.pin_to_core = lambda core: seen.append(bool(xla_bridge._backends))\n"
            "benchmark.parse_args(['--pin-core', '0', '--models', 'mlp'])\n"
            "assert seen == [False], seen\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
