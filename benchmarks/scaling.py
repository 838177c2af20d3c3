"""Costs as the data grows: a data set replicated 1x, 2x, 4x, 8x under new user ids.

Usage: python benchmarks/scaling.py --dataset amazon-home --data-path /tmp/seedrec-data \
           --factors 1 2 4 8 --out results/scaling [--max-batches 30] [--threads 1]

Each copy of a user is a new user (``<id>~k``) with the same items and times; the items, and so
the sememe vocabulary, stay as they are. For each factor and model (SASRec, SeeDRecSASRec) one
process, so that its peak resident memory is its own, measures with ``benchmarks/epoch_time.py``'s
build (Home's SASRec sizes: hidden 64, 2 layers, length 50, batches of 1,024):
- data preparation (RecBole's data set and loaders);
- SeeDRec's one-off costs: the raw prefix vectors, one S2IDM epoch, the interest cache build
  (S2IDM's reverse pass over every training row; ``--cache-sample-rows`` times it on that many
  rows and extrapolates), and the cache's size;
- a training epoch: the first ``--max-batches`` batches, scaled to the epoch's batches;
- a validation pass ranking every item;
- the process's peak resident memory.
Each measurement is a JSON record under ``--out``; a rerun skips those done. Then the table, and
each cost's growth exponent b (cost ~ factor^b, least squares on the logs).
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("SASRec", "SeeDRecSASRec")
COSTS = ("data_s", "cache_build_s", "cache_mib", "epoch_s", "eval_s", "peak_rss_mib")


def replicate(data_path, dataset, factor, workdir):
    """``<workdir>/<dataset>-x<factor>/``: every user ``factor`` times; returns its name."""
    name = f"{dataset}-x{factor}"
    source, target = Path(data_path) / dataset, Path(workdir) / name
    if (target / f"{name}.inter").is_file():
        return name
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{name}.item").symlink_to((source / f"{dataset}.item").resolve())
    with open(source / f"{dataset}.inter", encoding="utf-8") as lines:
        header, rows = next(lines), lines.readlines()
    partial = target / f"{name}.inter.partial"
    with open(partial, "w", encoding="utf-8") as out:
        out.write(header)
        for copy in range(factor):
            suffix = f"~{copy}" if copy else ""
            for row in rows:
                user, rest = row.split("\t", 1)
                out.write(f"{user}{suffix}\t{rest}")
    os.replace(partial, target / f"{name}.inter")
    return name


def measure(model_name, dataset, data_path, max_batches, cache_sample_rows):
    """One model on one replicated data set, in this process; returns its costs."""
    import epoch_time  # beside this script

    args = epoch_time.build_parser().parse_args(
        ["--dataset", dataset, "--data-path", data_path, "--max-len", "50"]
        + ["--batch-size", "1024", "--hidden-dropout", "0.2", "--attn-dropout", "0.2"]
        + ["--s2idm-epochs", "1", "--cache-sample-rows", str(cache_sample_rows)]
    )
    with tempfile.TemporaryDirectory() as workdir:
        os.chdir(workdir)  # RecBole logs relative to the working directory
        _, train_data, valid_data, model, trainer, data_s = epoch_time.build(
            model_name, "sasrec", args, workdir
        )
        costs = {"data_s": data_s, "train_rows": len(train_data._dataset)}
        if model_name.startswith("SeeDRec"):
            one_off, cache = epoch_time.prepare_seedrec(
                model, trainer, train_data, cache_sample_rows
            )
            costs["cache_build_s"] = next(v for k, v in one_off.items() if "cache build" in k)
            costs["cache_mib"] = cache.values.numel() * cache.values.element_size() / 2**20
            costs["one_off"] = one_off
        seconds, _, batches = epoch_time.time_epoch(trainer, train_data, 0, 2020, max_batches)
        costs["epoch_s"] = seconds * len(train_data) / batches
        start = time.perf_counter()
        trainer.evaluate(valid_data, load_best_model=False)
        costs["eval_s"] = time.perf_counter() - start
    costs["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return costs


def growth_exponent(factors, values):
    """b of value ~ factor^b, least squares on the logs; None with fewer than 2 points."""
    points = [(math.log(f), math.log(v)) for f, v in zip(factors, values) if v and v > 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def report(records, factors):
    """The table of every cost, and each cost's growth exponent."""
    lines = [f"{'model':15} {'factor':>6} " + " ".join(f"{c:>13}" for c in COSTS)]
    for model in MODELS:
        for factor in factors:
            costs = records.get((model, factor))
            if costs:
                cells = [f"{costs[c]:13.1f}" if c in costs else f"{'-':>13}" for c in COSTS]
                lines.append(f"{model:15} {factor:>6} " + " ".join(cells))
        done = [f for f in factors if (model, f) in records]
        exponents = {
            c: growth_exponent(done, [records[(model, f)].get(c) for f in done]) for c in COSTS
        }
        shown = ", ".join(f"{c} {b:.2f}" for c, b in exponents.items() if b is not None)
        lines.append(f"{model:15} growth exponents: {shown or 'need 2 factors'}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="amazon-home")
    parser.add_argument("--data-path", required=True, help="the folder holding <dataset>/")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--out", required=True, help="folder for the records (resumes)")
    parser.add_argument("--work", help="folder for the replicated data (default: --out/data)")
    parser.add_argument("--max-batches", type=int, default=30, help="timed batches per epoch")
    parser.add_argument("--cache-sample-rows", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # model, in the child process
    parser.add_argument("--factor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = Path(args.out).resolve()
    work = Path(args.work or out / "data").resolve()
    if args.measure:
        import torch

        torch.set_num_threads(args.threads)
        name = f"{args.dataset}-x{args.factor}"
        costs = measure(args.measure, name, str(work), args.max_batches, args.cache_sample_rows)
        record = out / f"{args.measure}-x{args.factor}.json"
        record.with_suffix(".partial").write_text(json.dumps(costs, indent=1))
        os.replace(record.with_suffix(".partial"), record)
        return
    out.mkdir(parents=True, exist_ok=True)
    records = {}
    for factor in args.factors:
        replicate(args.data_path, args.dataset, factor, work)
        for model in args.models:
            record = out / f"{model}-x{factor}.json"
            if not record.is_file():
                print(f"measuring {model} x{factor} ...", flush=True)
                command = [sys.executable, __file__, "--measure", model, "--factor", str(factor)]
                command += ["--dataset", args.dataset, "--data-path", args.data_path]
                command += ["--out", str(out), "--work", str(work)]
                command += ["--max-batches", str(args.max_batches), "--threads", str(args.threads)]
                command += ["--cache-sample-rows", str(args.cache_sample_rows)]
                subprocess.run(command, check=True)
            records[(model, factor)] = json.loads(record.read_text())
    print(report(records, args.factors))


if __name__ == "__main__":
    main()
