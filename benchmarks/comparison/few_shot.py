"""``--few-shot N``: each model on the test users with at most N distinct sememes in their history.

New runs evaluate the subset within their own test evaluation (``few_shot_max_sememes``).
Finished runs whose checkpoint was kept (``--keep-checkpoints``) are evaluated again from it,
in a child process like a run, and the result is added to their record (atomically). The
report's table sets each model's subset metrics beside its full-set metrics of the same
evaluation, and SeeDRec's change over its backbone on both, paired by seed.
"""

from pathlib import Path

from .records import read_json, write_json_atomic
from .results import by_model, paired_test, spread
from .runner import RunFailed, launch
from .tables import markdown_table, mean_std, metric_label


def has_few_shot(record, threshold):
    return str(threshold) in (record.get("few_shot") or {})


def find_checkpoint(record, work_dir):
    """The run's model checkpoint (not its S2IDM artifact), or None when none was kept."""
    named = record.get("model_file")
    if named and Path(named).is_file():
        return Path(named)
    saved = Path(work_dir) / "saved"
    model = record["model"]
    found = [p for p in saved.glob(f"{model}-*.pth") if not p.name.startswith(f"{model}-S2IDM-")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def dry_run_note(plan, model, seed):
    """What ``--few-shot`` will do for a finished run (``--dry-run``)."""
    if plan.few_shot is None:
        return ""
    record = read_json(plan.layout.record(model, seed))
    if has_few_shot(record, plan.few_shot):
        return f"; few-shot (<= {plan.few_shot}) done"
    checkpoint = find_checkpoint(record, plan.layout.work_dir(model, seed))
    if checkpoint is None:
        return f"; few-shot (<= {plan.few_shot}): no checkpoint kept"
    return f"; few-shot (<= {plan.few_shot}) to evaluate from {checkpoint}"


def add_to_finished_runs(plan, failed):
    """Evaluate the kept checkpoint of every finished run that lacks this threshold."""
    threshold = plan.few_shot
    for record_path in sorted(plan.layout.runs.glob("*.json")):
        record = read_json(record_path)
        if has_few_shot(record, threshold):
            continue
        model, seed = record["model"], record["seed"]
        label = f"few-shot (<= {threshold}) {model} seed {seed}"
        checkpoint = find_checkpoint(record, plan.layout.work_dir(model, seed))
        if checkpoint is None:
            print(
                f"{label}: no checkpoint kept; rerun that run with --keep-checkpoints", flush=True
            )
            continue
        spec = {**plan.spec(model, seed), "checkpoint": str(checkpoint)}
        work_dir = plan.layout.work_dir(model, seed) / f"few-shot-{threshold}"
        print(f"{label}: evaluating {checkpoint}", flush=True)
        try:
            result = launch(spec, work_dir, keep_checkpoints=True)
        except RunFailed as failure:
            failed.append(f"{label} ({failure})")
            print(f"{label} FAILED ({failure}); log: {failure.log_path}", flush=True)
            continue
        record = read_json(record_path)  # as it is now
        record["few_shot"] = {**(record.get("few_shot") or {}), **result["few_shot"]}
        write_json_atomic(record_path, record)


def _as_runs(records, threshold, key):
    """Records shaped for ``paired_test``: the few-shot entry's ``key`` metrics as "test"."""
    runs = []
    for record in records:
        entry = record["few_shot"][str(threshold)]
        runs.append({"seed": record["seed"], "test": entry.get(key) or {}})
    return runs


def summarise(records, model_order, backbones, headline):
    """{threshold: models' subset and full-set metrics, sizes, and paired changes}."""
    thresholds = sorted({int(k) for r in records for k in (r.get("few_shot") or {})})
    out = {}
    for threshold in thresholds:
        grouped = by_model([r for r in records if has_few_shot(r, threshold)], model_order)
        models = {}
        for model, runs in grouped.items():
            entries = [r["few_shot"][str(threshold)] for r in runs]
            models[model] = {
                "seeds": [r["seed"] for r in runs],
                "users": sorted({e["users"] for e in entries}),
                "test_users": sorted({e["test_users"] for e in entries}),
                "sources": sorted({e["source"] for e in entries}),
                "few_shot": {
                    m: spread(e["test_few_shot"][m] for e in entries if e["test_few_shot"])
                    for m in headline
                },
                "all": {
                    m: spread(e["test"][m] for e in entries if m in e["test"]) for m in headline
                },
            }
        tests = []
        for model, backbone in backbones.items():
            if backbone is None or model not in grouped or backbone not in grouped:
                continue
            for metric in headline:
                pair = {
                    part: paired_test(
                        _as_runs(grouped[model], threshold, key),
                        _as_runs(grouped[backbone], threshold, key),
                        metric,
                    )
                    for part, key in (("few_shot", "test_few_shot"), ("all", "test"))
                }
                tests.append({"model": model, "backbone": backbone, "metric": metric, **pair})
        out[str(threshold)] = {"max_sememes": threshold, "models": models, "paired_tests": tests}
    return out


def _change(test):
    if test.get("relative_change") is None:
        return "–"
    p = "n/a" if test["p"] is None else f"{test['p']:.3g}"
    return f"{test['relative_change']:+.1%} (p {p})"


def _sizes(summary):
    users, total = summary["users"], summary["test_users"]
    shown = "/".join(f"{u:,}" for u in users)
    return f"{shown} of {'/'.join(f'{t:,}' for t in total)}"


def markdown_section(report):
    """The "Few-shot users (≤ N distinct sememes)" tables, one per threshold in the records."""
    lines = []
    headline = report["headline"]
    for threshold, part in (report.get("few_shot") or {}).items():
        lines += [f"## Few-shot users (≤ {threshold} distinct sememes)", ""]
        header = ["model", "seeds", "users"]
        for metric in headline:
            header += [f"{metric_label(metric)} few-shot", f"{metric_label(metric)} all"]
        rows = []
        for model, s in part["models"].items():
            row = [model, len(s["seeds"]), _sizes(s)]
            for metric in headline:
                row += [mean_std(s["few_shot"].get(metric)), mean_std(s["all"].get(metric))]
            rows.append(row)
        lines += markdown_table(header, rows)
        if part["paired_tests"]:
            lines += [""]
            rows = [
                [t["model"], t["backbone"], metric_label(t["metric"]), _change(t["few_shot"]),
                 _change(t["all"]), t["few_shot"]["pairs"]]
                for t in part["paired_tests"]
            ]  # fmt: skip
            header = ["model", "backbone", "metric", "change, few-shot", "change, all", "pairs"]
            lines += markdown_table(header, rows)
        rechecked = sorted(m for m, s in part["models"].items() if "checkpoint" in s["sources"])
        lines += [
            "",
            (
                f"Few-shot: the test users whose history before the test item (every earlier "
                f"interaction, not only the model's input window) has at most {threshold} "
                "distinct sememes. Both columns of a model come from one test evaluation (the "
                "same negatives, the same scores); change = mean / backbone mean - 1, two-sided "
                "paired t-test over seeds."
            ),
        ]
        if rechecked:
            lines += [
                "",
                (
                    f"Evaluated again from kept checkpoints: {', '.join(rechecked)}. Under sampled "
                    "evaluation the negatives were drawn again, so their 'all' column can differ "
                    "slightly from the main table."
                ),
            ]
        lines += [""]
    return lines
