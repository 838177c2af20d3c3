"""Search spaces in RecBole's formats, checked before any trial starts, as Ray Tune domains.

Two forms, with RecBole's meaning (``HyperTuning._build_space_from_file`` / ``_from_dict``):

* ``hyper.test``: one ``name type values`` line per option, e.g.
  ``learning_rate loguniform -8,0`` or ``embedding_size choice [64,96,128]``;
* yaml: ``{type: {name: values}}``, e.g. ``choice: {embedding_size: [64, 96, 128]}``.

Types: ``choice [v, ...]``, ``uniform low,high``, ``quniform low,high,q`` and
``loguniform low,high``, whose bounds are natural logarithms as in hyperopt (``-8,0`` samples
from e^-8 to 1).
"""

import ast
import difflib
import math
from dataclasses import dataclass
from pathlib import Path

import yaml
from ray import tune

from recbole_seedrec.errors import UserError

KINDS = ("choice", "uniform", "quniform", "loguniform")
_BOUND_COUNT = {"uniform": 2, "loguniform": 2, "quniform": 3}

# Options the tuner sets itself, or that must stay fixed for trials to be comparable.
NOT_TUNABLE = {
    "model": "the model is --model",
    "dataset": "the data set is --dataset",
    "valid_metric": "trials are compared on one validation metric",
    "valid_metric_bigger": "trials are compared on one validation metric",
    "checkpoint_dir": "each trial gets its own checkpoint directory",
    "s2idm_save_path": "the tuner decides where S2IDM artifacts go",
}


class SearchSpaceError(UserError):
    """A search space that cannot be run, naming the file, the line and the fix."""


@dataclass(frozen=True)
class Parameter:
    """One tuned option. ``values`` are the choices, or the numeric bounds of its kind."""

    name: str
    kind: str
    values: tuple
    where: str  # "file:line" or "file: type.name", for error messages

    def is_integer_grid(self):
        """quniform over whole numbers: RecBole needs ints for sizes, hyperopt gives floats."""
        return self.kind == "quniform" and all(float(v).is_integer() for v in self.values)

    def domain(self, grid=False):
        """The Ray Tune domain (a grid over the choices when ``grid``)."""
        if self.kind == "choice":
            values = list(self.values)
            return tune.grid_search(values) if grid else tune.choice(values)
        if self.kind == "uniform":
            return tune.uniform(*self.values)
        if self.kind == "loguniform":
            low, high = self.values
            return tune.loguniform(math.exp(low), math.exp(high))
        low, high, q = self.values
        if self.is_integer_grid():
            return tune.qrandint(int(low), int(high), int(q))
        return tune.quniform(low, high, q)

    def largest(self):
        """The largest value a trial can get (for e.g. the number of epochs)."""
        if self.kind == "choice":
            numbers = [v for v in self.values if isinstance(v, (int, float))]
            return max(numbers) if numbers else None
        return math.exp(self.values[1]) if self.kind == "loguniform" else self.values[1]

    def describe(self):
        if self.kind == "choice":
            return f"{self.name}: choice {list(self.values)}"
        if self.kind == "loguniform":
            low, high = self.values
            return (
                f"{self.name}: loguniform e^{low:g}..e^{high:g} "
                f"= {math.exp(low):.3g}..{math.exp(high):.3g}"
            )
        kind = "quniform (int)" if self.is_integer_grid() else self.kind
        return f"{self.name}: {kind} {', '.join(f'{v:g}' for v in self.values)}"


