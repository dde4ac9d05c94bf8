"""Evaluate images or a generator: FID, KID, IS and precision/recall, printed as one JSON object.

    jaxgan evaluate --images runs/mlp_digits/sampled_pngs --ref-dataset digits \
        --extractor digits --classifier runs/classifiers/digits28.npz --out runs/mlp_digits/eval_pngs.json
    jaxgan evaluate --npz runs/dcgan64/sampled/samples.npz --ref-npz cifar10_train_32px_inception.npz \
        --extractor inception --inception-weights runs/fid_inception.npz

Inputs. `--images FOLDER`: the folder's .png/.jpg/.jpeg/.bmp/.webp files (not sub-folders), read
as 8-bit gray or RGB. `--npz FILE`: an image array (key `--npz-key`; default 'samples', as
`jaxgan sample` writes, else 'images', else the only array), NHWC or NHW (NCHW with C = 1 or 3
is transposed). uint8 arrays are mapped from [0, 255]; float
arrays must lie in [-1, 1] (or name their range with --value-range) and are rejected otherwise.
Sizes: images of any size are accepted; the extractor resizes them to its input (299x299
bilinear for Inception, the classifier's size for digits). A folder of mixed sizes needs
--resolution, to which every image is then resized (PIL bilinear) first.
`--workdir`/`--checkpoint` evaluate a generator: --num-samples samples (EMA params when saved) of checkpoint
`--step` (a step, `latest` (default) or `best`: the run's best by its train.best_metric).

Reference. `--ref-npz FILE`: statistics saved by jaxgan (or pytorch-fid's mu/sigma, FID only).
`--ref-dataset NAME`: ALL the images of a dataset (StyleGAN2-ADA / clean-fid protocol), as uint8: `digits`, a tfds
name (`cifar10`, split --ref-split), a prepared dataset, a folder or an .npz; the statistics are computed once and
cached under --cache-dir, keyed by the data's content and the protocol (extractor weights, resize, quantisation).
`--ref-images FOLDER`: a folder of image files, read as --images reads them. `--ref-image-npz FILE`: the images of
an .npz, read as --npz reads them (e.g. a held-out split written by `jaxgan prepare --out X.npz`). `--save-ref FILE`
also writes the reference statistics there, keyed by the extractor, for `--ref-npz` or a config's `eval.reference`.

Protocol. Images are quantised to uint8 before the extractor (as pytorch-fid reading PNGs), so the FID of a
generator equals pytorch-fid's on the same images saved as PNGs. `--resize legacy` (default) is pytorch-fid's
bilinear resize to 299x299, `--resize clean` clean-fid's PIL bicubic resize of the uint8 image.

Metrics. `--metrics` names registered metrics (`jaxgan.metrics.registry`; default fid,kid,is,pr);
`--metric-module mypkg.mine` imports a module first, so that the metrics it registers can be named too;
`--metric-option NAME=VALUE` sets a metric's option (its compute function's keyword, e.g. pr_k=5).

Output: {metric: value, ..., "num_samples": N, "extractor": name, "reference": what, "directions": {key: "min" |
"max" | null}, "step" and "checkpoint" (the one scored, for a generator), "protocol": {extractor,
weights (hash), resize, quantisation, num_generated, num_reference, reference, metrics, pr_features}} on stdout
and in --out (default: WORKDIR/eval.json when evaluating a workdir, else stdout only).
"""

from __future__ import annotations

import argparse
import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from jaxgan.files.npzfile import open_npz
from jaxgan.metrics.evaluator import check_request, compute_reference_stats, evaluate_batches, evaluate_samples
from jaxgan.metrics.extractors import check_reference_extractor, load_extractor
from jaxgan.metrics.protocol import RESIZE_MODES, eval_protocol, protocol_id
from jaxgan.metrics.reference_sets import named_reference_stats
from jaxgan.metrics.registry import default_metrics, get_metrics, import_metric_modules
from jaxgan.metrics.stats import default_cache_dir, load_reference_stats, save_reference_stats
from jaxgan.run.checkpoint_noise import quiet_orbax_notices
from jaxgan.run.runs import parse_step
from jaxgan.sampling.drs import check_percentile
from jaxgan.tools.parsing import tool_parser

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DEFAULT_NPZ_KEYS = ("samples", "images")  # `jaxgan sample` writes 'samples'
VALUE_RANGES = {"-1,1": (-1.0, 1.0), "0,1": (0.0, 1.0), "0,255": (0.0, 255.0)}


