"""The command: check everything, run what is not done yet, measure costs, write the report."""

import argparse
import functools
import sys
from datetime import datetime, timezone

from . import costs as cost_table
from . import few_shot
from .paper import no_published_figures, protocol_differences, published, targets
from .plan import DEFAULT_DATA_PATH, backbones_for, make_plan
from .protocols import HEADLINE_METRICS, PROTOCOLS, release_labels, trains_s2idm
from .records import ComparisonError, load_records, read_json, write_json_atomic
from .report import shown_command, shown_configs, write_reports
from .results import aggregate
from .resume import resume_note
from .schedule import planned_runs, run_all

USAGE_EXAMPLE = """\
example:
  python benchmarks/compare.py --data amazon-home --models SASRec,SeeDRec --seeds 5
  python benchmarks/compare.py --data amazon-home --models SASRec,SeeDRec --quick
Any other option is --key=value and is given to every run (after the protocol)."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="benchmarks/compare.py",
        description="Run models x seeds on one data set under one protocol; write "
        "<out>/<data>/<protocol>.md and .json (mean ± std, paired t-tests, costs, configs, "
        "published figures). Finished runs are kept: rerun the command to resume.",
        epilog=USAGE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # --seed=3 is an override to refuse, not an abbreviation of --seeds
    )
    parser.add_argument("--data", required=True, help="data set name, e.g. amazon-home")
    parser.add_argument(
        "--data-path",
        default=str(DEFAULT_DATA_PATH),
        help="folder holding <data>/<data>.inter (default: the repository's dataset/)",
    )
    parser.add_argument(
        "--models",
        default="SASRec,SeeDRec",
        help="comma-separated model names the entry point accepts; SeeDRec = SeeDRecSASRec",
    )
    parser.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default="paper",
        help="paper: 999 sampled negatives, NDCG/Hit and GAUC (SeeDRec's); full: every item "
        "ranked (DiffuRec's). Both leave-one-out, selected on validation NDCG@10",
    )
    parser.add_argument("--seeds", type=int, help="number of seeds from 2020 (default 5; quick 2)")
    parser.add_argument("--seed-list", help="explicit seeds, e.g. 1,2,3 (instead of --seeds)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="reduced profile: <= 5 epochs (patience 2), S2IDM <= 10 epochs, 2 seeds, shorter "
        "--costs; outputs named <protocol>-quick",
    )
    parser.add_argument(
        "--costs",
        action="store_true",
        help="(re)measure the slow costs: epoch-time ratio and sampled-evaluation speed-up",
    )
    parser.add_argument("--config_files", nargs="+", help="yaml files for every run")
    parser.add_argument(
        "--model-config",
        nargs="+",
        metavar="MODEL=FILE",
        help="a yaml file for one model's runs only, after the others (e.g. a peer's published "
        "hyper-parameters): DiffuRec=recbole_seedrec/properties/model/DiffuRec.yaml",
    )
    parser.add_argument("--out", default="results", help="output folder (default results/)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at once, each in its own process (default 1); with more than 1, each run "
        "gets cores / jobs torch threads unless --threads says otherwise",
    )
    parser.add_argument("--threads", type=int, help="torch threads per run")
    parser.add_argument(
        "--keep-checkpoints", action="store_true", help="keep each run's checkpoints"
    )
    parser.add_argument(
        "--few-shot",
        type=int,
        metavar="N",
        help="also report the test users with at most N distinct sememes before their test "
        "item: new runs measure it, finished runs from their kept checkpoints",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check everything, list the runs, run nothing"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild the report from the finished runs' records; run and measure nothing",
    )
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args, overrides = parser.parse_known_args(argv)
    from recbole_seedrec.config import ConfigError

    try:
        plan = make_plan(args, overrides)
    except (ComparisonError, ConfigError, FileNotFoundError) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    command = shown_command("compare.py", argv)
    print(
        f"{plan.data}, {plan.protocol} protocol{' (QUICK profile)' if plan.quick else ''}: "
        f"{len(plan.models)} models x {len(plan.seeds)} seeds -> {plan.layout.markdown}",
        flush=True,
    )
    if args.dry_run:
        for model, seed in planned_runs(plan):
            done = plan.layout.record(model, seed).exists()
            extra = few_shot.dry_run_note(plan, model, seed) if done else ""
            if not done:
                extra = resume_note(plan.spec(model, seed), " (resumes after epoch {epoch})")
            print(f"  {model} seed {seed}: {'done' if done else 'to run'}{extra}")
        return 0
    if args.report_only:
        if not load_records(plan.layout.runs):
            print(
                f"error: --report-only: no finished run in {plan.layout.runs}; "
                "run the command without --report-only first",
                file=sys.stderr,
            )
            return 2
        write_report(plan, command, [], load_costs(plan))
        print(f"wrote {plan.layout.markdown} and {plan.layout.json} (no run)")
        return 0
    failed = []
    try:
        run_all(plan, failed, lambda failed: write_report(plan, command, failed, load_costs(plan)))
        if plan.few_shot is not None:
            few_shot.add_to_finished_runs(plan, failed)
        write_report(plan, command, failed, load_costs(plan))  # the runs' tables, whatever follows
        costs = measure_costs(plan, args.costs)
    except KeyboardInterrupt:
        write_report(plan, command, failed, load_costs(plan))
        print(f"interrupted; rerun to resume: {command}", file=sys.stderr)
        return 130
    write_report(plan, command, failed, costs)
    print(f"wrote {plan.layout.markdown} and {plan.layout.json}")
    return 1 if failed else 0


# ----- costs ----------------------------------------------------------------------------------


def load_costs(plan):
    path = plan.layout.costs
    if path.is_file():
        costs = read_json(path)
        if costs.get("fingerprint") == plan.fingerprint:
            return costs
    return {"fingerprint": plan.fingerprint}


def measure_costs(plan, slow):
    """The parameter ratio when missing (cheap); the benchmarks when ``slow`` (--costs)."""
    from recbole_seedrec.registry import get_model

    costs = load_costs(plan)
    s2idm_models = [m for m in plan.models if trains_s2idm(get_model(m))]
    steps = []
    if s2idm_models and (slow or "parameters" not in costs):
        config_dict = plan.run_config_dict(plan.seeds[0], plan.layout.work_dir("costs", 0))
        count = functools.partial(
            cost_table.s2idm_vs_diffrec_parameters,
            s2idm_models[0],
            plan.data,
            plan.config_files,
            config_dict,
            plan.overrides,
        )
        steps.append(("parameters", count))
    if slow:
        for model, pairs in cost_table.EPOCH_PAIRS.items():
            for index, pair in enumerate(pairs):
                backbone = cost_table.epoch_pair_backbone(pair)
                if model in plan.models and backbone in plan.configs:
                    key = model if index == 0 else f"{model}, {pair}"  # costs.json's keys
                    steps.append((f"epoch_time/{key}", _epoch_step(plan, model, pair, backbone)))
        steps.append(
            ("sampled_eval", functools.partial(cost_table.sampled_eval_speedup, plan.quick))
        )
    for name, step in steps:
        print(f"costs: measuring {name} ...", flush=True)
        with cost_table.thread_count(plan.threads):
            value = step()
        group, _, key = name.partition("/")
        if key:
            costs.setdefault(group, {})[key] = value
        else:
            costs[group] = value
        write_json_atomic(plan.layout.costs, costs)  # each measurement kept as soon as made
    return costs


def _epoch_step(plan, model, pair, backbone):
    return functools.partial(
        cost_table.epoch_time_ratio,
        pair,
        plan.data,
        plan.data_path,
        plan.configs[backbone],
        plan.configs[model].get("SEMEME_FIELD"),
        plan.quick,
    )


# ----- report ---------------------------------------------------------------------------------


def write_report(plan, command, failed, costs):
    """Rebuilt from every record in the folder: the same tables whatever ran this time."""
    records = load_records(plan.layout.runs)
    models = list(dict.fromkeys(plan.models + [r["model"] for r in records]))
    headline = HEADLINE_METRICS[plan.protocol]
    backbones = backbones_for(models)
    summary = aggregate(records, plan.models, backbones, headline)
    configs = {}
    for record in sorted(records, key=lambda r: r["seed"]):
        configs.setdefault(record["model"], record["config"])
    configs = {m: configs[m] for m in summary["models"]}
    example = configs.get("SeeDRecSASRec") or plan.configs.get("SeeDRecSASRec")
    example = example or next(iter(configs.values()), None) or plan.configs[plan.models[0]]
    seeds = sorted({r["seed"] for r in records})
    report = {
        "data": plan.data,
        "protocol": plan.protocol,
        "quick": plan.quick,
        "seeds": plan.seeds,
        "seeds_run": seeds,
        "command": command,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": plan.inputs,
        "fingerprint": plan.fingerprint,
        "model_config_files": {
            model: plan.inputs_for(model)["model_config_files"] for model in plan.model_config_files
        },
        "headline": headline,
        "aggregate": summary,
        "few_shot": few_shot.summarise(records, plan.models, backbones, headline),
        "failed": failed,
        "published": published(plan.data, plan.protocol),
        "no_published": no_published_figures(plan.data, plan.protocol),
        "protocol_differences": protocol_differences(
            plan.data, plan.protocol, example, seeds, plan.quick
        ),
        "targets": targets(
            plan.data,
            plan.protocol,
            summary["models"],
            summary["paired_tests"],
            summary["best_model"],
            plan.quick,
        ),
        "costs": {**costs, "runs": cost_table.run_costs(summary["models"])},
        "configs": shown_configs(configs),
        "release_labels": {m: release_labels(c) for m, c in configs.items() if release_labels(c)},
    }
    write_reports(plan.layout, report)
    return report
