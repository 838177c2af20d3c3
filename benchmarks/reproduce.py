"""Reproduce the SeeDRec paper's Home table under the release's protocol, then switch the
release's choices back one at a time (the ladder of docs/reproducing-the-paper.md).

    python benchmarks/reproduce.py --data-path /tmp/seedrec-data
    python benchmarks/reproduce.py --data-path /tmp/seedrec-data --seed-list 2021,2023
    python benchmarks/reproduce.py --report-only

Every run is a ``benchmarks/compare.py`` run (one process each, one record each, resumed after
an interruption from its last validated epoch); the runs of one set of options share a folder
``<out>/<set>/``. Seeds go one after another, each through every set, so a partial ladder is
complete for its first seeds. Two commands with different ``--seed-list`` can run side by side.
The report, ``<out>/README.md``, is rebuilt from the records after every set and by
``--report-only``.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from comparison import BENCHMARKS_DIR, REPO
from comparison.records import load_records, write_text_atomic
from comparison.results import paired_test

from recbole_seedrec.atomic import replacing
from recbole_seedrec.trainer.test_audit import best_of_test

DATA = "amazon-home"
CONFIGS = BENCHMARKS_DIR / "configs" / "reproduction"
OPTIMISER, LOSS = "release-optimiser.yaml", "release-loss.yaml"
RELEASE_TRAINING = [OPTIMISER, LOSS]
# name: (models, config files, warm start from the same seed's SASRec of ``sasrec-bce``)
SETS = {
    "sasrec-bce": ("SASRec", RELEASE_TRAINING, False),
    "seedrec-release": ("SeeDRecSASRec", [*RELEASE_TRAINING, "release-prompts.yaml"], True),
    "seedrec-bce": ("SeeDRecSASRec", RELEASE_TRAINING, False),
    "seedrec-scratch": ("SeeDRecSASRec", [*RELEASE_TRAINING, "release-prompts.yaml"], False),
    "seedrec-prefix": ("SeeDRecSASRec", [*RELEASE_TRAINING, "raw-prompts.yaml"], False),
    "ce": ("SASRec,SeeDRecSASRec", [OPTIMISER], False),
}
# (rung, what it switches back, SASRec's (set, figure), SeeDRec's (set, figure), leaky)
# figure: "best_test" = the best test evaluation of the run (the release's selection on test);
# "test" = the validation-selected epoch evaluated on test once (this package's protocol).
RUNGS = [
    ("1. release protocol", "(all release choices on)", ("sasrec-bce", "best_test"),
     ("seedrec-release", "best_test"), True),
    ("2. validation selection", "test selection -> validation", ("sasrec-bce", "test"),
     ("seedrec-release", "test"), True),
    ("3. from scratch", "warm start -> from scratch", ("sasrec-bce", "test"),
     ("seedrec-scratch", "test"), True),
    ("4. prefix interests", "leak -> prefix", ("sasrec-bce", "test"),
     ("seedrec-prefix", "test"), False),
    ("5. backbone's injection", "raw prompts -> the backbone's", ("sasrec-bce", "test"),
     ("seedrec-bce", "test"), False),
    ("6. CE", "BCE/cosine -> CE", ("ce", "test"), ("ce", "test"), False),
]  # fmt: skip
PAPER = {"SASRec": 0.0962, "SeeDRecSASRec": 0.1036}  # Table 2, Home, NDCG@10
TOLERANCE = 0.05
METRICS = ("ndcg@10", "hit@10", "gauc")
DEFAULT_SEEDS = [2020, 2021, 2022, 2023, 2024]


def runs_dir(out, name):
    return Path(out) / name / DATA / "paper" / "runs"


def warm_start_path(out):
    return Path(out).resolve() / "warm-start" / "SASRec-seed{seed}.pth"


def shown(path):
    """``path`` relative to the repository when inside it (compare.py runs there), so the
    reports' regenerate commands hold no machine's paths."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def compare_command(out, name, seeds, args, report_only=False):
    models, files, warm = SETS[name]
    command = [
        sys.executable, shown(BENCHMARKS_DIR / "compare.py"), "--data", DATA, "--protocol",
        "paper", "--models", models, "--seed-list", ",".join(map(str, seeds)),
        "--config_files", *[shown(CONFIGS / f) for f in files], "--out", shown(Path(out) / name),
        "--data-path", args.data_path, "--threads", str(args.threads),
    ]  # fmt: skip
    if name == "sasrec-bce":
        command.append("--keep-checkpoints")  # the warm start's source
    if warm:
        command.append(f"--init_from={warm_start_path(out)}")
    if report_only:
        command.append("--report-only")
    return command


