"""StyleGAN2-ADA training (issue 16): the phase table fires at its intervals, ADA's p moves inside the compiled step,
resume is bit-exact with ADA on, and bad configs and checkpoints get named errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_experiment_config, load_tool
from PIL import Image
from test_resume import assert_trees_equal, copy_run, metric_rows, no_eval, stop_at

from jaxgan.config import base_config
from jaxgan.data import build_dataset, stack_batches
from jaxgan.engine.sharding import data_mesh
from jaxgan.engine.state import create_state, param_count
from jaxgan.engine.train_step import jit_train_step
from jaxgan.errors import JaxganError
from jaxgan.metrics.training_eval import build_eval_fn
from jaxgan.objectives import validate
from jaxgan.objectives.factory import build_gan, build_train_step, initial_state_aux
from jaxgan.objectives.gan_task import initial_state
from jaxgan.objectives.stylegan2 import stylegan2_spec
from jaxgan.objectives.stylegan2_phases import ada_adjust, initial_aux
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.runs import load_generator
from jaxgan.run.state_layout import CheckpointMismatchError
from jaxgan.run.train import train_and_evaluate
from jaxgan.sampling.images import unit_range_to_uint8
from jaxgan.sampling.stylegan2 import check_stylegan2, seed_latents, style_mixing_grid

B = 8


def tiny_config(**train):
    """The digits config at 8x8 with 4..16 feature maps and 8-d latents."""
    c = load_experiment_config("stylegan2_digits").get_config()
    c.data.image_size = 8
    c.model.z_dim = c.model.stylegan2.w_dim = 8
    c.model.stylegan2.channel_base, c.model.stylegan2.channel_max = 64, 16
    c.train.update(dict(batch_size=B, num_steps=8, checkpoint_every=8, log_every=1, sample_every=1000,
                        num_samples=4, progress=False, num_devices=1, eval_every=4))
    c.train.update(train)
    return c


def build(config):
    """(jitted step, fresh state, batch iterator) for `config` on the digits."""
    validate(config)
    dataset = build_dataset(config.data, seed=0)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    state = create_state(gan, dataset.example_shape, 0, ema=True, aux=initial_state_aux(config))
    step = jit_train_step(build_train_step(config, gan, dataset.example_shape))
    return step, state, stack_batches(dataset.batches(B, start_batch=0), 1)


def run_steps(step, state, batches, n):
    """n steps; returns the final state, each step's metrics and each step's p."""
    rows, p = [], []
    for _ in range(n):
        state, metrics = step(state, next(batches))
        rows.append(jax.device_get(metrics))
        p.append(float(state.aux["ada_p"]))
    return state, rows, p


def with_d_bias(state, bias):
    """The state with D's last bias forced to `bias`: real logits ~ bias (a confident or an unconfident D)."""
    state = jax.tree.map(jnp.copy, state)  # the step donates its input: keep the caller's state alive
    params = state.nets["D"].params
    params["b4"]["out"]["bias"] = jnp.full_like(params["b4"]["out"]["bias"], bias)
    return state.with_nets(D=state.nets["D"].replace(params=params))


def test_lazy_phases_fire_on_their_steps_and_ada_counts_every_real_logit():
    state, rows, _ = run_steps(*build(tiny_config()), 17)
    greg = [i for i, m in enumerate(rows) if m["Grad/Greg"] != 0]
    dreg = [i for i, m in enumerate(rows) if m["Grad/Dreg"] != 0]
    assert greg == [0, 4, 8, 12, 16]  # step % 4 == 0
    assert dreg == [0, 16]  # step % 16 == 0
    assert all(m["Loss/G/reg"] == 0 for i, m in enumerate(rows) if i not in greg)
    assert all(m["Grad/G_norm"] > 0 and m["Grad/D_norm"] > 0 for m in rows)  # the main phases run every step
    # After step 15 (the 16th) ADA reset its accumulator; step 16 adds Dmain's B and Dreg's B real logits.
    assert float(state.aux["ada_count"]) == 2 * B
    assert float(state.aux["pl_mean"]) > 0  # Greg's running mean moved from 0
    # G_ema copies G at step 0 (cur_nimg = 0), then ramps up its half-life.
    assert rows[0]["Progress/ema_beta"] == 0 and 0 < rows[16]["Progress/ema_beta"] < 1


