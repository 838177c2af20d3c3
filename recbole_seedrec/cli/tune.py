"""``recbole-seedrec tune`` (and ``run_hyper_seedrec.py``): the search's command line.

Parses and checks the arguments, then plans or resumes the search of
:mod:`recbole_seedrec.tune.search` and prints where its summary went.
"""

import argparse
import os
import sys

from recbole_seedrec.cli.arguments import (
    USER_ERRORS,
    add_model_arguments,
    parse_with_overrides,
    split_config_files,
)
from recbole_seedrec.tune import SearchSpaceError
from recbole_seedrec.tune.search import load_record, plan_search, run_search
from recbole_seedrec.tune.summary import BEST_CONFIG, INTERRUPTED, NOT_STARTED, SUMMARY_MD


def build_parser(prog):
    parser = argparse.ArgumentParser(
        prog=prog,
        allow_abbrev=False,  # --num=... must stay an override, not become --num_samples
        description="Search RecBole or recbole-seedrec options with Ray Tune, selecting on "
        "the validation metric. Any other option is given as --key=value and is fixed for "
        "every trial.",
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--params_file", help="search space: RecBole's hyper.test lines, or .yaml/.yml"
    )
    parser.add_argument(
        "--search",
        choices=("random", "grid"),
        default="random",
        help="random samples, or every combination of choice lists",
    )
    parser.add_argument(
        "--num_samples",
        type=int,
        help="trials (random; default 10), or repeats of the grid (default 1)",
    )
    parser.add_argument(
        "--scheduler",
        choices=("asha", "fifo"),
        default="asha",
        help="asha stops trials that validate badly early; fifo runs all",
    )
    parser.add_argument(
        "--grace_period",
        type=int,
        default=1,
        help="ASHA: epochs every trial gets before it can be stopped",
    )
    parser.add_argument(
        "--reduction_factor",
        type=int,
        default=2,
        help="ASHA: keep the best 1/factor of trials at each rung",
    )
    parser.add_argument("--max_concurrent", type=int, help="most trials at once")
    parser.add_argument("--cpus_per_trial", type=float, default=1.0)
    parser.add_argument(
        "--gpus_per_trial",
        type=float,
        help="default 1 when Ray sees a GPU, else 0; 0.5 puts two per GPU",
    )
    parser.add_argument(
        "--num_cpus", type=int, help="CPUs of the local Ray instance (default: all of this machine)"
    )
    parser.add_argument("--address", help="join this Ray cluster (e.g. auto) instead")
    parser.add_argument(
        "--storage_path", default="ray_results", help="results go to <storage_path>/<name>/"
    )
    parser.add_argument("--name", help="default <model>-<dataset>-<time>")
    parser.add_argument(
        "--no_s2idm_sharing",
        action="store_true",
        help="train S2IDM in every trial instead of once per S2IDM setting",
    )
    parser.add_argument(
        "--resume",
        metavar="EXPERIMENT_DIR",
        help="continue an interrupted search (its own settings are reused)",
    )
    parser.add_argument(
        "--retry_failed", action="store_true", help="with --resume: run failed trials again"
    )
    return parser


def main(argv=None, prog="run_hyper_seedrec.py"):
    """Run the search command; returns nothing, as console scripts pass the return value to
    sys.exit."""
    search_from_command_line(argv, prog)


def search_from_command_line(argv=None, prog="run_hyper_seedrec.py"):
    """Parse, check, run (or resume) and summarise; returns the summary's rows and best row."""
    parser = build_parser(prog)
    args, overrides = parse_with_overrides(parser, sys.argv[1:] if argv is None else argv)
    try:
        if args.resume:
            record = load_record(args.resume)
        else:
            args.config_files = split_config_files(args.config_files)
            record = plan_search(args, overrides)
        rows, best = run_search(record, args)
    except (*USER_ERRORS, SearchSpaceError) as error:
        parser.exit(2, f"error: {error}\n")
    experiment_dir = record["experiment_dir"]
    print(f"\nsummary of {len(rows)} trial(s): {os.path.join(experiment_dir, SUMMARY_MD)}, .csv")
    if best is not None:
        print(
            f"best trial {best['trial']}: valid {record['metric']} = "
            f"{best['valid ' + record['metric']]}; {os.path.join(experiment_dir, BEST_CONFIG)}"
        )
    if any(row["status"] in (INTERRUPTED, NOT_STARTED) for row in rows):
        print(f"interrupted: continue with --resume {experiment_dir}")
    return rows, best
