"""Saved models re-read on test under both ways of drawing sampled negatives, paired.

Usage: python benchmarks/negatives_effect.py CHECKPOINT [CHECKPOINT ...]
       [--data-path DIR] [--threads N] [--json FILE]

Each checkpoint is evaluated on its test split twice, in one process: with RecBole's sampler
(``eval_negatives: recbole``: for sequential data it excludes only the target, so a candidate
list can repeat an item or hold one from the user's history) and with distinct negatives the
user never interacted with (``eval_negatives: unseen``). It also counts, on the very candidates
RecBole's sampler drew, how many test users got a history item or a repeated item. The models
were selected under whichever sampler they were trained with; only the test reading changes.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from recbole.utils import init_seed

import recbole_seedrec  # noqa: F401  (runtime shims)
from recbole_seedrec.data.candidates import CANDIDATE_FIELD, candidate_loader
from recbole_seedrec.prepare.output import write_atomic
from recbole_seedrec.quick_start import load_data_and_model
from recbole_seedrec.registry import get_trainer

METRICS = ("ndcg@10", "hit@10", "gauc")


def candidate_defects(loader, dataset):
    """Share of test users whose RecBole candidates hold a history item, or a repeated one."""
    n_items = dataset.item_num
    seen = np.unique(
        dataset.inter_feat[dataset.uid_field].numpy().astype(np.int64) * n_items
        + dataset.inter_feat[dataset.iid_field].numpy()
    )
    with_history = with_repeat = users = 0
    for data, *_ in loader:
        negatives = data[CANDIDATE_FIELD][:, 1:].numpy()
        keys = data[dataset.uid_field].numpy()[:, None].astype(np.int64) * n_items + negatives
        with_history += int(np.isin(keys, seen).any(axis=1).sum())
        ordered = np.sort(negatives, axis=1)
        with_repeat += int((ordered[:, 1:] == ordered[:, :-1]).any(axis=1).sum())
        users += len(negatives)
    return {"history": with_history / users, "repeat": with_repeat / users, "users": users}


def evaluate_both(checkpoint, data_path):
    updates = {"data_path": data_path} if data_path else None
    config, model, dataset, train, _, test = load_data_and_model(str(checkpoint), updates)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.eval_collector.data_collect(train)
    init_seed(config["seed"], config["reproducibility"])  # the same negatives in both passes
    defects = candidate_defects(test, dataset)
    init_seed(config["seed"], config["reproducibility"])
    recbole = trainer.evaluate(test, load_best_model=False)
    unseen = trainer.evaluate(
        candidate_loader(config, dataset, test, "test", unseen=True), load_best_model=False
    )
    return {
        "model": config["model"],
        "seed": config["seed"],
        "recbole": {k: float(recbole[k]) for k in METRICS},
        "unseen": {k: float(unseen[k]) for k in METRICS},
        "recbole_candidates": defects,
    }


def print_table(rows):
    print("\n| model | seed | " + " | ".join(f"{m} recbole / unseen" for m in METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    for row in rows:
        cells = [f"{row['recbole'][m]:.4f} / {row['unseen'][m]:.4f}" for m in METRICS]
        print(f"| {row['model']} | {row['seed']} | " + " | ".join(cells) + " |")
    for model in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == model]
        changes = [
            f"{m} {statistics.median(r['unseen'][m] / r['recbole'][m] - 1 for r in mine):+.1%}"
            for m in METRICS
        ]
        defects = mine[0]["recbole_candidates"]
        print(
            f"{model}: median change with unseen negatives over {len(mine)} checkpoint(s): "
            f"{', '.join(changes)}; RecBole's candidates held a history item for "
            f"{defects['history']:.1%} of {defects['users']} test users, a repeated item for "
            f"{defects['repeat']:.1%} (seed {mine[0]['seed']})"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--data-path", help="the folder holding <dataset>/ (as data_path)")
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.checkpoints if not path.is_file()]
    if missing:
        parser.error(f"no checkpoint at {', '.join(missing)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    data_path = os.path.abspath(args.data_path) if args.data_path else None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()}")
    rows = []
    with tempfile.TemporaryDirectory() as workdir:  # RecBole logs relative to the cwd
        previous = os.getcwd()
        os.chdir(workdir)
        try:
            for given in args.checkpoints:  # recorded as given: a relative path stays portable
                start = time.perf_counter()
                row = evaluate_both(Path(previous, given), data_path)
                rows.append({"checkpoint": str(given), **row})
                print(f"{given.name}: {time.perf_counter() - start:.0f} s", flush=True)
        finally:
            os.chdir(previous)
    print_table(rows)
    if args.json:
        write_atomic({args.json: json.dumps(rows, indent=2) + "\n"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
