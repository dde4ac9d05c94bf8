"""Train the small digit classifier that gives a domain FID and IS, and save it to an .npz file.

    jaxgan train-classifier --out runs/classifiers/digits28.npz            # sklearn digits
    jaxgan train-classifier --dataset mnist --out runs/classifiers/mnist.npz  # tfds MNIST
    jaxgan train-classifier --npz train.npz --test-npz heldout.npz --out runs/classifiers/mnist_t10k.npz

sklearn's digits ship with scikit-learn (no download); MNIST comes through tensorflow-datasets and
so needs a prepared tfds data dir or a network. `--npz` trains on an .npz of labelled images (keys `images` and
`labels`, as `jaxgan prepare --out X.npz` writes them from MNIST's IDX files), held out on `--test-npz` (else on a
seeded 20% of it). Prints the held-out accuracy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from jaxgan.errors import JaxganError
from jaxgan.metrics.classifier import (
    DigitClassifier,
    accuracy,
    feature_rms,
    load_digits_images,
    save_classifier,
    split_digits,
    train_classifier,
)
from jaxgan.tools.parsing import tool_parser


def load_mnist(data_dir: str | None) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]:
    """Return ((train images, labels), (test images, labels)) of MNIST in [-1, 1], 28x28x1."""
    import tensorflow_datasets as tfds

    def split(name: str) -> tuple[np.ndarray, np.ndarray]:
        data = tfds.as_numpy(tfds.load("mnist", split=name, batch_size=-1, data_dir=data_dir))
        return (data["image"].astype(np.float32) / 127.5 - 1.0, data["label"].astype(np.int32))

    try:
        return split("train"), split("test")
    except Exception as err:  # tfds raises many types when it can neither find nor download data
        raise SystemExit(f"could not load MNIST through tfds ({err}); use --dataset digits.") from err


def load_labelled_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images in [-1, 1] NHWC gray, int32 labels) of an .npz holding `images` (uint8 or [-1, 1]) and `labels`."""
    from jaxgan.data.sources import load_npz

    source = load_npz(str(path))
    images, labels = source.read(np.arange(source.num_examples))
    if labels is None:
        raise JaxganError(f"{path} has no 'labels' array; the classifier needs labelled images (jaxgan prepare "
                          "writes them from an IDX source with its labels file).")
    if images.shape[-1] != 1:
        raise JaxganError(f"{path} holds {images.shape[-1]}-channel images; the digit classifier reads gray ones.")
    lo, hi = source.value_range
    return (images.astype(np.float32) - lo) * (2.0 / (hi - lo)) - 1.0, labels


def check_args(args: argparse.Namespace) -> None:
    """Refuse values that would train nothing or crash later, before any data is loaded."""
    for flag, value in (("--steps", args.steps), ("--batch-size", args.batch_size),
                        ("--feature-dim", args.feature_dim), ("--resolution", args.image_size)):
        if value < 1:
            raise JaxganError(f"{flag} must be >= 1, got {value}" + (
                " (0 steps would write an untrained classifier)." if flag == "--steps" else "."))
    if not args.learning_rate > 0:
        raise JaxganError(f"--learning-rate must be > 0, got {args.learning_rate}.")
    try:
        widths = [int(w) for w in args.widths.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise JaxganError(f"--widths must be positive integers separated by commas (e.g. 32,64), got {args.widths!r}.")
    if args.out.is_dir():
        raise JaxganError(f"--out {args.out} is a folder; pass the .npz file to write, e.g. {args.out / 'digits.npz'}.")


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train, report held-out accuracy and save the classifier."""
    parser = tool_parser("train-classifier", __doc__)
    parser.add_argument("--out", type=Path, required=True, help="where to write the .npz")
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--npz", type=Path, default=None, help="train on this .npz of labelled images instead")
    parser.add_argument("--test-npz", type=Path, default=None, help="held-out .npz for --npz (default: 20%% of it)")
    parser.add_argument("--resolution", "--image-size", dest="image_size", type=int, default=28,
                        help="digits are upscaled to this")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--widths", default="32,64", help="conv widths, comma separated")
    parser.add_argument("--feature-dim", type=int, default=128, help="penultimate features")
    parser.add_argument("--data-dir", default=None, help="tfds data dir (MNIST only)")
    args = parser.parse_args(argv)
    check_args(args)

    if args.npz:
        images, labels = load_labelled_npz(args.npz)
        if args.test_npz:
            (train_x, train_y), (test_x, test_y) = (images, labels), load_labelled_npz(args.test_npz)
        else:
            (train_x, train_y), (test_x, test_y) = split_digits(images, labels, seed=args.seed)
        image_size = images.shape[1]
    elif args.dataset == "digits":
        images, labels = load_digits_images(args.image_size)
        (train_x, train_y), (test_x, test_y) = split_digits(images, labels, seed=args.seed)
        image_size = args.image_size
    else:
        (train_x, train_y), (test_x, test_y) = load_mnist(args.data_dir)
        image_size = 28
    widths = tuple(int(w) for w in args.widths.split(","))
    model = DigitClassifier(widths=widths, feature_dim=args.feature_dim)
    variables = train_classifier(train_x, train_y, model=model, steps=args.steps,
                                 batch_size=args.batch_size, learning_rate=args.learning_rate,
                                 seed=args.seed)
    acc = accuracy(model, variables, test_x, test_y)
    scale = feature_rms(model, variables, train_x)
    save_classifier(args.out, model, variables, image_size, feature_scale=scale)
    print(f"held-out accuracy {acc:.4f} on {len(test_x)} images; wrote {args.out}")
    return {"accuracy": acc}


