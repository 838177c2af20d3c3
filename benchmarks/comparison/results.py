"""From run records to the comparison: mean +- std over seeds, paired t-tests, run costs.

Everything here is computed from the records alone, so the report can be rebuilt at any time
(after a resumed or interrupted invocation) without running anything.
"""

import statistics

from scipy import stats

from .protocols import SELECTION_METRIC

MIN_PAIRS = 2  # a paired t-test needs two pairs at least


def spread(values):
    """Mean and sample standard deviation (n - 1); the std is None below two values."""
    values = [float(v) for v in values]
    if not values:
        return {"mean": None, "std": None, "n": 0, "values": []}
    std = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": statistics.fmean(values), "std": std, "n": len(values), "values": values}


def by_model(records, model_order=()):
    """{model: [records sorted by seed]}, models in the order asked for, then the others."""
    grouped = {}
    for record in records:
        grouped.setdefault(record["model"], []).append(record)
    order = [m for m in model_order if m in grouped] + sorted(set(grouped) - set(model_order))
    return {model: sorted(grouped[model], key=lambda r: r["seed"]) for model in order}


def summarise_model(records):
    """One model's seeds: every test and validation metric, and the run costs."""
    metrics = sorted({key for record in records for key in record["test"]})
    epochs = [statistics.median(r["train_epoch_s"]) for r in records if r.get("train_epoch_s")]
    s2idm_share = [stage_share(r) for r in records if stage_share(r) is not None]
    return {
        "seeds": [r["seed"] for r in records],
        "test": {
            key: spread(r["test"][key] for r in records if key in r["test"]) for key in metrics
        },
        "valid": {
            key: spread(r["valid"][key] for r in records if key in r["valid"])
            for key in sorted({key for record in records for key in record["valid"]})
        },
        "best_epoch": spread(r["best_epoch"] for r in records if r.get("best_epoch") is not None),
        "epochs_run": spread(r["epochs_run"] for r in records),
        "wall_s": spread(r["wall_s"] for r in records),
        "train_epoch_s": spread(epochs),
        "s2idm_stage_s": spread(s2idm_stage_s(r) for r in records if s2idm_stage_s(r) is not None),
        "s2idm_stage_share": spread(s2idm_share),
        "peak_rss_mib": spread(r["peak_rss_mib"] for r in records),
        "parameters": records[0]["parameters"],
    }


def s2idm_stage_s(record):
    """S2IDM's whole cost in a run: training it, and its reverse pass that fills the cache."""
    if record.get("s2idm_train_s") is None:
        return None
    return record["s2idm_train_s"] + (record.get("interest_cache_s") or 0.0)


def stage_share(record):
    seconds = s2idm_stage_s(record)
    return None if seconds is None or not record.get("wall_s") else seconds / record["wall_s"]


def paired_test(candidate, baseline, metric):
    """SeeDRec against its backbone on one test metric, paired by seed (same split, same
    seeded sampler): scipy's ``ttest_rel``, two-sided. Fewer than two pairs: no test."""
    theirs = {r["seed"]: r["test"].get(metric) for r in baseline}
    paired = [r for r in candidate if metric in r["test"] and theirs.get(r["seed"]) is not None]
    ours = [r["test"][metric] for r in paired]
    base = [theirs[r["seed"]] for r in paired]
    result = {
        "metric": metric,
        "pairs": len(paired),
        "seeds": [r["seed"] for r in paired],
        "mean": statistics.fmean(ours) if paired else None,
        "baseline_mean": statistics.fmean(base) if paired else None,
        "t": None,
        "p": None,
        "note": None,
    }
    if paired and result["baseline_mean"]:
        result["relative_change"] = result["mean"] / result["baseline_mean"] - 1
    else:
        result["relative_change"] = None
    if len(paired) < MIN_PAIRS:
        result["note"] = f"n/a: {len(paired)} paired seed(s), a t-test needs {MIN_PAIRS}"
        return result
    differences = [a - b for a, b in zip(ours, base)]
    spread = max(differences) - min(differences)
    # Equal differences (up to rounding) leave t undefined; scipy would return a huge t.
    if spread <= 1e-12 * max(1.0, max(abs(d) for d in differences)):
        result["note"] = "n/a: every pair differs by the same amount (no variance)"
        return result
    test = stats.ttest_rel(ours, base)
    result["t"], result["p"] = float(test.statistic), float(test.pvalue)
    return result


def paired_tests(grouped, metrics, backbones):
    """A test per SeeDRec model whose backbone was run too, on each headline metric."""
    tests = []
    for model, backbone in backbones.items():
        if backbone is None or model not in grouped:
            continue
        if backbone not in grouped:
            note = f"n/a: {backbone} was not run"
            tests.append({"model": model, "backbone": backbone, "metric": None, "note": note})
            continue
        for metric in metrics:
            test = paired_test(grouped[model], grouped[backbone], metric)
            tests.append({"model": model, "backbone": backbone, **test})
    return tests


def best_model(summaries, metric=SELECTION_METRIC):
    """The model with the best mean test ``metric`` (for the record: selection is on valid)."""
    scored = {m: s["test"][metric]["mean"] for m, s in summaries.items() if metric in s["test"]}
    scored = {m: v for m, v in scored.items() if v is not None}
    return max(scored, key=scored.get) if scored else None


def aggregate(records, model_order, backbones, headline):
    """Everything the report shows, from the records."""
    grouped = by_model(records, model_order)
    summaries = {model: summarise_model(rs) for model, rs in grouped.items()}
    return {
        "models": summaries,
        "paired_tests": paired_tests(grouped, headline, backbones),
        "best_model": best_model(summaries),
    }
