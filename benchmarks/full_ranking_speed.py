"""Full-ranking scoring: RecBole's padded batches against this package's length groups.

Usage:
    python benchmarks/full_ranking_speed.py [--model DiffuRec] [--dataset amazon-beauty]
        [--data-path DIR] [--config_files F ...] [--batches 3] [--repeats 3] [--threads N]
        [--key=value ...]

One model (untrained, built as the entry point builds it, from its yaml, the config files and
the overrides) scores the first ``--batches`` batches of the validation split with RecBole's
``Trainer._full_sort_batch_eval`` (every row padded to ``MAX_ITEM_LIST_LENGTH``) and with the
package's trainer (rows of similar length together, each group cut to its longest row),
interleaved: stock, ours, stock, ours, ... Seen items are masked by RecBole's code in both.
A deterministic model must give the same scores; a stochastic one (DiffuRec's seeded sampling)
draws its noise per batch shape, so its scores are another draw of the same distribution:
the benchmark prints how far they are apart and how often the two top-10 lists agree.
"""

import argparse
import os
import statistics
import tempfile
import time

import torch
from recbole.trainer import Trainer
from sampled_eval_speed import _sync  # the sibling benchmark's (benchmarks/ is on sys.path)

import recbole_seedrec  # noqa: F401  (runtime shims)
from recbole_seedrec.config import Config
from recbole_seedrec.quick_start import build_model_and_trainer, prepare_data

# Leave-one-out, every item ranked; ``auto`` batching groups rows for models exact under trimming.
PROTOCOL = {
    "eval_args": {
        "split": {"LS": "valid_and_test"},
        "order": "TO",
        "group_by": "user",
        "mode": "full",
    },
    "train_batching": "auto",
}


def scores_of(trainer, batches):
    """Seconds and score matrices of ``_full_sort_batch_eval`` over ``batches``."""
    trainer.model.eval()
    _sync()
    start = time.perf_counter()
    with torch.no_grad():
        scores = [trainer._full_sort_batch_eval(batch)[1] for batch in batches]
    _sync()
    return time.perf_counter() - start, scores


def compare_scores(stock, ours):
    """(same -inf cells, largest finite difference, share of rows with the same top 10)."""
    same_mask = all(torch.equal(a.isinf(), b.isinf()) for a, b in zip(stock, ours))
    finite = [(a - b)[a.isfinite()].abs().max().item() for a, b in zip(stock, ours)]
    top_a = torch.cat([a.topk(10, dim=1).indices for a in stock])
    top_b = torch.cat([b.topk(10, dim=1).indices for b in ours])
    same_top = (top_a.sort(dim=1).values == top_b.sort(dim=1).values).all(dim=1).float().mean()
    return same_mask, max(finite), same_top.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="DiffuRec")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data-path", help="folder holding <dataset>/ atomic files")
    parser.add_argument("--config_files", nargs="*", default=[], help="yaml files, in order")
    parser.add_argument("--batches", type=int, default=3, help="validation batches timed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads")
    args, overrides = parser.parse_known_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cmd_args = list(overrides)
    if args.data_path:
        cmd_args.append(f"--data_path={os.path.abspath(args.data_path)}")
    config_files = [os.path.abspath(path) for path in args.config_files]
    with tempfile.TemporaryDirectory() as workdir:  # RecBole logs relative to the cwd
        previous = os.getcwd()
        os.chdir(workdir)
        try:
            run(args, config_files, cmd_args)
        finally:
            os.chdir(previous)


def run(args, config_files, cmd_args):
    config = Config(args.model, args.dataset, config_files or None, PROTOCOL, cmd_args)
    _, train_data, valid_data, _ = prepare_data(config)
    model, ours = build_model_and_trainer(config, train_data)
    stock = Trainer(config, model)
    for trainer in (stock, ours):
        trainer.tot_item_num = valid_data._dataset.item_num
    batches = []
    for batch in valid_data:
        batches.append(batch)
        if len(batches) == args.batches:
            break
    rows = sum(len(batch[0]) for batch in batches)
    lengths = torch.cat([batch[0][config["ITEM_LIST_LENGTH_FIELD"]] for batch in batches])
    times = {"stock": [], "ours": []}
    for _ in range(args.repeats):
        stock_s, stock_scores = scores_of(stock, batches)
        ours_s, ours_scores = scores_of(ours, batches)
        times["stock"].append(stock_s)
        times["ours"].append(ours_s)
    same_mask, largest, same_top = compare_scores(stock_scores, ours_scores)
    med = {name: statistics.median(seconds) for name, seconds in times.items()}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {config['device']}"
    )
    print(
        f"{args.model} on {args.dataset}: {rows:,} validation rows in {len(batches)} batches of "
        f"{config['eval_batch_size']}, {valid_data._dataset.item_num:,} items; history length "
        f"mean {lengths.float().mean():.1f}, padded to {config['MAX_ITEM_LIST_LENGTH']}"
    )
    print(f"  {'':6} {'median s':>9} {'per row ms':>11}  all repeats (s)")
    for name, seconds in times.items():
        listed = " ".join(f"{s:.2f}" for s in seconds)
        print(f"  {name:6} {med[name]:9.2f} {1000 * med[name] / rows:11.3f}  {listed}")
    print(f"  speed-up {med['stock'] / med['ours']:.2f}x (median of {args.repeats})")
    print(
        f"  seen items masked alike: {same_mask}; largest score difference {largest:.2e}; "
        f"rows with the same top-10 set {100 * same_top:.1f} %"
    )


if __name__ == "__main__":
    main()
