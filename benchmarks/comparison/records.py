"""One JSON record per finished (model, seed): where it lives, how it is written and resumed.

A record is written only once its run has finished, atomically, so its presence means "done":
a later invocation skips it. Every record carries the fingerprint of the inputs shared by all
runs of the folder (config files' contents, the protocol and profile settings, overrides); a
folder never mixes runs made with different inputs.
"""

import enum
import hashlib
import json
from pathlib import Path

from recbole_seedrec.atomic import write_text_atomic


class ComparisonError(ValueError):
    """A mistake in what the user asked for, reported in one line before any run."""


class Layout:
    """``<out>/<data>/<stem>.md|.json`` and ``<out>/<data>/<stem>/{runs,logs}/``."""

    def __init__(self, out, data, stem):
        self.folder = Path(out).resolve() / data  # absolute: each run works in its own folder
        self.stem = stem
        self.markdown = self.folder / f"{stem}.md"
        self.json = self.folder / f"{stem}.json"
        self.runs = self.folder / stem / "runs"
        self.logs = self.folder / stem / "logs"
        self.costs = self.folder / stem / "costs.json"

    def record(self, model, seed):
        return self.runs / f"{model}-seed{seed}.json"

    def work_dir(self, model, seed):
        """The run's working directory: RecBole's ./log, its console output, checkpoints."""
        return self.logs / f"{model}-seed{seed}"


def plain(value):
    """JSON-ready copy of a RecBole config value (enums, devices, tuples, numpy scalars)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return plain(value.item())
    return str(value)


def write_json_atomic(path, data):
    write_text_atomic(path, json.dumps(plain(data), indent=2, sort_keys=False) + "\n")


def read_json(path, hint=""):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ComparisonError(f"cannot read {path} ({error}){hint}") from error


def file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fingerprint(inputs):
    """Short hash of the shared inputs; paths are left out, file contents are in."""
    text = json.dumps(plain(inputs), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_records(runs_dir):
    """Every finished run's record in the folder, in file-name order."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    hint = "; delete it to run that model and seed again"
    return [read_json(path, hint) for path in sorted(runs_dir.glob("*.json"))]


def check_same_inputs(records, inputs, runs_dir, ignore=()):
    """Refuse to add runs to a folder whose records were made with other inputs (the keys in
    ``ignore`` left out of both sides)."""

    def kept(values):
        return {k: v for k, v in values.items() if k not in ignore}

    expected = fingerprint(kept(inputs))
    for record in records:
        theirs = kept(record.get("inputs", {}))
        if fingerprint(theirs) == expected:
            continue
        differing = sorted(k for k in set(theirs) | set(inputs) if theirs.get(k) != inputs.get(k))
        raise ComparisonError(
            f"{runs_dir} holds runs made with other inputs ({', '.join(differing) or 'unknown'}"
            f" differ, e.g. {record.get('model')} seed {record.get('seed')}); pass another "
            "--out, or delete that folder to start again"
        )
