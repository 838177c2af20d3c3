"""What ``trim_memory_every`` costs and saves: the same training batches under several intervals.

Usage:
    python benchmarks/trim_cost.py --dataset amazon-home --data-path DIR [--model SASRec] \
        [--intervals 0 1 5 20] [--repeats 3] [--batches 1000] [--OPTION=VALUE ...]

Runs ``benchmarks/run_memory.py`` once per interval and repeat, each in its own process, the
intervals in turn within every repeat (so that a change in the machine's load falls on all of
them alike). From each run, its training batches' wall and process CPU seconds and their peak
resident memory. Prints each interval's medians and their ratios to the first interval's.
Other ``--OPTION=VALUE`` go to every run's config. One thread a run.
"""

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUMMARY = re.compile(r"training: (\d+) batches, ([\d.]+) s wall, ([\d.]+) s CPU, peak ([\d.]+) MiB")


def run_once(args, interval, extra):
    """(batches, wall s, CPU s, peak MiB) of one ``run_memory.py`` run."""
    command = [
        sys.executable, str(HERE / "run_memory.py"), "--model", args.model,
        "--dataset", args.dataset, "--data-path", args.data_path,
        "--batches", str(args.batches), f"--trim_memory_every={interval}", *extra,
    ]  # fmt: skip
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    found = SUMMARY.search(done.stdout)
    if done.returncode != 0 or found is None:
        tail = done.stderr[-2000:]
        raise SystemExit(f"error: run_memory.py, trim every {interval}: it failed.\n{tail}")
    batches, wall, cpu, peak = found.groups()
    return int(batches), float(wall), float(cpu), float(peak)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="SASRec")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-path", required=True)
    parser.add_argument("--intervals", type=int, nargs="+", default=[0, 1, 5, 20])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=1000, help="at most; an epoch ends sooner")
    args, extra = parser.parse_known_args()
    runs = {interval: [] for interval in args.intervals}
    for repeat in range(args.repeats):
        for interval in args.intervals:
            runs[interval].append(run_once(args, interval, extra))
            batches, wall, cpu, peak = runs[interval][-1]
            print(f"repeat {repeat + 1}, trim every {interval}: {batches} batches, {wall:.1f} s "
                  f"wall, {cpu:.1f} s CPU, peak {peak:,.0f} MiB", flush=True)  # fmt: skip
    medians = {
        interval: [statistics.median(run[i] for run in done) for i in (1, 2, 3)]
        for interval, done in runs.items()
    }
    base = medians[args.intervals[0]]
    print(f"\n{args.model} on {args.dataset}, medians of {args.repeats}; ratios to every "
          f"{args.intervals[0]}")  # fmt: skip
    print("| trim every | wall s | CPU s | peak MiB | wall ratio | CPU ratio | peak ratio |")
    print("|---|---|---|---|---|---|---|")
    for interval, (wall, cpu, peak) in medians.items():
        print(f"| {interval} | {wall:.1f} | {cpu:.1f} | {peak:,.0f} | {wall / base[0]:.3f} | "
              f"{cpu / base[1]:.3f} | {peak / base[2]:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