def load_sampler_from_checkpoint(path: str | Path, args: argparse.Namespace | None = None
                                 ) -> tuple[Any, dict[str, Any]]:
    """(`sample_fn(key, n) -> images`, {"step", "checkpoint"}) of the generator saved at `path` (a workdir or
    checkpoint), at `args.step` (default: the newest readable).

    Reads only G (its EMA params when present), never D or the optimizer states; with `args.drs`, G and D for
    discriminator rejection sampling (`jaxgan.sampling.drs`).
    """
    from jaxgan.run.runs import load_generator_checkpoint, load_rejection_sampler, resolve_checkpoint_dir
    from jaxgan.sampling.generate import make_sample_fn

    quiet_orbax_notices()
    step = None if args is None else args.step
    loaded = load_generator_checkpoint(path, step)
    scored = {"step": loaded.step, "checkpoint": str(loaded.checkpoint)}
    if args is not None and args.drs:
        directory, _ = resolve_checkpoint_dir(path)
        return load_rejection_sampler(str(directory), step=loaded.step, seed=args.seed,
                                      percentile=args.drs_percentile, burn_in=args.drs_burn_in,
                                      batch_size=args.batch_size), scored
    return make_sample_fn(loaded.gan, loaded.variables), scored


def to_unit_range(images: np.ndarray, value_range: str) -> np.ndarray:
    """Return float32 images in [-1, 1]; uint8 means [0, 255], floats must be in `value_range`."""
    if value_range == "auto":
        lo, hi = (0.0, 255.0) if images.dtype == np.uint8 else (-1.0, 1.0)
    else:
        lo, hi = VALUE_RANGES[value_range]
    if images.size:
        seen_lo, seen_hi = float(images.min()), float(images.max())
        if seen_lo < lo - 1e-3 or seen_hi > hi + 1e-3:
            raise ValueError(
                f"image values lie in [{seen_lo:.4g}, {seen_hi:.4g}], outside the expected range "
                f"[{lo:g}, {hi:g}]; pass --value-range 0,1 or 0,255 if that is their range, or "
                "rescale them to [-1, 1]."
            )
    return np.clip((images.astype(np.float32) - lo) * (2.0 / (hi - lo)) - 1.0, -1.0, 1.0)


def _read_image(path: Path, size: int | None) -> np.ndarray:
    """Read one image file as uint8 HWC (gray stays 1 channel), resized to size x size if given."""
    with Image.open(path) as image:
        image = image.convert("L" if image.mode in ("1", "L", "I", "I;16", "F") else "RGB")
        if size and image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


