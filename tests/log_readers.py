"""Read back what the loggers wrote, without TensorBoard or a wandb server: TensorBoard event
files (TFRecord framing of `Event` protos) and wandb's offline `.wandb` file (LevelDB log
framing of `Record` protos). CRCs are not checked: these read files the test just wrote."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

_WANDB_BLOCK = 32 * 1024
_WANDB_HEADER = 7  # ":W&B", a 2-byte magic, a version byte
_RECORD_HEADER = 7  # crc32 (4), length (2, little endian), type (1)
_FULL, _LAST = 1, 4


def tensorboard_events(path: Path) -> list[Any]:
    """Every `Event` in one event file, in order."""
    from tensorboardX.proto.event_pb2 import Event

    data, position, events = path.read_bytes(), 0, []
    while position < len(data):
        (length,) = struct.unpack("<Q", data[position:position + 8])
        position += 12  # length, its crc
        event = Event()
        event.ParseFromString(data[position:position + length])
        events.append(event)
        position += length + 4  # data, its crc
    return events


def tensorboard_scalars(path: Path) -> dict[str, dict[int, float]]:
    """tag -> {step: value} of the scalar summaries in an event file."""
    scalars: dict[str, dict[int, float]] = {}
    for event in tensorboard_events(path):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                scalars.setdefault(value.tag, {})[event.step] = value.simple_value
    return scalars


def tensorboard_hparams(path: Path) -> tuple[dict[str, Any], list[str]]:
    """(hyperparameter name -> value, metric names) of the HParams records in an event file."""
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    hparams: dict[str, Any] = {}
    metrics: list[str] = []
    for event in tensorboard_events(path):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name != "hparams":
                continue
            data = HParamsPluginData()
            data.ParseFromString(value.metadata.plugin_data.content)
            if data.HasField("session_start_info"):
                for name, item in data.session_start_info.hparams.items():
                    hparams[name] = getattr(item, item.WhichOneof("kind"))
            if data.HasField("experiment"):
                metrics = [info.name.tag for info in data.experiment.metric_infos]
    return hparams, metrics


def wandb_records(path: Path) -> list[Any]:
    """Every `Record` in an offline run's `.wandb` file."""
    from wandb.proto.wandb_internal_pb2 import Record

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a wandb run file"
    position, pending, records = _WANDB_HEADER, b"", []
    while position + _RECORD_HEADER <= len(data):
        room = _WANDB_BLOCK - position % _WANDB_BLOCK
        if room < _RECORD_HEADER:  # a block's tail too short for a header is padding
            position += room
            continue
        length, kind = struct.unpack("<HB", data[position + 4:position + _RECORD_HEADER])
        if kind == 0:
            break
        pending += data[position + _RECORD_HEADER:position + _RECORD_HEADER + length]
        position += _RECORD_HEADER + length
        if kind in (_FULL, _LAST):
            record = Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def wandb_history(path: Path) -> list[dict[str, Any]]:
    """The rows `run.log` wrote (with wandb's `_step`), in order."""
    return [{item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            for record in wandb_records(path) if record.WhichOneof("record_type") == "history"]


def wandb_config(path: Path) -> dict[str, Any]:
    """The run's config as given to `wandb.init`."""
    for record in wandb_records(path):
        if record.WhichOneof("record_type") == "run":
            return {item.key: json.loads(item.value_json) for item in record.run.config.update if item.key != "_wandb"}
    raise AssertionError(f"{path}: no run record")
