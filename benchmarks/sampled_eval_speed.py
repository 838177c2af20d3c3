"""RecBole's sampled evaluation against CandidateScoringMixin on a validation set (ml-100k's).

Usage: python benchmarks/sampled_eval_speed.py [--repeats 3] [--modes uni100 uni999] [--threads N]
       [--eval-batch-size 4096] [--dataset amazon-home --data-path P --users 500]

With ``--dataset`` another converted data set is read from ``--data-path``, with
``benchmarks/configs/<dataset>.yaml``'s SASRec sizes (Home: hidden 64, 2 layers, length 50) and
its first ``--users`` users (their interactions only; every item is still ranked), because
RecBole's stock path on a whole large data set takes hours.

Both trainers evaluate the same (untrained) reduced SASRec weights: RecBole's class on RecBole's
path, this package's (its last layer run for the read-out position alone) on this package's.
numpy is reseeded before each pass, so both see the same negatives and must report the same
metrics.
The stock trainer reads RecBole's ``NegSampleEvalDataLoader`` (1 + N copies of each row); ours
reads ``CandidateEvalDataLoader`` (each row once, candidates beside it, same sampler calls).
``evaluate`` is the whole ``Trainer.evaluate``; ``scoring`` the part spent in
``_neg_sample_batch_eval``; ``loader`` one bare pass over RecBole's loader.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from recbole.data import create_dataset
from recbole.data import data_preparation as recbole_data_preparation
from recbole.model.sequential_recommender import SASRec
from recbole.trainer import Trainer
from recbole.utils import init_seed

import recbole_seedrec  # noqa: F401  (runtime shims)
from recbole_seedrec.config import Config
from recbole_seedrec.data.candidates import data_preparation
from recbole_seedrec.registry import get_model
from recbole_seedrec.speedups.read_out_only import use_read_out_only_last_layer
from recbole_seedrec.trainer import CandidateScoringMixin

REDUCED_SASREC = {
    "hidden_size": 32,
    "inner_size": 64,
    "n_layers": 1,
    "n_heads": 1,
    "MAX_ITEM_LIST_LENGTH": 20,
    "train_neg_sample_args": None,
    "eval_batch_size": 4096,
    "show_progress": False,
    "seed": 2024,
    "metrics": ["NDCG", "Hit", "GAUC"],
    "topk": [5, 10, 20],
    "valid_metric": "NDCG@10",
}
EVAL_SEED = 7
CONFIGS = Path(__file__).resolve().parent / "configs"


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class _TimedScoring:
    """Adds up the time spent scoring batches, apart from loading and metric collection."""

    scoring_s = 0.0

    def _neg_sample_batch_eval(self, batched_data):
        start = time.perf_counter()
        result = super()._neg_sample_batch_eval(batched_data)
        _sync()
        self.scoring_s += time.perf_counter() - start
        return result


STOCK = type("StockTrainer", (_TimedScoring, Trainer), {})
MIXIN = type("MixinTrainer", (_TimedScoring, CandidateScoringMixin, Trainer), {})


def first_users(dataset, data_path, users, workdir):
    """A copy of ``dataset`` under ``workdir`` holding the interactions of its first ``users``
    users (in file order) and every item; returns the new data path."""
    source, target = Path(data_path) / dataset, Path(workdir) / "data" / dataset
    target.mkdir(parents=True)
    for item_file in source.glob(f"{dataset}.item"):
        (target / item_file.name).symlink_to(item_file.resolve())
    inter = source / f"{dataset}.inter"
    if not inter.is_file():
        raise SystemExit(f"{inter} not found: convert {dataset} first (dataset/README.md)")
    kept = set()
    with open(inter, encoding="utf-8") as lines, open(target / inter.name, "w") as out:
        out.write(next(lines))
        for line in lines:
            user = line.split("\t", 1)[0]
            if user not in kept and len(kept) == users:
                continue
            kept.add(user)
            out.write(line)
    return str(target.parent)


def build(mode, eval_batch_size, dataset="ml-100k", data_path=None):
    """One set of weights in two models, and two loaders: RecBole's SASRec and loader for the
    stock trainer, this package's for the fast one (same data, same sampler calls, so the same
    negatives once numpy is reseeded)."""
    eval_args = {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": mode}
    settings = {**REDUCED_SASREC, "eval_args": eval_args, "eval_batch_size": eval_batch_size}
    config_files = []
    if data_path is not None:
        sizes = ("hidden_size", "inner_size", "n_layers", "n_heads", "MAX_ITEM_LIST_LENGTH")
        settings = {k: v for k, v in settings.items() if k not in sizes}
        settings["data_path"] = data_path
        config_files = [str(path) for path in CONFIGS.glob(f"{dataset}.yaml")]
        if not config_files:  # RecBole's default columns lack the time that orders the split
            settings["load_col"] = {"inter": ["user_id", "item_id", "timestamp"]}
    config = Config(
        "SASRec", dataset, config_file_list=config_files, config_dict=settings, cmd_args=[]
    )
    init_seed(config["seed"], config["reproducibility"])
    train, stock_valid, _ = recbole_data_preparation(config, create_dataset(config))
    _, fast_valid, _ = data_preparation(config, create_dataset(config))
    init_seed(config["seed"], config["reproducibility"])
    stock = SASRec(config, train._dataset).to(config["device"])
    ours = get_model("SASRec")(config, train._dataset).to(config["device"])
    ours.load_state_dict(stock.state_dict())
    use_read_out_only_last_layer(ours)
    return config, {"stock": stock, "mixin": ours}, {"stock": stock_valid, "mixin": fast_valid}


def time_loader(loader):
    np.random.seed(EVAL_SEED)
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def time_evaluate(trainer_class, config, model, loader):
    trainer = trainer_class(config, model)
    np.random.seed(EVAL_SEED)
    _sync()
    start = time.perf_counter()
    result = trainer.evaluate(loader, load_best_model=False)
    _sync()
    return time.perf_counter() - start, trainer.scoring_s, dict(result)


def bench(mode, repeats, eval_batch_size, dataset="ml-100k", data_path=None):
    config, models, loaders = build(mode, eval_batch_size, dataset, data_path)
    runs = {"stock": [], "mixin": []}
    metrics = {}
    loader_s = []
    for _ in range(repeats):  # interleaved, so load on a shared machine hits both alike
        loader_s.append(time_loader(loaders["stock"]))
        for name, trainer_class in (("stock", STOCK), ("mixin", MIXIN)):
            model, loader = models[name], loaders[name]
            wall, scoring, result = time_evaluate(trainer_class, config, model, loader)
            runs[name].append((wall, scoring))
            metrics.setdefault(name, result)
            assert result == metrics[name], f"{name} metrics changed between repeats"
    identical = metrics["stock"] == metrics["mixin"]
    med = {
        name: tuple(statistics.median(r[i] for r in rs) for i in (0, 1))
        for name, rs in runs.items()
    }
    print(
        f"\n{dataset} {mode}, eval_batch_size {eval_batch_size}: {len(loaders['stock'])} / "
        f"{len(loaders['mixin'])} batches (stock / ours), {len(loaders['stock']._dataset)} users, "
        f"device {config['device']}, median of {repeats}"
    )
    print(f"  {'':6} {'evaluate s':>11} {'scoring s':>11}")
    for name in ("stock", "mixin"):
        print(f"  {name:6} {med[name][0]:11.3f} {med[name][1]:11.4f}")
    print(f"  RecBole's loader alone {statistics.median(loader_s):.3f} s")
    print(
        f"  speed-up: evaluate {med['stock'][0] / med['mixin'][0]:.1f}x, "
        f"scoring {med['stock'][1] / med['mixin'][1]:.0f}x"
    )
    print(f"  metrics identical: {identical}  {metrics['mixin']}")
    if not identical:
        print(f"  stock metrics:     {metrics['stock']}")
    return identical


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["uni100", "uni999"])
    parser.add_argument(
        "--threads", type=int, help="torch threads; 1 steadies timings on a busy shared machine"
    )
    parser.add_argument(
        "--eval-batch-size",
        type=int,
        default=4096,
        help="rows per batch for both trainers; RecBole's loader packs this // (1 + N) users",
    )
    parser.add_argument("--dataset", default="ml-100k", help="a converted data set (--data-path)")
    parser.add_argument("--data-path", help="the folder holding <dataset>/; needed with --dataset")
    parser.add_argument("--users", type=int, default=500, help="with --dataset: users kept")
    args = parser.parse_args()
    if (args.dataset != "ml-100k") != (args.data_path is not None):
        parser.error("--dataset and --data-path go together (ml-100k is RecBole's own)")
    if args.users < 1:
        parser.error(f"--users {args.users}: give at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()}")
    if args.data_path is None:
        print(f"reduced SASRec, untrained:\n  {REDUCED_SASREC}")
    else:
        print(f"SASRec with {args.dataset}'s sizes, untrained; its first {args.users} users")
    with tempfile.TemporaryDirectory() as workdir:  # RecBole logs relative to the cwd
        data_path = None
        if args.data_path is not None:
            data_path = first_users(args.dataset, args.data_path, args.users, workdir)
        previous = os.getcwd()
        os.chdir(workdir)
        try:
            identical = [
                bench(mode, args.repeats, args.eval_batch_size, args.dataset, data_path)
                for mode in args.modes
            ]
        finally:
            os.chdir(previous)
    print(f"\nload average (1, 5, 15 min) at the end: {os.getloadavg()}")
    raise SystemExit(0 if all(identical) else 1)


if __name__ == "__main__":
    main()
