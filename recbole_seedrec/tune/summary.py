"""The search's record: one row per trial (summary.csv, summary.md) and the best config's yaml.

Trials are ranked on their best validation score only; test metrics are shown for the record.
"""

import ast
import csv
import io
import json
import math
import os
from pathlib import Path

import yaml

from recbole_seedrec.atomic import write_text_atomic
from recbole_seedrec.tune.trial import (
    BEST_VALID,
    EPOCHS_RUN,
    FINISHED,
    MODEL_FILE,
    S2IDM_PATH,
    TEST_PREFIX,
)

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
BEST_CONFIG = "best_config.yaml"

COMPLETED = "completed"
STOPPED = "stopped early"  # by the scheduler (ASHA)
FAILED = "failed"
INTERRUPTED = "interrupted"  # Ctrl-C: --resume runs it again
NOT_STARTED = "not started"
SELECTABLE = (COMPLETED, STOPPED)


def trial_rows(results, parameter_names, metric):
    """One dict per trial of a Ray ``ResultGrid``, in trial order."""
    rows = [_row(result, parameter_names, metric) for result in results]
    return sorted(rows, key=lambda row: row["trial"])


def _row(result, parameter_names, metric):
    metrics = result.metrics or {}
    params = result.config or _params_file(result.path)
    error = result.error
    if error is not None:
        status = FAILED
    elif metrics.get(FINISHED):
        status = COMPLETED
    elif metrics.get(EPOCHS_RUN):
        status = STOPPED if metrics.get("done") else INTERRUPTED
    else:
        status = NOT_STARTED
    row = {"trial": metrics.get("trial_id") or Path(result.path).name, "status": status}
    row.update({name: params.get(name) for name in parameter_names})
    row[f"valid {metric}"] = metrics.get(BEST_VALID)
    row["epochs"] = metrics.get(EPOCHS_RUN)
    row.update({key: value for key, value in metrics.items() if key.startswith(TEST_PREFIX)})
    row["error"] = _last_line(error) if error is not None else None
    row[MODEL_FILE] = metrics.get(MODEL_FILE)
    row[S2IDM_PATH] = metrics.get(S2IDM_PATH)
    return row


def _params_file(trial_path):
    """A trial that never reported has no config in its results; Ray wrote it at start."""
    path = Path(trial_path) / "params.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _last_line(error):
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def best_row(rows, metric, mode):
    """The trial with the best validation score among those that ran to their end or were
    stopped by the scheduler (a failed or interrupted trial's config never finished a run);
    None when there is none."""
    key = f"valid {metric}"
    scored = [row for row in rows if row["status"] in SELECTABLE and _is_number(row[key])]
    if not scored:
        return None
    pick = max if mode == "max" else min
    return pick(scored, key=lambda row: row[key])


def _is_number(value):
    return isinstance(value, (int, float)) and not math.isnan(value)


def columns(rows):
    """Every key of every row, in first-seen order (test metrics differ per model)."""
    seen = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def to_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_markdown(rows, record, best):
    metric, mode = record["metric"], record["mode"]
    shown = [c for c in columns(rows) if c not in (MODEL_FILE, S2IDM_PATH)]
    key = f"valid {metric}"
    ranked = sorted(rows, key=lambda row: _rank(row[key], mode))
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    statuses = ", ".join(f"{n} {status}" for status, n in counts.items())
    selection = (
        f"Selection: best validation {metric} ({mode}) of each trial; test metrics are "
        "computed once per completed trial, for the record, and play no part in it."
    )
    trials = (
        f"Trials: {len(rows)} ({statuses}); scheduler {record['scheduler']}, "
        f"space {record['space_file']}."
    )
    lines = [f"# Search {record['name']}: {record['model']} on {record['dataset']}", ""]
    if record.get("protocol"):  # searches recorded before protocols had names lack it
        lines += [record["protocol"] + ".", ""]
    lines += [selection, "", trials, ""]
    if best is not None:
        lines += [
            f"Best trial: {best['trial']}, valid {metric} = {best[key]}: `{BEST_CONFIG}`.",
            "",
        ]
    lines.append("| " + " | ".join(shown) + " |")
    lines.append("|" + "---|" * len(shown))
    for row in ranked:
        lines.append("| " + " | ".join(_cell(row.get(column)) for column in shown) + " |")
    return "\n".join(lines) + "\n"


def _rank(value, mode):
    if not _is_number(value):
        return (1, 0.0)
    return (0, -value if mode == "max" else value)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def best_config(record, best, parameter_names):
    """A config file that reruns the best trial alone with run_recbole_seedrec.py."""
    options = {"model": record["model"], "dataset": record["dataset"]}
    options.update(record["file_options"])
    options.update(record["setup"]["fixed"])
    options.update({name: as_config_value(best[name]) for name in parameter_names})
    if best.get(S2IDM_PATH):
        options[S2IDM_PATH] = best[S2IDM_PATH]  # the S2IDM it trained with, not a new one
    metric = record["metric"]
    header = (
        f"# Best trial {best['trial']} of search {record['name']}: valid {metric} = "
        f"{best['valid ' + metric]}.\n"
        f"# python run_recbole_seedrec.py --model {record['model']} --dataset "
        f"{record['dataset']} --config_files {BEST_CONFIG}\n"
    )
    return header + yaml.safe_dump(_plain(options), sort_keys=False)


def as_config_value(value):
    """The value a trial got: RecBole's Config evaluates strings of its config_dict (choice
    ['[64,64]', '[128]'] gives lists, as in RecBole's HyperTuning), a yaml file does not."""
    if not isinstance(value, str):
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _plain(value):
    """numpy scalars and tuples as yaml's own types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def write_summary(experiment_dir, results, record):
    """Write summary.csv, summary.md and, when a trial validated, best_config.yaml."""
    names = record["parameters"]
    rows = trial_rows(results, names, record["metric"])
    best = best_row(rows, record["metric"], record["mode"])
    write_text_atomic(os.path.join(experiment_dir, SUMMARY_CSV), to_csv(rows))
    write_text_atomic(os.path.join(experiment_dir, SUMMARY_MD), to_markdown(rows, record, best))
    if best is not None:
        write_text_atomic(
            os.path.join(experiment_dir, BEST_CONFIG), best_config(record, best, names)
        )
    return rows, best
