"""The interest cache's costs in whole SeeDRec runs: this tree's cache against another tree's.

Usage:
    python benchmarks/interest_cache_cost.py --dataset amazon-beauty --data-path DIR \
        --before-tree /tmp/before [--epochs 2] [--s2idm-epochs 2] [--seeds 2020 ...] \
        [--threads 1] [--out results/interest-cache] [--label now] [--OPTION=VALUE ...]

For each tree (``--before-tree``: a checkout of another commit, e.g. ``git worktree add
/tmp/before 4d244fa``; then this one), one ``SeeDRecSASRec`` run of the package's entry point,
in its own process, one after the other, with the data set's config
(``benchmarks/configs/<dataset>.yaml``), the same seed, ``--epochs`` and ``--s2idm-epochs``. From
each run: the cache's size and build time (its log line), the process's peak resident memory
(``os.wait4``), its wall time, and the test metrics. Then the ratios this tree / before.
Other ``--OPTION=VALUE`` go to this tree's run (name it with ``--label``). Each run's record is
a JSON file under ``--out`` (a rerun skips those done); the table goes to stdout. With several
``--seeds``, one pair of runs per seed, then the test metrics' mean and standard deviation over
the seeds, and whether this tree's mean lies within one standard deviation of before's.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from comparison.results import spread  # beside this script: mean and std over seeds

HERE = Path(__file__).resolve().parents[1]
CACHE_LINE = re.compile(r"interest cache: ([\d,]+) prefixes x ([\d,]+) (.*?), ([\d.]+) MiB, built in ([\d.]+)s")  # fmt: skip
TEST_LINE = re.compile(r"test result\W*: (\{.*\}|OrderedDict\(.*\))")


def run_once(tree, args, seed, extra):
    """One run of ``tree``'s entry point; returns its figures."""
    with tempfile.TemporaryDirectory() as work:
        command = [
            sys.executable, "-m", "recbole_seedrec", "--model", "SeeDRecSASRec",
            "--dataset", args.dataset,
            "--config_files", str(HERE / "benchmarks" / "configs" / f"{args.dataset}.yaml"),
            f"--data_path={args.data_path}", f"--checkpoint_dir={work}/saved",
            f"--epochs={args.epochs}", f"--s2idm_epochs={args.s2idm_epochs}",
            f"--seed={seed}", "--show_progress=False", *extra,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(args.threads)}
        start = time.perf_counter()
        with open(Path(work) / "out.log", "w") as log:
            process = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=log)
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        text = (Path(work) / "out.log").read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"error: {tree}: the run failed:\n{text[-3000:]}")
    cache = CACHE_LINE.search(text)
    test = TEST_LINE.search(text)
    metrics = dict(re.findall(r"'?([\w@]+)'?[:,]\s*\(?([\d.]+)", test.group(1))) if test else {}
    return {
        "tree": str(tree),
        "cache_rows": int(cache.group(1).replace(",", "")),
        "cache_width": int(cache.group(2).replace(",", "")),
        "cache_holds": cache.group(3),
        "cache_mib": float(cache.group(4)),
        "cache_build_s": float(cache.group(5)),
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "wall_s": wall,
        "test": {k: float(v) for k, v in metrics.items()},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-path", required=True)
    parser.add_argument("--before-tree", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--s2idm-epochs", type=int, default=2)
    parser.add_argument("--seeds", "--seed", type=int, nargs="+", default=[2020])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "interest-cache")
    parser.add_argument("--label", default="now", help="this tree's run's name (other options)")
    args, extra = parser.parse_known_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pairs = [run_pair(args, seed, extra) for seed in args.seeds]
    for seed, (before, now) in zip(args.seeds, pairs):
        print_pair(args, seed, before, now)
    if len(pairs) > 1:
        print_over_seeds(args, pairs)


def run_pair(args, seed, extra):
    """(before, this tree) records of one seed, run where no record exists yet."""
    records = []
    for label, tree in (("before", args.before_tree), (args.label, HERE)):
        path = args.out / f"{args.dataset}-{label}-seed{seed}-ep{args.epochs}.json"
        if path.exists():
            records.append(json.loads(path.read_text()))
            continue
        records.append(run_once(tree, args, seed, extra if label != "before" else []))
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(records[-1], indent=1))
        os.replace(partial, path)
    return records


def print_pair(args, seed, before, now):
    print(f"{args.dataset}: SeeDRecSASRec, {args.epochs} epoch(s), S2IDM {args.s2idm_epochs} "
          f"epoch(s), seed {seed}, {args.threads} thread(s)")  # fmt: skip
    print("| figure | before | now | now / before |")
    print("|---|---|---|---|")
    for key in ("cache_mib", "cache_build_s", "peak_rss_mib", "wall_s"):
        print(f"| {key} | {before[key]:,.1f} | {now[key]:,.1f} | {now[key] / before[key]:.3f} |")
    print(f"| cache holds | {before['cache_width']:,} {before['cache_holds']} | "
          f"{now['cache_width']:,} {now['cache_holds']} | |")  # fmt: skip
    for name, value in before["test"].items():
        print(f"| test {name} | {value:.4f} | {now['test'].get(name, float('nan')):.4f} | |")
    print()


def print_over_seeds(args, pairs):
    """Each test metric over the seeds: mean +- standard deviation (n - 1) of both trees, the
    difference of the means, and whether it is within before's standard deviation."""
    seeds = ", ".join(map(str, args.seeds))
    print(f"test metrics over seeds {seeds}: mean +- std")
    print(f"| metric | before | {args.label} | difference | within before's std |")
    print("|---|---|---|---|---|")
    for name in pairs[0][0]["test"]:
        before = spread(pair[0]["test"][name] for pair in pairs)
        now = spread(pair[1]["test"][name] for pair in pairs)
        difference = now["mean"] - before["mean"]
        print(
            f"| {name} | {before['mean']:.4f} +- {before['std']:.4f} | "
            f"{now['mean']:.4f} +- {now['std']:.4f} | {difference:+.4f} | "
            f"{'yes' if abs(difference) <= before['std'] else 'no'} |"
        )


if __name__ == "__main__":
    main()
