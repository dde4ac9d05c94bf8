"""Profiling and run metadata: a tiny run writes a jax.profiler trace of the chosen steps and run_info.json."""

import gzip
import json
import subprocess
from pathlib import Path

import jax
import pytest

from jaxgan.config import base_config
from jaxgan.errors import JaxganError
from jaxgan.run import run_info
from jaxgan.run.profiling import parse_profile_steps
from jaxgan.run.train import train_and_evaluate

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(num_steps: int, profile_steps):
    config = base_config()
    config.model.mlp.g_hidden = config.model.mlp.d_hidden = (16,)
    config.model.z_dim = 8
    config.train.update(batch_size=8, num_steps=num_steps, log_every=2, sample_every=100, checkpoint_every=100,
                        num_samples=4, progress=False, num_devices=1, profile_steps=profile_steps)
    return config


def trace_events(workdir: Path) -> list[dict]:
    (trace,) = (workdir / "profile").glob("plugins/profile/*/*.trace.json.gz")
    events = json.loads(gzip.decompress(trace.read_bytes()))
    return events["traceEvents"] if isinstance(events, dict) else events


def outermost(events: list[dict]) -> list[dict]:
    """The events not nested inside another of the list (the profiler nests the jit dispatch in itself)."""
    return [e for e in events if not any(o is not e and o["ts"] <= e["ts"] < o["ts"] + o["dur"] for o in events)]


def test_profile_window_traces_the_chosen_steps_and_run_info_records_the_run(tmp_path):
    workdir = tmp_path / "run"
    train_and_evaluate(tiny_config(6, (3, 2)), workdir)
    assert len(list((workdir / "profile").glob("plugins/profile/*/*.xplane.pb"))) == 1  # TensorBoard's format
    assert list((workdir / "profile").glob("plugins/profile/*/perfetto_trace.json.gz"))  # Perfetto's
    step_runs = outermost([e for e in trace_events(workdir) if e.get("name") == "PjitFunction(train_step)"])
    assert len(step_runs) == 2  # steps 3 and 4 only: the window opens after 2 steps and closes after 2 more

    info = json.loads((workdir / "run_info.json").read_text())
    assert info["versions"]["jax"] == jax.__version__ and info["versions"]["jaxlib"]
    for package in ("flax", "optax", "orbax-checkpoint", "jaxgan"):
        assert package in info["versions"]
    assert info["devices"]["device_kind"] == jax.devices()[0].device_kind
    assert info["devices"]["device_count"] == jax.device_count()
    assert info["devices"]["process_count"] == 1
    assert info["start_step"] == 0
    compile_times = info["step_compile"]
    assert 0 < compile_times["compile_s"] <= compile_times["first_dispatch_s"]
    assert compile_times["trace_s"] > 0 and compile_times["lower_s"] > 0


def test_no_trace_by_default(tmp_path):
    train_and_evaluate(tiny_config(2, (0, 0)), tmp_path / "run")
    assert not (tmp_path / "run" / "profile").exists()
    assert (tmp_path / "run" / "run_info.json").exists()


@pytest.mark.parametrize("value", [(5,), "abc", (0, 3), (2, -1)])
def test_bad_profile_steps(value):
    with pytest.raises(JaxganError, match="train.profile_steps"):
        parse_profile_steps(value)


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_state_of_a_checkout(tmp_path):
    assert run_info.git_state(tmp_path) == {"commit": None, "dirty": None}  # not a checkout
    git("init", "-q", cwd=tmp_path)
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt", cwd=tmp_path)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c", cwd=tmp_path)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert run_info.git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "a.txt").write_text("2")
    assert run_info.git_state(tmp_path) == {"commit": head, "dirty": True}


def test_git_missing_gives_null(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on the PATH
    assert run_info.git_state(ROOT) == {"commit": None, "dirty": None}


def test_benchmark_profile_traces_the_first_row(tmp_path, capsys):
    from jaxgan.tools import benchmark

    rows = benchmark.main(["--quick", "--models", "mlp", "--dtypes", "float32", "--ks", "1,2", "--no-torch",
                           "--no-input", "--no-flops", "--profile", str(tmp_path / "trace")])
    jax_rows = [r for r in rows if r["kind"] == "jaxgan"]
    assert [r["profile"] for r in jax_rows] == [str(tmp_path / "trace"), None]
    assert len(list((tmp_path / "trace").glob("plugins/profile/*/*.xplane.pb"))) == 1
    (trace,) = (tmp_path / "trace").glob("plugins/profile/*/*.trace.json.gz")
    events = json.loads(gzip.decompress(trace.read_bytes()))
    names = {e.get("name") for e in (events["traceEvents"] if isinstance(events, dict) else events)}
    assert any(name and name.startswith("PjitFunction(") for name in names)


def test_profile_window_opens_only_inside_it(tmp_path, monkeypatch):
    from jaxgan.run import profiling

    calls = []
    monkeypatch.setattr(jax.profiler, "start_trace", lambda *a, **k: calls.append("start"))
    monkeypatch.setattr(jax.profiler, "stop_trace", lambda: calls.append("stop"))
    resumed = profiling.ProfileWindow(tmp_path, start=3, count=2)
    resumed.before(7)  # a run resumed after the window: no trace
    assert calls == [] and not resumed.active
    window = profiling.ProfileWindow(tmp_path, start=3, count=2)
    for step in range(1, 7):
        window.before(step)
        window.after(step, None)
        calls.append(step)
    assert calls == [1, 2, "start", 3, "stop", 4, 5, 6]  # steps 3 and 4 traced


def test_bad_profile_steps_stop_the_run_before_anything_is_written(tmp_path):
    with pytest.raises(JaxganError, match="train.profile_steps"):
        train_and_evaluate(tiny_config(2, (3,)), tmp_path / "run")
    assert not (tmp_path / "run").exists()
