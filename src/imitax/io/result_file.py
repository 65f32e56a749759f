"""The schema of a run folder's result.json, the one reader every command and `imitax.load` use.

The commands (`finish_run`) and `TrainResult.save` write result.json; these are the fields
imitax reads back, each checked for type and range before use (see docs/formats.md):

    command: str                       "train gail", "expert", "sweep gail", "python train bc", ...
    method, algo, backend: str         (backend "jax", "gymnasium" or "tabular")
    reference | references: {"random": number | null, "expert": number | null}   (NaN reads as null;
                                       `imitax expert` writes "random", "expected", "solved")
    compile_s, train_s: number >= 0 | null
    seed_normalized_scores: [finite number, ...]

A field that is absent reads as None; one that is present with the wrong type or value is a
`CheckpointError` naming the file, the field, the value and what was expected. Fields not
listed here are not read.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from imitax.errors import CheckpointError, os_reason
from imitax.schema import Fields, is_number

RESULT_FILE = "result.json"
BACKENDS = ("jax", "gymnasium", "tabular")
# the reference scores' keys: random and expert; `imitax expert` writes random with the task's
# expected and solved levels instead (its expert reference is its own return, in its policy's metadata)
REFERENCE_KEYS = ("random", "expert", "expected", "solved")


@dataclasses.dataclass(frozen=True)
class RunResultFile:
    """The checked fields of one result.json (None: absent; `exists` False: no file at all)."""

    path: Path
    exists: bool = False
    command: str | None = None
    method: str | None = None
    algo: str | None = None
    backend: str | None = None
    reference_random: float | None = None
    reference_expert: float | None = None
    has_reference: bool = False
    """whether the file holds reference scores (either may still be null: unknown)"""
    compile_s: float | None = None
    train_s: float | None = None
    seed_normalized_scores: tuple[float, ...] | None = None

    @property
    def reference(self) -> dict[str, float] | None:
        """{"random", "expert"} when both are known, else None (what `imitax eval` normalises with)."""
        if self.reference_random is None or self.reference_expert is None:
            return None
        return {"random": self.reference_random, "expert": self.reference_expert}


def read_result_file(run_dir: str | Path) -> RunResultFile:
    """`run_dir`/result.json, checked field by field (an empty record when the file is absent).

    Raises:
        CheckpointError: unreadable or invalid JSON, not a JSON object, or a field of the wrong
            type or out of range (the message names the file, field, value and expectation)."""
    path = Path(run_dir) / RESULT_FILE
    if not path.is_file():
        return RunResultFile(path)
    fields = Fields(read_json_object(path, "expected the result.json a run writes"), path)
    random, expert, has_reference = _reference(fields)
    scores = fields.numbers("seed_normalized_scores", default=None)
    return RunResultFile(path, True, fields.text("command", default=None), fields.text("method", default=None),
                         fields.text("algo", default=None), fields.text("backend", default=None, choices=BACKENDS),
                         random, expert, has_reference, fields.number("compile_s", default=None, low=0.0),
                         fields.number("train_s", default=None, low=0.0), scores)


def read_json_object(file: Path, expected: str) -> dict[str, Any]:
    """A run folder's JSON file as a dict ({} when absent); `expected` ends the message of a
    corrupted file.

    Raises:
        CheckpointError: unreadable, not valid JSON, or not a JSON object."""
    if not file.exists():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{file}: not valid JSON (a corrupted file?); {expected}") from None
    except OSError as error:
        raise CheckpointError(f"{file}: cannot be read ({os_reason(error)})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{file}: holds a {type(data).__name__}; expected a JSON object")
    return data


def _reference(fields: Fields) -> tuple[float | None, float | None, bool]:
    """(random, expert, present) from "references" (TrainResult.save) or "reference" (the commands)."""
    name = "references" if "references" in fields.data else "reference"
    value = fields.raw(name)
    if value is None:
        return None, None, False
    if not isinstance(value, dict) or set(value) - set(REFERENCE_KEYS):
        fields.fail(name, value, 'an object {"random": number or null, "expert": number or null} (an expert run: '
                    '"random", "expected", "solved")')
    reference = fields.section(name)
    scores = []
    for key in REFERENCE_KEYS:
        score = reference.raw(key)
        if score is not None and not (is_number(score) and not math.isinf(score)):
            reference.fail(key, score, "a finite number or null")
        scores.append(None if score is None or math.isnan(score) else float(score))  # NaN: unknown, as null
    return scores[0], scores[1], True