def folder_batches(folder: Path, batch_size: int, image_size: int | None) -> Iterator[np.ndarray]:
    """Yield batches of a folder's images in [-1, 1], read lazily in sorted file order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"{folder} holds no {'/'.join(IMAGE_SUFFIXES)} files.")
    if image_size is None:
        sizes = set()
        for p in paths:
            with Image.open(p) as image:
                sizes.add(image.size)
        if len(sizes) > 1:
            raise ValueError(
                f"{folder} mixes image sizes {sorted(sizes)[:4]}; pass --resolution S to resize "
                "them all to S x S."
            )
    for start in range(0, len(paths), batch_size):
        batch = np.stack([_read_image(p, image_size) for p in paths[start : start + batch_size]])
        yield to_unit_range(batch, "0,255")


def load_npz_images(path: Path, key: str | None, value_range: str) -> np.ndarray:
    """Return the image array of an .npz file as NHWC float32 in [-1, 1]."""
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist.")
    with open_npz(path, "images", "pass an .npz written with np.savez(path, images=...).") as data:
        if key is None:
            named = [k for k in DEFAULT_NPZ_KEYS if k in data.files]
            if not named and len(data.files) != 1:
                raise ValueError(f"{path} holds arrays {data.files}; name one with --npz-key.")
            key = named[0] if named else data.files[0]
        elif key not in data.files:
            raise ValueError(f"{path} has no array {key!r}; it holds {data.files}.")
        images = np.asarray(data[key])
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)  # NCHW -> NHWC
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"{path}:{key} has shape {images.shape}; expected NHWC with C = 1 or 3.")
    return to_unit_range(images, value_range)


def weights_args(args: argparse.Namespace) -> dict[str, str]:
    """The weights-file arguments of `load_extractor` / `extractor_id`."""
    return dict(classifier=args.classifier or "", inception_weights=args.inception_weights or "")


def build_extractor(args: argparse.Namespace):
    """Return the feature extractor the arguments name (a missing weights path is a clear error)."""
    return load_extractor(args.extractor, **weights_args(args), resize=args.resize)


def build_reference(args: argparse.Namespace, extractor) -> tuple[Any, str]:
    """Return (reference statistics, a description) for --ref-npz or --ref-dataset."""
    wanted = protocol_id(extractor.weights_id, extractor.resize)
    if args.ref_npz:
        stats = load_reference_stats(args.ref_npz)
        check_reference_extractor(stats.key.get("extractor"), wanted, args.ref_npz)
        return stats, str(args.ref_npz)
    if args.ref_images:
        batches = folder_batches(args.ref_images, args.batch_size, args.image_size)
        return compute_reference_stats(batches, extractor, key={"extractor": wanted}), f"image folder {args.ref_images}"
    if args.ref_image_npz:
        images = load_npz_images(args.ref_image_npz, None, "auto")
        batches = (images[i : i + args.batch_size] for i in range(0, len(images), args.batch_size))
        return compute_reference_stats(batches, extractor, key={"extractor": wanted}), f"images {args.ref_image_npz}"
    resolution = 28 if args.ref_resolution is None and args.ref_dataset == "digits" else args.ref_resolution or 0
    return named_reference_stats(args.ref_dataset, extractor, cache_dir=args.cache_dir, batch_size=args.batch_size,
                                 image_size=resolution, split=args.ref_split, data_dir=args.ref_data_dir)


def metric_options(args: argparse.Namespace) -> dict[str, Any]:
    """The metrics' options: --kid-subset-size, --kid-subsets and each --metric-option NAME=VALUE (a Python literal,
    else a string)."""
    options: dict[str, Any] = dict(kid_subset_size=args.kid_subset_size, kid_subsets=args.kid_subsets)
    for item in args.metric_option:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--metric-option {item!r} is not NAME=VALUE; e.g. --metric-option pr_k=5.")
        try:
            options[name.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            options[name.strip()] = text.strip()
    return options


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = tool_parser("evaluate", __doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", type=Path, help="folder of image files")
    source.add_argument("--npz", type=Path, help=".npz file holding an image array")
    source.add_argument("--workdir", type=Path, help="training workdir (latest checkpoint)")
    source.add_argument("--checkpoint", type=Path, help="one checkpoint")
    reference = parser.add_mutually_exclusive_group(required=True)
    reference.add_argument("--ref-npz", type=Path, help="reference statistics .npz")
    reference.add_argument("--ref-dataset", help="all images of digits, a tfds name (cifar10), a prepared dataset, "
                           "a folder or an .npz: statistics computed once and cached by content")
    reference.add_argument("--ref-images", type=Path, help="folder of reference image files (not cached)")
    reference.add_argument("--ref-image-npz", type=Path, help=".npz of reference images (not cached)")
    parser.add_argument("--save-ref", type=Path, default=None, help="also write the reference statistics here")
    parser.add_argument("--ref-resolution", type=int, default=None,
                        help="resize --ref-dataset images to this (default: digits 28, others their own size)")
    parser.add_argument("--ref-split", default="train", help="tfds split of --ref-dataset")
    parser.add_argument("--ref-data-dir", default="", help="tfds data_dir of --ref-dataset (default: tfds's)")
    parser.add_argument("--extractor", choices=("inception", "digits"), default="inception")
    parser.add_argument("--resize", choices=RESIZE_MODES, default="legacy",
                        help="inception's resize to 299: legacy (pytorch-fid bilinear) or clean (clean-fid bicubic)")
    parser.add_argument("--inception-weights", type=Path,
                        help="FID Inception .npz (default: pytorch-fid's, downloaded and converted once into the "
                             "cache, ~/.cache/jaxgan or $JAXGAN_CACHE_DIR)")
    parser.add_argument("--classifier", type=Path, help="digit classifier .npz")
    parser.add_argument("--metrics", default=",".join(default_metrics()), help="comma list of registered image metrics")
    parser.add_argument("--metric-module", action="append", default=[],
                        help="import this module first, so that its @register_metric metrics can be named (repeatable)")
    parser.add_argument("--metric-option", action="append", default=[], metavar="NAME=VALUE",
                        help="an option of a registered metric, e.g. pr_k=5 or is_splits=1 (repeatable)")
    parser.add_argument("--kid-subset-size", type=int, default=1000,
                        help="KID subset size (both sets need at least this many samples)")
    parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets")
    parser.add_argument("--npz-key", default=None,
                        help="array name in --npz (default: samples, images or the only one)")
    parser.add_argument("--value-range", choices=("auto", *VALUE_RANGES), default="auto")
    parser.add_argument("--resolution", "--image-size", dest="image_size", type=int, default=None,
                        help="resize folder images to this")
    parser.add_argument("--num-samples", type=int, default=10000, help="for a checkpoint")
    parser.add_argument("--step", type=parse_step, default=None,
                        help="checkpoint of --workdir/--checkpoint to score: a step, latest (default) or best")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drs", action="store_true",
                        help="score samples kept by discriminator rejection sampling (a run's G and D)")
    parser.add_argument("--drs-percentile", type=float, default=95.0, help="DRS gamma: this percentile of F")
    parser.add_argument("--drs-burn-in", type=int, default=10_000, help="proposals fixing DRS's D_M, gamma")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the evaluation the command line describes and print its JSON."""
    args = parse_args(argv)
    if args.step is not None and not (args.workdir or args.checkpoint):
        raise ValueError("--step picks a checkpoint: give --workdir or --checkpoint with it.")
    if args.drs and not (args.workdir or args.checkpoint):
        raise ValueError("--drs samples a trained run through its D: give --workdir or --checkpoint, not image files.")
    check_percentile(args.drs_percentile)  # before the run is loaded
    import_metric_modules(args.metric_module, "--metric-module")
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    directions = {key: d for metric in get_metrics(metrics, "--metrics") for key, d in metric.keys.items()}
    extractor = build_extractor(args)
    reference, described = build_reference(args, extractor)
    check_request(metrics, reference, **metric_options(args))  # before any sample is drawn
    if args.save_ref:
        save_reference_stats(args.save_ref, reference)
    common = dict(extractor=extractor, reference_stats=reference, metrics=metrics, seed=args.seed,
                  **metric_options(args))
    if args.images or args.npz:
        if args.images:
            batches = folder_batches(args.images, args.batch_size, args.image_size)
        else:
            images = load_npz_images(args.npz, args.npz_key, args.value_range)
            batches = (images[i : i + args.batch_size] for i in range(0, len(images), args.batch_size))
        result = evaluate_batches(batches, **common)
    else:
        sample_fn, scored = load_sampler_from_checkpoint(args.checkpoint or args.workdir, args)
        result = evaluate_samples(sample_fn, num_samples=args.num_samples,
                                  batch_size=args.batch_size, **common)
        result.update(scored)
        if args.drs:
            result["drs_acceptance"] = sample_fn.acceptance_rate
    result["reference"] = described
    result["directions"] = directions  # per result key: min (lower is better), max, or null (a spread)
    result["protocol"] = eval_protocol(extractor, num_generated=result["num_samples"],
                                       num_reference=reference.count, reference=described, metrics=metrics)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    out = args.out or (args.workdir / "eval.json" if args.workdir else None)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return result