def keep_warm_start(out, seed):
    """Copy the best checkpoint of SASRec's run of ``seed`` to where ``init_from`` reads it."""
    target = Path(str(warm_start_path(out)).format(seed=seed))
    if target.is_file():
        return
    records = [r for r in load_records(runs_dir(out, "sasrec-bce")) if r["seed"] == seed]
    if not records or not Path(records[0].get("model_file") or "").is_file():
        raise SystemExit(
            f"error: {runs_dir(out, 'sasrec-bce')}: no kept checkpoint of SASRec seed {seed} to "
            "warm-start SeeDRec from (checkpoints are not committed). Delete that seed's SASRec "
            "record to train it again, then rerun."
        )
    with replacing(target) as partial:
        shutil.copyfile(records[0]["model_file"], partial)


def refresh_reports(args):
    """Every set's compare.py report, rebuilt from its records (no run)."""
    for name in SETS:
        seeds = sorted({r["seed"] for r in load_records(runs_dir(args.out, name))})
        if seeds:
            command = compare_command(args.out, name, seeds, args, report_only=True)
            subprocess.run(command, cwd=REPO, check=False, stdout=subprocess.DEVNULL)


def run_ladder(args):
    for seed in args.seed_list:
        for name in args.sets:
            if SETS[name][2]:
                keep_warm_start(args.out, seed)
            status = subprocess.call(compare_command(args.out, name, [seed], args), cwd=REPO)
            if status != 0:
                print(f"error: {name}, seed {seed}: compare.py exited {status}", file=sys.stderr)
                return status
            write_report(args)
    return 0


# ----- the report -------------------------------------------------------------------------


def figures(out, name, model, figure):
    """{seed: test results} of one model's runs in a set, read as ``figure``."""
    chosen = {}
    for record in load_records(runs_dir(out, name)):
        if record["model"] != model:
            continue
        if figure == "best_test":
            best = best_of_test(record.get("test_audit") or [])
            if best is not None:
                chosen[record["seed"]] = best["test"]
        else:
            chosen[record["seed"]] = record["test"]
    return chosen


def mean_std(values):
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}"


def rung_row(out, rung):
    label, switched, (sas_set, sas_fig), (see_set, see_fig), leaky = rung
    sasrec = figures(out, sas_set, "SASRec", sas_fig)
    seedrec = figures(out, see_set, "SeeDRecSASRec", see_fig)
    seeds = sorted(set(sasrec) & set(seedrec))
    test = paired_test(as_records(seedrec, seeds), as_records(sasrec, seeds), "ndcg@10")
    return {
        "rung": label + (" (leaky)" if leaky else ""),
        "switched": switched,
        "seeds": seeds,
        "sasrec": [sasrec[s]["ndcg@10"] for s in seeds],
        "seedrec": [seedrec[s]["ndcg@10"] for s in seeds],
        "sasrec_hit": [sasrec[s]["hit@10"] for s in seeds],
        "seedrec_hit": [seedrec[s]["hit@10"] for s in seeds],
        "test": test,
    }


def as_records(runs, seeds):
    return [{"seed": seed, "test": runs[seed]} for seed in seeds]


def gain_text(test):
    if test["relative_change"] is None:
        return "—", "—"
    p = "n/a" if test["p"] is None else f"{test['p']:.3g}"
    return f"{test['relative_change']:+.1%}", p


def change(values, previous):
    if not values or not previous:
        return "—"
    return f"{statistics.fmean(values) / statistics.fmean(previous) - 1:+.1%}"


