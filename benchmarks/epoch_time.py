"""Training cost of SeeDRec against its backbone, side by side in one run.

Usage:
    python benchmarks/epoch_time.py [--dataset ml-100k] [--data-path DIR] [--repeats 5]
        [--max-batches N] [--hidden-size 64] [--max-len 20] [--threads N] [--pairs sasrec gru4rec]
        [--cache-sample-rows N] [--no-anomaly] [--batching auto|random]
        [--cross-entropy fused_ce|pytorch_ce] [--gelu native_gelu|recbole_gelu] [--profile N]

Per pair (SASRec vs SeeDRecSASRec, GRU4Rec vs SeeDRecGRU4Rec; ``batching``, ``seedrec-batching``
and ``diffurec-batching``: one model on RecBole's padded batches vs length-grouped ones;
``cross-entropy``: PyTorch's cross-entropy vs the fused one; ``gelu``: RecBole's feed-forward gelu
vs PyTorch's; ``bert4rec-loss``: RecBole's BERT4Rec, whose loss scores every mask slot, on its
padded batches, vs this package's, which scores the masked slots only, on length-grouped ones;
``stock``: RecBole's training path, all three at once, vs this package's;
``sasrec-full-last-layer``: SASRec vs SeeDRecSASRec running its whole last layer as SASRec does,
the prompts' own cost; ``interest-cache``: SeeDRecSASRec reading the dense cache vs the compact
one, whose readout is folded into IPE's first layer each batch; ``sasrec-rank192``: ``sasrec``
with the cache's rows on 192 principal components, ``interest_cache_rank: 192``), both models
are built on the same interactions, split, backbone settings, ``train_batch_size`` and seed.
SeeDRec's one-off stages run first and are timed apart: the S2IDM stage (a few epochs are enough
for timing) and the interest cache (S2IDM's reverse process over every history row;
``--cache-sample-rows`` times it on that many rows and extrapolates, for large q on a slow CPU).
Then each repeat calls ``trainer._train_epoch`` for both models, alternating A, B, A, B, ... so
that load on a shared machine hits both alike; ``--max-batches`` stops each repeat after that many
batches (the same batches for both: the loaders' shuffling is reseeded per repeat). ``loader`` is
one bare pass over the same batches (RecBole's sampling and collation alone). Training batches are
those of the package's entry point: length-grouped and trimmed by default (``--batching random``
for RecBole's padded random batches). ``--profile N`` then runs N more batches of each model under
``torch.profiler`` and prints the operators taking the most time.

Importing RecBole's sequential models (``recbole/model/sequential_recommender/sine.py``) turns
on ``torch.autograd.set_detect_anomaly(True)`` for the whole process; this package's shims
(``recbole_seedrec.compat``) switch it back off on import. The benchmark prints the state it
timed; ``--no-anomaly`` switches it off again after building the models, in case one turned it on.
"""

import argparse
import os
import random
import statistics
import tempfile
import time

import torch
from epoch_report import report  # beside this script
from recbole.utils import get_model as recbole_get_model
from recbole.utils import init_seed

import recbole_seedrec  # noqa: F401  (runtime shims)
from recbole_seedrec import build_model_and_trainer
from recbole_seedrec.config import Config
from recbole_seedrec.data.candidates import data_preparation
from recbole_seedrec.data.dataset import create_dataset

