"""BERT4Rec's sampled validation pass with and without RecBole's per-user training masks.

Usage: python benchmarks/bert4rec_eval_speed.py [--dataset amazon-home] [--data-path P]
       [--repeats 3] [--threads 2]

RecBole applies BERT4Rec's ``mask_itemseq`` transform to every evaluated row, user by user,
although prediction reads only the item sequence. The package's candidate loader leaves it out
(``TRANSFORMS_UNREAD_AT_EVALUATION``). Both passes run here on the same loader, model and
negatives, alternately: "masked" gives the loader RecBole's transform back, and so RecBole's
per-user collation; "package" is what a run gets. The metrics must be equal, or the script fails.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from recbole.data.transform import construct_transform

from recbole_seedrec.config import Config
from recbole_seedrec.data.candidates import CandidateEvalDataLoader
from recbole_seedrec.quick_start import build_model_and_trainer, prepare_data

CONFIGS = Path(__file__).resolve().parent / "configs"
EVAL_SEED = 7


def time_pass(trainer, loader, transform):
    loader.transform = transform
    np.random.seed(EVAL_SEED)
    start = time.perf_counter()
    result = trainer.evaluate(loader, load_best_model=False, show_progress=False)
    return time.perf_counter() - start, dict(result)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="amazon-home")
    parser.add_argument("--data-path", default="dataset")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config_files = [str(path) for path in CONFIGS.glob(f"{args.dataset}.yaml")]
    settings = {"data_path": args.data_path, "state": "WARNING", "show_progress": False}
    config = Config(
        "BERT4Rec", args.dataset, config_file_list=config_files, config_dict=settings, cmd_args=[]
    )
    _, train, valid, _ = prepare_data(config, init_logging=lambda config: None)
    if not isinstance(valid, CandidateEvalDataLoader):
        raise SystemExit(
            f"{args.dataset}: validation is not sampled ({type(valid).__name__}); this measures "
            "sampled evaluation: set eval_args' mode to uniN in benchmarks/configs/"
            f"{args.dataset}.yaml"
        )
    _, trainer = build_model_and_trainer(config, train)  # untrained: the cost is the same
    transforms = {"masked": construct_transform(config), "package": valid.transform}
    times = {label: [] for label in transforms}
    results = {}
    for _ in range(args.repeats):
        for label, transform in transforms.items():
            seconds, results[label] = time_pass(trainer, valid, transform)
            times[label].append(seconds)
    if results["masked"] != results["package"]:
        raise SystemExit(f"metrics differ: {results}")
    masked, package = (statistics.median(times[label]) for label in ("masked", "package"))
    print(f"{args.dataset}: {len(valid.uid_list)} validation users, {args.threads} threads")
    print(f"with RecBole's per-user masks: median {masked:.1f} s {times['masked']}")
    print(f"package (masks left out):      median {package:.1f} s {times['package']}")
    print(f"speed-up: {masked / package:.2f}x; metrics equal: {results['package']}")


if __name__ == "__main__":
    main()