def test_ada_p_moves_toward_the_target_every_4_steps_inside_the_step():
    """A D forced confident (real logits > 0: r_t = 1 > 0.6) raises p; unconfident (r_t = -1) lowers it. Each
    adjustment is sign(r_t - target) * B * 4 / (kimg * 1000) = 0.1 with kimg = 0.32."""
    config = tiny_config()
    config.ada.update(dict(p=0.5, target=0.6, kimg=0.32))
    config.reg.r1_gamma = 0.0  # no Dreg update, so D stays as forced
    step, state, batches = build(config)
    for bias, expected in ((100.0, 0.6), (-100.0, 0.4)):
        _, rows, p = run_steps(step, with_d_bias(state, bias), batches, 5)
        assert p[:3] == [0.5] * 3  # no adjustment before the 4th step ends
        assert p[3] == pytest.approx(expected, abs=1e-6) and p[4] == p[3]
        assert rows[2]["ADA/rt"] == pytest.approx(np.sign(bias))  # the mean sign over the 3 steps so far
        assert [r["ADA/p"] for r in rows] == pytest.approx(p)  # logged


def test_a_fixed_p_stays_and_only_resets_the_accumulator():
    config = tiny_config()
    config.ada.update(dict(p=0.3, target=0.0))
    validate(config)
    gan = build_gan(config, (8, 8, 1))
    spec = stylegan2_spec(config, gan)
    state = create_state(gan, (8, 8, 1), 0, aux={**initial_aux(0.3), "ada_sign_sum": jnp.float32(8),
                                                  "ada_count": jnp.float32(8)})
    state = state.replace(step=jnp.int32(3))  # (step + 1) % 4 == 0: an adjustment step
    after, metrics = ada_adjust(spec, state, None, None)
    assert float(after.aux["ada_p"]) == pytest.approx(0.3) and float(metrics["ADA/rt"]) == 1.0
    assert float(after.aux["ada_count"]) == 0 and float(after.aux["ada_sign_sum"]) == 0


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stopped_stylegan2")
    state = train_and_evaluate(tiny_config(), workdir, eval_fn=stop_at(4))
    return workdir, jax.device_get(state)


def test_stop_and_resume_with_ada_is_bit_identical_to_a_straight_run(stopped, tmp_path):
    workdir, stopped_state = stopped
    assert int(stopped_state.step) == 4 and float(stopped_state.aux["ada_p"]) > 0  # p moved before the stop
    with Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:  # aux is checksummed like every array
        assert {"aux.ada_p", "aux.pl_mean"} <= set(ckpt.read_meta(4)["checksums"])
    assert load_tool("verify").main(["--workdir", str(workdir)]) == 0
    run = copy_run(workdir, tmp_path)
    resumed = train_and_evaluate(tiny_config(), run, eval_fn=no_eval)
    straight = train_and_evaluate(tiny_config(), tmp_path / "straight", eval_fn=no_eval)
    assert int(resumed.step) == 8
    assert_trees_equal(resumed, straight)  # params, w_avg, Adam moments, G_ema, pl_mean, ADA p and accumulator
    assert metric_rows(run) == metric_rows(tmp_path / "straight")


def test_a_checkpoint_of_another_stylegan2_config_names_the_differing_arrays(stopped, tmp_path):
    run = copy_run(stopped[0], tmp_path)
    config = tiny_config()
    config.model.stylegan2.w_dim = 16
    with pytest.raises(CheckpointMismatchError, match=r"nets\.G\.params\.mapping\.fc0"):
        train_and_evaluate(config, run, eval_fn=no_eval)


@pytest.mark.parametrize("change, message", [
    (dict(data=dict(image_size=12)), "power of two >= 4, got 12"),
    (dict(ada=dict(target=1.5)), r"ada.target: ADA target must lie in \(0, 1\)"),
    (dict(ada=dict(preset="rgb")), "Unknown ada.preset 'rgb'"),
    (dict(n_disc=2), "unknown config key 'n_disc' \\(not a key of the stylegan2 objective\\)"),
    (dict(train=dict(batch_size=6)), "multiple of model.stylegan2.mbstd_group_size"),
])
def test_bad_stylegan2_configs_get_named_errors(change, message):
    config = tiny_config()
    config.update_from_flattened_dict({f"{block}.{k}": v for block, kv in change.items() if isinstance(kv, dict)
                                       for k, v in kv.items()})
    if "n_disc" in change:
        config.n_disc = change["n_disc"]
    with pytest.raises((ValueError, JaxganError), match=message):
        validate(config)
        build_gan(config, (config.data.image_size, config.data.image_size, 1))