def load_space(path):
    """Parse a space file (``.yaml``/``.yml``: the yaml form; anything else: ``hyper.test``)."""
    path = Path(path)
    if not path.is_file():
        raise SearchSpaceError(f"search space file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        parameters = _parse_yaml(text, path.name)
    else:
        parameters = _parse_lines(text, path.name)
    if not parameters:
        raise SearchSpaceError(f"{path.name}: no parameter to tune (the file is empty).")
    return parameters


def _parse_lines(text, file_name):
    parameters = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{file_name}:{number}"
        fields = line.split(None, 2)
        if len(fields) < 3:
            raise SearchSpaceError(
                f"{where}: malformed line '{line}': expected 'name type values', e.g. "
                "'learning_rate loguniform -8,0' or 'embedding_size choice [64,128]'."
            )
        name, kind, raw = fields
        # RecBole joins the rest without spaces, so "choice [1, 2]" and "uniform 0, 1" work.
        raw = "".join(raw.split()) if kind != "choice" else raw
        parameters.append(_parameter(name, kind, _values_from_text(kind, raw, where), where))
    return _without_duplicates(parameters)


def _values_from_text(kind, raw, where):
    if kind not in KINDS:
        return raw  # _parameter names the unknown type
    if kind == "choice":
        try:
            values = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            raise SearchSpaceError(
                f"{where}: choice values '{raw}' are not a Python list, e.g. [0.001, 0.01] "
                "or ['[64,64]', '[128]'] for list-valued options."
            ) from None
        return values
    try:
        return [float(value) for value in raw.split(",")]
    except ValueError:
        raise SearchSpaceError(
            f"{where}: {kind} bounds '{raw}' are not numbers separated by commas."
        ) from None


def _parse_yaml(text, file_name):
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise SearchSpaceError(f"{file_name}{line}: not valid yaml ({error}).") from None
    if document is None:
        return []
    if not isinstance(document, dict):
        raise SearchSpaceError(
            f"{file_name}: expected a mapping {{type: {{name: values}}}}, e.g. "
            "'choice: {embedding_size: [64, 128]}'."
        )
    parameters = []
    for kind, entries in document.items():
        if kind not in KINDS or not isinstance(entries, dict):
            raise SearchSpaceError(
                f"{file_name}: '{kind}' is not a type mapping option names to values; the "
                "yaml form is RecBole's {type: {name: values}}, e.g. "
                f"'uniform: {{dropout_prob: [0.1, 0.5]}}', with types {', '.join(KINDS)}."
            )
        for name, values in entries.items():
            where = f"{file_name}: {kind}.{name}"
            parameters.append(_parameter(str(name), str(kind), values, where))
    return _without_duplicates(parameters)


def _parameter(name, kind, values, where):
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SearchSpaceError(
            f"{where}: unknown type '{kind}'{hint}; types are {', '.join(KINDS)}."
        )
    if kind == "choice":
        if not isinstance(values, (list, tuple)):
            raise SearchSpaceError(f"{where}: choice takes a list, e.g. [0.001, 0.01].")
        if not values:
            raise SearchSpaceError(f"{where}: choice list for '{name}' is empty; give a value.")
        return Parameter(name, kind, tuple(_plain(v) for v in values), where)
    return Parameter(name, kind, _checked_bounds(kind, values, where), where)


def _checked_bounds(kind, values, where):
    count = _BOUND_COUNT[kind]
    shape = "low,high,q" if kind == "quniform" else "low,high"
    numbers_ok = isinstance(values, (list, tuple)) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )
    if not numbers_ok or len(values) != count:
        raise SearchSpaceError(f"{where}: {kind} takes {count} numbers ({shape}), got {values}.")
    bounds = tuple(float(v) for v in values)
    if bounds[0] >= bounds[1]:
        raise SearchSpaceError(
            f"{where}: {kind} needs low < high, got {bounds[0]:g},{bounds[1]:g}."
        )
    if kind == "quniform" and bounds[2] <= 0:
        raise SearchSpaceError(f"{where}: quniform needs a step q > 0, got {bounds[2]:g}.")
    return bounds


def _plain(value):
    """Tuples become lists, so that values go into yaml and JSON unchanged."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _without_duplicates(parameters):
    seen = {}
    for parameter in parameters:
        if parameter.name in seen:
            raise SearchSpaceError(
                f"{parameter.where}: '{parameter.name}' is already tuned at "
                f"{seen[parameter.name]}; keep one."
            )
        seen[parameter.name] = parameter.where
    return parameters


def check_names(parameters, known_options, fixed_overrides=()):
    """Reject options that no configuration defines, the tuner's own, and ones also fixed.

    ``known_options`` are the keys of the resolved base configuration: RecBole's defaults, this
    package's yaml, the model's and data set's yaml, and the user's config files and overrides.
    """
    known = set(known_options)
    for parameter in parameters:
        name = parameter.name
        if name in NOT_TUNABLE:
            raise SearchSpaceError(
                f"{parameter.where}: '{name}' cannot be tuned: {NOT_TUNABLE[name]}."
            )
        if name in fixed_overrides:
            raise SearchSpaceError(
                f"{parameter.where}: '{name}' is both tuned and fixed by --{name}=...; "
                "drop one of them."
            )
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.75)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise SearchSpaceError(
                f"{parameter.where}: unknown parameter '{name}'.{hint} Names are the options of "
                "RecBole, this package and the model's yaml (case-sensitive); to tune an option "
                "without a default, set it in a --config_files yaml first."
            )


def search_space(parameters, grid=False):
    """The ``param_space`` for Ray Tune: option name -> domain."""
    if grid:
        not_choice = [p.where for p in parameters if p.kind != "choice"]
        if not_choice:
            raise SearchSpaceError(
                f"--search grid needs choice lists only; {', '.join(not_choice)} is not. "
                "Use --search random, or list the values with choice."
            )
    return {parameter.name: parameter.domain(grid) for parameter in parameters}