def target_text(model, values):
    if not values:
        return f"{model}: no run yet"
    mean, paper = statistics.fmean(values), PAPER[model]
    hit = abs(mean / paper - 1) <= TOLERANCE
    return (
        f"{model}: {mean:.4f} against the paper's {paper:.4f} ({mean / paper - 1:+.1%}): "
        f"{'hit' if hit else 'missed'} (±{TOLERANCE:.0%}), {len(values)} seed(s)"
    )


def write_report(args):
    rows = [rung_row(args.out, rung) for rung in RUNGS]
    lines = [
        "# amazon-home: the paper's table under the release's protocol, and the ladder back",
        "",
        (
            "What each rung means, and what to conclude: `docs/reproducing-the-paper.md`. Test "
            "NDCG@10 and Hit@10, mean ± std over the seeds both models have finished; gain = "
            "SeeDRecSASRec / SASRec - 1, two-sided paired t-test over seeds "
            "(`scipy.stats.ttest_rel`). Rungs 1-3 are leaky: the targets' own sememes enter "
            "SeeDRec's training prompts."
        ),
        "",
        "Regenerate (finished runs are kept, interrupted ones resume):",
        "",
        "```bash",
        "python benchmarks/reproduce.py --data-path /tmp/seedrec-data",
        "```",
        "",
        (
            "| rung | switched back | seeds | SASRec NDCG@10 | SeeDRec NDCG@10 | gain | p "
            "| SASRec Hit@10 | SeeDRec Hit@10 |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        gain, p = gain_text(row["test"])
        lines.append(
            f"| {row['rung']} | {row['switched']} | {len(row['seeds'])} | "
            f"{mean_std(row['sasrec'])} | {mean_std(row['seedrec'])} | {gain} | {p} | "
            f"{mean_std(row['sasrec_hit'])} | {mean_std(row['seedrec_hit'])} |"
        )
    lines += [
        "",
        (
            "What each switch changes, relative to the rung above (mean NDCG@10 over that "
            "rung's seeds; the seeds may differ between rungs while the ladder is incomplete):"
        ),
        "",
        "| rung | SASRec | SeeDRec |",
        "|---|---|---|",
    ]
    for above, row in zip(rows, rows[1:]):
        lines.append(
            f"| {row['rung']} | {change(row['sasrec'], above['sasrec'])} | "
            f"{change(row['seedrec'], above['seedrec'])} |"
        )
    first = rows[0]
    lines += [
        "",
        "Rung 1 against the paper's Table 2 (Home, NDCG@10):",
        "",
        f"- {target_text('SASRec', first['sasrec'])}",
        f"- {target_text('SeeDRecSASRec', first['seedrec'])}",
        "",
        "Runs per set (records under `<set>/amazon-home/paper/runs/`):",
        "",
    ]
    for name, (models, files, warm) in SETS.items():
        done = sorted({r["seed"] for r in load_records(runs_dir(args.out, name))})
        extra = ", warm start from `sasrec-bce`'s checkpoint of the same seed" if warm else ""
        lines.append(
            f"- `{name}`: {models}, config files {', '.join(f'`{f}`' for f in files)}{extra}; "
            f"seeds finished: {', '.join(map(str, done)) or 'none'}"
        )
    path = Path(args.out) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="benchmarks/reproduce.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--data-path",
        default="/tmp/seedrec-data",
        help="folder holding amazon-home/ (recbole-seedrec prepare)",
    )
    parser.add_argument("--out", default=str(REPO / "results" / "amazon-home-reproduction"))
    parser.add_argument(
        "--seed-list",
        default=",".join(map(str, DEFAULT_SEEDS)),
        help="seeds, run one after another (default 2020-2024)",
    )
    parser.add_argument("--sets", default=",".join(SETS), help="which sets of runs, in order")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report only")
    args = parser.parse_args(argv)  # fmt: skip
    try:
        args.seed_list = [int(s) for s in args.seed_list.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seed-list: {args.seed_list!r} is not a comma-separated list of seeds")
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in args.sets if s not in SETS]
    if unknown:
        parser.error(f"--sets: unknown {', '.join(unknown)}; choose among {', '.join(SETS)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.report_only:
        refresh_reports(args)
        print(write_report(args))
        return 0
    return run_ladder(args)


if __name__ == "__main__":
    sys.exit(main())
