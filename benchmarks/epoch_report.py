"""The printed report of ``epoch_time.py``: one pair's timings, ratios and one-off costs."""

import statistics

import torch
from comparison.runner import parameter_counts  # the run records' count


def report(names, built, one_off, runs, cpu, loader, n_batches, backbone_settings, args):
    """Print one pair's timings, ratios and one-off costs."""
    backbone, seedrec = names
    config, train_data, _, _ = built[backbone]
    full = len(train_data)
    print(
        f"\n== {backbone} vs {seedrec} on {args.dataset}: {len(train_data._dataset):,} training "
        f"rows, {full} batches/epoch of {config['train_batch_size']}, "
        f"{built[backbone][2].n_items:,} items, device {config['device']}"
    )
    print(f"   backbone: {backbone_settings}, MAX_ITEM_LIST_LENGTH {args.max_len}")
    for name in names:
        print(f"   {name}: training batches from {type(built[name][1]).__name__}")
    scope = "full epoch" if n_batches == full else f"first {n_batches} of {full} batches"
    print(
        f"   timed: trainer._train_epoch over the {scope}; median of {args.repeats} interleaved "
        f"repeats after {args.warmup} warm-up; autograd anomaly mode "
        f"{'on' if torch.is_anomaly_enabled() else 'off'}"
    )
    header = (
        f"   {'model':30} {'median s':>9} {'min s':>8} {'max s':>8} {'s/batch':>8} "
        f"{'epoch s':>8} {'CPU s':>8} {'loader s':>9} {'params':>9} {'frozen':>9}"
    )
    print(header)
    for name in names:
        seconds = runs[name]
        med = statistics.median(seconds)
        per_batch = med / n_batches
        counts = parameter_counts(built[name][2])  # S2IDM is frozen after its stage
        loader_s = f"{statistics.median(loader[name]):9.3f}" if loader[name] else f"{'-':>9}"
        print(
            f"   {name:30} {med:9.3f} {min(seconds):8.3f} {max(seconds):8.3f} {per_batch:8.4f} "
            f"{per_batch * full:8.2f} {statistics.median(cpu[name]):8.3f} {loader_s} "
            f"{counts['trainable']:9,} {counts['frozen']:9,}"
        )
    ratio = statistics.median(runs[seedrec]) / statistics.median(runs[backbone])
    pairwise = statistics.median(s / b for s, b in zip(runs[seedrec], runs[backbone]))
    cpu_ratio = statistics.median(cpu[seedrec]) / statistics.median(cpu[backbone])
    same_model = backbone.partition("[")[0] == seedrec.partition("[")[0]
    if same_model:  # how much faster the candidate path is
        verdict = f"speed-up {1 / ratio:.2f}x wall, {1 / cpu_ratio:.2f}x CPU time"
    else:
        verdict = f"target <= {args.target:.2f}: {'OK' if ratio <= args.target else 'ABOVE TARGET'}"
    print(
        f"   ratio {seedrec}/{backbone}: {ratio:.3f} wall (median of per-repeat ratios "
        f"{pairwise:.3f}), {cpu_ratio:.3f} process CPU time; {verdict}"
    )
    for name in names:
        print(
            f"   per-repeat wall s / CPU s {name}: "
            + " ".join(f"{w:.2f}/{c:.2f}" for w, c in zip(runs[name], cpu[name]))
        )
    costs = dict(one_off[seedrec])
    cache = costs.pop("cache", None)
    print(
        f"   one-off costs of {seedrec} (s): " + ", ".join(f"{k} {v:.2f}" for k, v in costs.items())
    )
    data_s = one_off[backbone]["data + dataloaders"]
    print(f"   one-off costs of {backbone} (s): data + dataloaders {data_s:.2f}")
    if cache is None:
        return
    rows, q = cache.values.shape
    print(
        f"   interest cache: {rows:,} rows x {q:,} sememes x {cache.values.element_size()} bytes "
        f"({cache.values.dtype}) = {cache.nbytes / 2**20:,.1f} MiB"
    )