# Each entry: (baseline, candidate). ``Model[a,b,c]`` sets that run's ``train_batching`` (auto,
# length_grouped, random), its cross-entropy (fused_ce, pytorch_ce: ``fused_cross_entropy``) and
# its feed-forward gelu (native_gelu, recbole_gelu: ``native_gelu``); what a label leaves out
# comes from ``--batching``, ``--cross-entropy`` and ``--gelu``. ``recbole_class``: RecBole's own
# class of that name (BERT4Rec's loss over every mask slot) in place of this package's.
# ``stock``: RecBole's training path (padded random batches, PyTorch's cross-entropy, RecBole's
# gelu) against this package's. ``full_last_layer``: the encoder runs its whole last layer
# (``read_out_only_last_layer: False``); both models of a pair run the same last layer, so that
# the pair's ratio is the prompts' own cost.
PAIRS = {
    "sasrec": ("SASRec", "SeeDRecSASRec"),
    "gru4rec": ("GRU4Rec", "SeeDRecGRU4Rec"),
    "stock": (
        "SASRec[random,pytorch_ce,recbole_gelu]",
        "SASRec[length_grouped,fused_ce,native_gelu]",
    ),
    "batching": ("SASRec[random]", "SASRec[length_grouped]"),
    "cross-entropy": ("SASRec[pytorch_ce]", "SASRec[fused_ce]"),
    "gelu": ("SASRec[recbole_gelu]", "SASRec[native_gelu]"),
    "seedrec-batching": ("SeeDRecSASRec[random]", "SeeDRecSASRec[length_grouped]"),
    "diffurec-batching": ("DiffuRec[random]", "DiffuRec[length_grouped]"),
    "bert4rec-loss": ("BERT4Rec[recbole_class]", "BERT4Rec"),
    "sasrec-full-last-layer": ("SASRec[full_last_layer]", "SeeDRecSASRec[full_last_layer]"),
    "read-out-only": ("SASRec[full_last_layer]", "SASRec"),
    "interest-cache": ("SeeDRecSASRec[dense_cache]", "SeeDRecSASRec[compact_cache]"),
    "sasrec-rank192": ("SASRec", "SeeDRecSASRec[rank192_cache]"),
}
BATCHING_LABELS = ("auto", "length_grouped", "random")
# Label word -> (config option, value), and the command-line option giving the default.
SWITCHES = {
    "fused_ce": ("fused_cross_entropy", True),
    "pytorch_ce": ("fused_cross_entropy", False),
    "native_gelu": ("native_gelu", True),
    "recbole_gelu": ("native_gelu", False),
    "full_last_layer": ("read_out_only_last_layer", False),  # no command-line default: unset
    "dense_cache": ("interest_cache", "dense"),
    "compact_cache": ("interest_cache", "compact"),
    "rank192_cache": ("interest_cache_rank", 192),
}
SWITCH_DEFAULTS = {"fused_cross_entropy": "cross_entropy", "native_gelu": "gelu"}
RECBOLE_CLASS = "recbole_class"


def model_and_settings(label, args):
    """``(model, config options)`` of a label: ``train_batching`` and the switches."""
    model, _, bracket = label.partition("[")
    words = [s for s in bracket.rstrip("]").split(",") if s]
    unknown = [
        w for w in words if w not in SWITCHES and w not in BATCHING_LABELS + (RECBOLE_CLASS,)
    ]
    if unknown:
        raise ValueError(f"{label}: unknown setting(s) {unknown}")
    batching = next((w for w in words if w in BATCHING_LABELS), args.batching)
    recbole_class = RECBOLE_CLASS in words
    if recbole_class and batching == "auto":
        # "auto" would ask this package's class of that name; RecBole's is not proven exact
        # (its BERT4Rec gives NaN on a batch of one-item rows, which grouping makes)
        batching = "random"
    settings = {"train_batching": batching, RECBOLE_CLASS: recbole_class}
    settings.update(SWITCHES[w] for w in words if w in SWITCHES)
    for option, arg_name in SWITCH_DEFAULTS.items():  # what the label leaves out
        settings.setdefault(option, SWITCHES[getattr(args, arg_name)][1])
    return model, settings