def test_sample_tool_writes_seed_images_truncation_and_style_mixing(stopped, tmp_path):
    """Per-seed PNGs equal G_ema's const-noise images of those seeds; psi=0 maps every seed to w_avg; a style-mixing
    tile with every layer from the column is the column's image, with no layer the row's."""
    tool = load_tool("sample")
    workdir = str(stopped[0])
    assert tool.main(["--workdir", workdir, "--out", str(tmp_path / "a"), "--seeds", "0-2"]) == 0
    images = [np.asarray(Image.open(tmp_path / "a" / f"seed{s:04d}.png")) for s in range(3)]
    gan, variables, _ = load_generator(workdir)
    direct = unit_range_to_uint8(np.asarray(gan.generate(variables, seed_latents([0, 1, 2], gan.z_dim))))  # const
    np.testing.assert_array_equal(np.stack(images), direct[..., 0])
    assert not np.array_equal(images[0], images[1])

    tool.main(["--workdir", workdir, "--out", str(tmp_path / "b"), "--seeds", "0,1", "--trunc-psi", "0"])
    np.testing.assert_array_equal(*(np.asarray(Image.open(tmp_path / "b" / f"seed{s:04d}.png")) for s in (0, 1)))

    num_ws = gan.generator.num_ws
    for styles, source in ((range(num_ws), "col"), ((), "row")):
        grid = style_mixing_grid(gan, variables, [0, 1], [2], list(styles))
        h = images[0].shape[0]
        assert grid.shape[:2] == (3 * h, 2 * h)
        expected = images[2] if source == "col" else images[1]
        np.testing.assert_array_equal(grid[2 * h:, h:, 0], expected)  # row seed 1, column seed 2
    tool.main(["--workdir", workdir, "--out", str(tmp_path / "c"), "--style-mix-rows", "0,1", "--style-mix-cols", "2"])
    assert (tmp_path / "c" / "style_mix.png").exists()


def test_sample_tool_refuses_a_negative_psi_and_stylegan2_options_for_other_models(tmp_path):
    tool = load_tool("sample")
    with pytest.raises(JaxganError, match="--trunc-psi must be >= 0"):
        tool.main(["--workdir", str(tmp_path), "--out", str(tmp_path / "o"), "--trunc-psi", "-0.5"])
    mlp = build_gan(base_config(), (28, 28, 1))
    with pytest.raises(ValueError, match="need a StyleGAN2 run"):
        check_stylegan2(mlp)


@pytest.mark.parametrize("name, shape, classes, g_params, d_params", [
    # The reference's parameter counts, derived by hand in tests/test_stylegan2_networks.py's docstring.
    ("stylegan2_cifar10", (32, 32, 3), None, 19_947_539, 20_720_641),
    ("stylegan2_cifar10", (32, 32, 3), 10, 20_215_315, 23_089_664),
    ("stylegan2_ffhq256", (256, 256, 3), None, 24_767_458, 24_001_089),
])
def test_gpu_configs_build_the_reference_networks(name, shape, classes, g_params, d_params):
    """The cifar / paper256 configs cite their command and build networks of the reference's size (shapes only:
    jax.eval_shape, no compute). ffhq256 reads `data.name=prepared`, which this test does not open."""
    module = load_experiment_config(name)
    assert f"--config experiments/configs/{name}.py" in module.__doc__ and "GPU" in module.__doc__
    config = module.get_config()
    if classes:
        config.model.g_cond, config.model.d_cond = "embed", "projection"
    validate(config)
    gan = build_gan(config, shape, classes)
    state = jax.eval_shape(lambda: create_state(gan, shape, 0, ema=True, aux=initial_state_aux(config)))
    assert (param_count(state.nets["G"].params), param_count(state.nets["D"].params)) == (g_params, d_params)
    assert set(state.aux) == {"pl_mean", "ada_p", "ada_sign_sum", "ada_count"}


def test_the_digits_config_learns_the_digits(digit_classifier, tmp_path):
    """The CPU config's domain FID (digit classifier features) after 50 steps is well below the untrained G's.
    The full-length figures are in experiments/configs/stylegan2_digits.py's docstring."""
    config = load_experiment_config("stylegan2_digits").get_config()
    config.train.update(dict(num_steps=50, eval_every=50, checkpoint_every=50, log_every=50, sample_every=1000,
                             progress=False, num_devices=1))
    config.eval.update(dict(metrics=("fid",), num_samples=256, batch_size=128, classifier=str(digit_classifier[0]),
                            cache_dir=str(tmp_path / "cache"), reference_samples=512))
    dataset = build_dataset(config.data, seed=config.seed)
    gan = build_gan(config, dataset.example_shape, dataset.num_classes)
    evaluate = build_eval_fn(config, gan, dataset)
    untrained = evaluate(initial_state(config, gan, dataset.example_shape, data_mesh(jax.devices()[:1])), 0)
    fids = {}
    train_and_evaluate(config, tmp_path / "run", eval_fn=lambda state, step: fids.setdefault(step, evaluate(state,
                                                                                                            step)))
    assert fids[50]["eval/fid"] < 0.6 * untrained["eval/fid"], (fids, untrained)
