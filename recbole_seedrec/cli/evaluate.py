"""``recbole-seedrec evaluate``: a checkpoint's test metrics, again, with few-shot users if asked.

    recbole-seedrec evaluate --model-file saved/SASRec-....pth --few_shot_max_sememes=5

The checkpoint's own config is used; only the options below may change it (where the data
lives, which sememes to count, the few-shot threshold, the evaluation batch size, and how
sampled negatives are drawn: ``--eval_negatives=unseen`` re-reads a model trained and selected
under RecBole's sampler with distinct negatives the user never interacted with). Sampled
negatives are drawn again (RecBole's sampler reads the global random state, seeded from the
run's ``seed``), so under ``uniN`` the full-set metrics can differ slightly from the run's own;
the few-shot metrics always come from the same evaluation as the full-set ones printed beside.
``--json FILE`` also writes the result (plain numbers; an existing FILE only with ``--force``).
"""

import json
import sys
from pathlib import Path

import numpy as np

from recbole_seedrec.atomic import write_text_atomic
from recbole_seedrec.checkpoint_eval import UPDATABLE, evaluate_checkpoint
from recbole_seedrec.cli.arguments import USER_ERRORS, CommandParser
from recbole_seedrec.config import FEW_SHOT_OPTION
from recbole_seedrec.errors import UserError, exit_with


def _metrics(result):
    if result is None:
        return "none (no test user qualifies)"
    return "  ".join(f"{key} {value:.4f}" for key, value in result.items())


def print_result(result, out=None):
    out = out or sys.stdout
    print(
        f"{result['model']} on {result['dataset']}, seed {result['seed']}: {result['model_file']}",
        file=out,
    )
    print(result["protocol"], file=out)
    print(f"test, all users: {_metrics(result['test_result'])}", file=out)
    if "few_shot_max_sememes" in result:
        print(
            f"test, few-shot users (<= {result['few_shot_max_sememes']} distinct sememes before "
            f"the test item; {result['few_shot_users']:,} of {result['test_users']:,}): "
            f"{_metrics(result['test_result_few_shot'])}",
            file=out,
        )


def check_json_path(path, force=False):
    """Before the evaluation: refuse a ``--json`` path that cannot be written, or that would
    replace a file without ``force``."""
    path = Path(path)
    where = f"--json {path}"
    if path.is_dir():
        raise UserError(where, "is a folder", f"Give a file name, e.g. --json {path / 'x.json'}.")
    if not path.parent.is_dir():
        what = f"{path.parent} is a file" if path.parent.exists() else "does not exist"
        raise UserError(where, f"its folder {what}", "Create the folder first, or give another.")
    if path.exists() and not force:
        raise UserError(where, "exists", "Give --force to replace it, or another file name.")


def _plain(value):
    """``json``'s fallback: numpy scalars (RecBole's GAUC is a float32) as the number printed."""
    if isinstance(value, np.floating):
        return float(str(value))
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_json(result, path):
    """``result`` as JSON, written to a temporary file and renamed onto ``path``."""
    write_text_atomic(path, json.dumps(result, indent=2, default=_plain) + "\n")


def main(argv=None, prog="recbole-seedrec evaluate"):
    parser = CommandParser(
        prog=prog,
        description="Evaluate a saved checkpoint on its test split. Options given as "
        f"--key=value: {', '.join(UPDATABLE)} (e.g. --{FEW_SHOT_OPTION}=5 also reports the "
        "test users whose history has at most 5 distinct sememes).",
    )
    parser.add_argument("--model-file", required=True, help="checkpoint (.pth) of any model")
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("--force", action="store_true", help="replace an existing --json file")
    args, overrides = parser.parse_known_args(argv)
    updates = {}
    for arg in overrides:
        key, sep, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if not key or not sep:
            parser.error(f"unrecognised argument '{arg}': options take the form --key=value")
        updates[key] = value
    try:
        if args.json:
            check_json_path(args.json, args.force)
        updates = _typed(updates)
        result = evaluate_checkpoint(args.model_file, updates)
        print_result(result)
        if args.json:
            write_json(result, args.json)
    except (*USER_ERRORS, UserError) as error:
        exit_with(error)
    return 0


def _typed(updates):
    """``--key=value`` strings to values, as RecBole reads its command line."""
    from recbole.config import Config as RecBoleConfig

    return RecBoleConfig._convert_config_dict(None, updates)