# Only training is timed; full-ranking evaluation builds no negative samplers.
EVAL_ARGS = {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"}


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class FirstBatches:
    """The first ``n`` batches of a training loader, as ``Trainer._train_epoch`` iterates it."""

    def __init__(self, loader, n):
        self.loader, self.n = loader, n
        self.shuffle = loader.shuffle

    def __len__(self):
        return min(self.n, len(self.loader)) if self.n else len(self.loader)

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if self.n and i >= self.n:
                return
            yield batch


def backbone_settings(pair, args):
    if "GRU4Rec" not in PAIRS[pair][0]:
        return {
            "hidden_size": args.hidden_size,
            "inner_size": args.inner_size or 4 * args.hidden_size,
            "n_layers": args.layers,
            "n_heads": args.heads,
            "hidden_dropout_prob": args.hidden_dropout,
            "attn_dropout_prob": args.attn_dropout,
        }
    return {"embedding_size": args.hidden_size, "hidden_size": 2 * args.hidden_size}


def data_settings(model, args):
    settings = {}
    if args.data_path:
        settings["data_path"] = args.data_path
        settings["load_col"] = {"inter": ["user_id", "item_id", "timestamp"]}
    if model.startswith("SeeDRec"):
        if args.sememe_field:
            settings["SEMEME_FIELD"] = args.sememe_field
            settings["SEMEME_WORD_FIELDS"] = []
        if args.data_path:
            fields = args.sememe_field or "category_sememes"
            fields = [fields] if isinstance(fields, str) else list(fields)  # one or several
            settings["load_col"]["item"] = ["item_id", *fields]
    return settings


def build(label, pair, args, workdir):
    model, settings = model_and_settings(label, args)
    recbole_class = settings.pop(RECBOLE_CLASS)
    config_dict = {
        **backbone_settings(pair, args),
        **data_settings(model, args),
        "MAX_ITEM_LIST_LENGTH": args.max_len,
        "train_batch_size": args.batch_size,
        "learning_rate": 0.001,
        "loss_type": "CE",
        "train_neg_sample_args": None,
        "eval_args": EVAL_ARGS,
        "seed": args.seed,
        "reproducibility": True,
        "show_progress": False,
        **settings,
        "checkpoint_dir": os.path.join(workdir, "saved"),
        "s2idm_epochs": args.s2idm_epochs,
        "s2idm_save_path": os.path.join(workdir, f"{label}-s2idm.pth"),
    }
    if not model.startswith("SeeDRec"):
        config_dict = {k: v for k, v in config_dict.items() if not k.startswith("s2idm")}
    if args.device:
        config_dict["device"] = args.device
        config_dict["use_gpu"] = args.device != "cpu"
    config = Config(model, args.dataset, config_dict=config_dict, cmd_args=[])
    init_seed(config["seed"], config["reproducibility"])
    start = time.perf_counter()
    train_data, valid_data, _ = data_preparation(config, create_dataset(config))
    data_s = time.perf_counter() - start
    if recbole_class:  # the same build, switches included, with RecBole's class of that name
        config.model_class = recbole_get_model(model)
    model_obj, trainer = build_model_and_trainer(config, train_data)
    return config, train_data, valid_data, model_obj, trainer, data_s


def prepare_seedrec(model, trainer, train_data, sample_rows=0):
    """SeeDRec's one-off stages, as SeeDRecTrainer.fit runs them, each timed apart."""
    costs = {}
    if model.uses_s2idm:
        start = time.perf_counter()
        trainer.train_s2idm(train_data, verbose=False, saved=False)
        _sync()
        costs[f"S2IDM stage ({int(model.s2idm_epoch)} ep)"] = time.perf_counter() - start
    rows = int(model.histories.offsets[-1])
    sample_rows = sample_rows if model.uses_s2idm and 0 < sample_rows < rows else rows
    # S2IDM's reverse process costs the same per row: on a sample, time the first rows,
    # extrapolate, and train on a cache of the full shape and dtype (the other rows zero).
    start = time.perf_counter()
    cache = model.build_interest_cache(limit=sample_rows)
    _sync()
    name = "interest cache build"
    if sample_rows < rows:
        name += f" (est. from {sample_rows:,} of {rows:,} rows)"
    costs[name] = (time.perf_counter() - start) * rows / sample_rows
    return costs, cache


def time_epoch(trainer, train_data, epoch, seed, max_batches):
    train_data.generator.manual_seed(seed)  # the same batches for both models
    torch.manual_seed(seed)  # the same dropout draws
    random.seed(seed)  # the same masks (RecBole's mask_itemseq transform draws from random)
    batches = FirstBatches(train_data, max_batches)
    _sync()
    start, start_cpu = time.perf_counter(), time.process_time()
    trainer._train_epoch(batches, epoch)
    _sync()
    return time.perf_counter() - start, time.process_time() - start_cpu, len(batches)


def time_loader(train_data, seed, max_batches):
    train_data.generator.manual_seed(seed)
    start = time.perf_counter()
    for _ in FirstBatches(train_data, max_batches):
        pass
    return time.perf_counter() - start


def bench_pair(pair, args, workdir):
    names = PAIRS[pair]
    built, one_off = {}, {}
    for name in names:
        config, train_data, _, model, trainer, data_s = build(name, pair, args, workdir)
        if args.no_anomaly:  # building imported RecBole's models, which turn it on
            torch.autograd.set_detect_anomaly(False)
        built[name] = (config, train_data, model, trainer)
        one_off[name] = {"data + dataloaders": data_s}
        if name.startswith("SeeDRec"):
            costs, cache = prepare_seedrec(model, trainer, train_data, args.cache_sample_rows)
            one_off[name].update(costs)
            one_off[name]["cache"] = cache
    backbone, seedrec = names
    n_rows = {name: len(built[name][1]._dataset) for name in names}
    assert n_rows[backbone] == n_rows[seedrec], f"training rows differ: {n_rows}"

    runs = {name: [] for name in names}
    cpu = {name: [] for name in names}
    loader = {name: [] for name in names}
    for epoch in range(args.warmup + args.repeats):  # interleaved: A, B, A, B, ...
        for name in names:
            _, train_data, _, trainer = built[name]
            seconds, cpu_seconds, n_batches = time_epoch(
                trainer, train_data, epoch, args.seed + epoch, args.max_batches
            )
            if epoch >= args.warmup:
                runs[name].append(seconds)
                cpu[name].append(cpu_seconds)
                if not args.no_loader:
                    loader[name].append(
                        time_loader(train_data, args.seed + epoch, args.max_batches)
                    )

    settings = backbone_settings(pair, args)
    report(names, built, one_off, runs, cpu, loader, n_batches, settings, args)
    for name in names if args.profile else ():
        _, train_data, _, trainer = built[name]
        profile_batches(name, trainer, train_data, args)
    return statistics.median(runs[seedrec]) / statistics.median(runs[backbone])


def profile_batches(name, trainer, train_data, args):
    """Where a batch's time goes; run after the timed repeats, as the profiler slows them."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as profiled:
        *_, n_batches = time_epoch(trainer, train_data, 0, args.seed, args.profile)
    ops = profiled.key_averages()
    total = sum(op.self_cpu_time_total for op in ops) or 1
    print(f"   profile of {name}, {n_batches} batches: share of self CPU time by operator")
    for op in sorted(ops, key=lambda op: -op.self_cpu_time_total)[:12]:
        share = op.self_cpu_time_total / total
        print(f"     {share:6.1%} {op.self_cpu_time_total / 1e6:8.2f} s  {op.count:6}x  {op.key}")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data-path", help="folder holding <dataset>/ atomic files")
    parser.add_argument(
        "--sememe-field",
        nargs="+",
        help="SEMEME_FIELD, one field or several (default: the model/data yaml's)",
    )
    parser.add_argument("--pairs", nargs="+", default=["sasrec"], choices=sorted(PAIRS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="untimed repeats first")
    parser.add_argument("--max-batches", type=int, default=0, help="per repeat; 0 = full epoch")
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--inner-size", type=int, help="SASRec feed-forward (default 4 x hidden)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden-dropout", type=float, default=0.5, help="hidden_dropout_prob")
    parser.add_argument("--attn-dropout", type=float, default=0.5, help="attn_dropout_prob")
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument("--max-len", type=int, default=20, help="MAX_ITEM_LIST_LENGTH")
    parser.add_argument("--batch-size", type=int, default=2048, help="train_batch_size")
    parser.add_argument("--s2idm-epochs", type=int, default=3)
    parser.add_argument(
        "--batching",
        default="auto",
        choices=BATCHING_LABELS,
        help="train_batching: length-grouped, trimmed batches (auto) or RecBole's (random)",
    )
    parser.add_argument(
        "--cross-entropy",
        default="fused_ce",
        choices=["fused_ce", "pytorch_ce"],
        help="the CE loss's backward: fused (the entry point's default) or PyTorch's",
    )
    parser.add_argument(
        "--gelu",
        default="native_gelu",
        choices=["native_gelu", "recbole_gelu"],
        help="the feed-forward gelu: PyTorch's (the entry point's default) or RecBole's",
    )
    parser.add_argument(
        "--cache-sample-rows",
        type=int,
        default=0,
        help="time the interest cache on this many rows and extrapolate (0 = build it all)",
    )
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--device", help="e.g. cpu or cuda (default: RecBole's choice)")
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--no-loader", action="store_true", help="skip the bare loader passes")
    parser.add_argument(
        "--no-anomaly", action="store_true", help="turn off the autograd anomaly mode RecBole sets"
    )
    parser.add_argument("--target", type=float, default=1.10, help="ratio to report against")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="then profile N batches of each model: the operators taking the most CPU time",
    )
    return parser


def main():
    args = build_parser().parse_args()
    if args.data_path:
        args.data_path = os.path.abspath(args.data_path)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()}"
    )
    ratios = {}
    with tempfile.TemporaryDirectory() as workdir:  # RecBole writes logs/checkpoints to the cwd
        previous = os.getcwd()
        os.chdir(workdir)
        try:
            for pair in args.pairs:
                ratios[pair] = bench_pair(pair, args, workdir)
        finally:
            os.chdir(previous)
    print(
        f"\nratios: {', '.join(f'{PAIRS[p][1]}/{PAIRS[p][0]} {r:.3f}' for p, r in ratios.items())}"
    )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
