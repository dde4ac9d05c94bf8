"""train.writers: metrics.jsonl, TensorBoard and Weights & Biases (offline), and one line for a bad choice."""

import json
import struct
import sys

import numpy as np
import pytest

from jaxgan.config import base_config, validate
from jaxgan.errors import JaxganError
from jaxgan.run.writers import WANDB_ID_FILE, MetricWriter, check_writers

ROWS = {1: {"Loss/D": 1.5, "Loss/G": 0.25}, 2: {"Loss/D": 1.25, "Loss/G": 0.5}, 3: {"eval/fid": 12.5}}


def write_rows(workdir, writers, config=None):
    writer = MetricWriter(workdir, writers=writers, config=config)
    for step, scalars in ROWS.items():
        writer.scalars(step, scalars)
    writer.image(3, "samples", np.zeros((8, 8, 3), np.uint8))
    writer.close()


def wandb_records(path):
    """The Records of a .wandb transaction log: a 7-byte header, then LevelDB-log blocks of 32 KiB whose chunks
    are (crc32 4, length 2, type 1, data); type 1 = a whole record, 2/3/4 = its first/middle/last chunk, 0 =
    zeroed space to skip."""
    from wandb.proto import wandb_internal_pb2

    data, block = path.read_bytes(), 32 * 1024
    assert data[:4] == b":W&B"
    records, pending, offset = [], b"", 7
    while offset + 7 <= len(data):
        if block - offset % block < 7:  # a block's tail too short for a chunk header is padding
            offset += block - offset % block
            continue
        _, length, kind = struct.unpack("<IHB", data[offset:offset + 7])
        if kind == 0:  # zeroed space (LevelDB's reserved type): the rest of this block holds no record
            offset += block - offset % block
            continue
        pending += data[offset + 7:offset + 7 + length]
        offset += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_jsonl_only_writes_no_tensorboard(tmp_path):
    write_rows(tmp_path, ("jsonl",))
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k not in ("step", "time")} for r in rows] == list(ROWS.values())
    assert not (tmp_path / "tensorboard").exists()


def test_wandb_offline_run_holds_the_logged_scalars(tmp_path, monkeypatch, capfd):
    pytest.importorskip("wandb")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("WANDB_MODE", "offline")
    workdir = tmp_path / "run"
    write_rows(workdir, ("wandb",), config={"train": {"batch_size": 8}})
    run_id = (workdir / WANDB_ID_FILE).read_text().strip()
    assert "wandb" not in capfd.readouterr().err  # W&B's own chatter stays off the terminal
    (log_file,) = (workdir / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb")
    records = wandb_records(log_file)
    history = {}
    for record in records:
        if record.WhichOneof("record_type") == "history":
            items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            history.setdefault(items.pop("_step"), {}).update({k: v for k, v in items.items() if k[0] != "_"})
    assert {step: history[step] for step in (1, 2)} == {1: ROWS[1], 2: ROWS[2]}
    assert history[3]["eval/fid"] == 12.5 and history[3]["samples/_type"] == "image-file"  # keys nest by "/"
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert {item.key: json.loads(item.value_json) for item in run.config.update}["train"] == {"batch_size": 8}
    assert not (workdir / "metrics.jsonl").exists()  # only the writers asked for


def test_missing_wandb_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    with pytest.raises(JaxganError, match=r"pip install 'jaxgan\[wandb\]'"):
        MetricWriter(tmp_path, writers=("jsonl", "wandb"))


@pytest.mark.parametrize("writers, message", [
    (("jsonl", "mlflow"), "Unknown writer 'mlflow' in train.writers"),
    ("wandb", "must be a tuple of writers"),
    (("jsonl", "jsonl"), "names a writer twice"),
])
def test_bad_writers_are_named(writers, message):
    with pytest.raises(ValueError, match=message):
        check_writers(writers)
    config = base_config()
    config.train.writers = writers if not isinstance(writers, str) else (writers,)
    if isinstance(writers, tuple):
        with pytest.raises(ValueError, match=message):
            validate(config)
