"""The comparison's two outputs: ``<stem>.json`` (everything) and ``<stem>.md`` (the tables)."""

import shlex

import yaml

from .costs import GOALS, PAPER_PARAMETER_RATIO
from .few_shot import markdown_section
from .protocols import PROTOCOL_TEXT, QUICK, SELECTION_METRIC, quick_text
from .records import plain, write_json_atomic, write_text_atomic
from .tables import markdown_table, mean_std, metric_label

# Config keys that say where a run happened, not what it was: kept out of the shown configs.
MACHINE_KEYS = {
    "data_path",
    "checkpoint_dir",
    "s2idm_save_path",
    "gpu_id",
    "use_gpu",
    "device",
    "local_rank",
    "single_spec",
    "seed",
}


def duration(seconds):
    """42s, 4m12s, 1h05m."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def count(n):
    if n is None:
        return "–"
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n:,}"


def shown_configs(configs):
    """{model: final config} -> settings shared by all models, and each model's own."""
    cleaned = {
        model: {key: plain(value) for key, value in config.items() if key not in MACHINE_KEYS}
        for model, config in configs.items()
    }
    if not cleaned:
        return {"shared": {}, "per_model": {}}
    first = next(iter(cleaned.values()))
    shared = {
        key: value
        for key, value in first.items()
        if all(key in c and c[key] == value for c in cleaned.values())
    }
    per_model = {m: {k: v for k, v in c.items() if k not in shared} for m, c in cleaned.items()}
    return {"shared": shared, "per_model": per_model}


def write_reports(layout, report):
    write_json_atomic(layout.json, report)
    write_text_atomic(layout.markdown, "\n".join(markdown(report)) + "\n")


def markdown(report):
    quick = report["quick"]
    title = f"# {report['data']}: {report['protocol']} protocol"
    lines = [title + (" — QUICK profile" if quick else ""), ""]
    if quick:
        lines += [
            f"> **Quick profile** ({quick_text(QUICK)}): a smoke test, not the comparison.",
            "",
        ]
    protocol = (
        f"Protocol: {PROTOCOL_TEXT[report['protocol']]}. Every run selects its epoch and stops "
        "early on validation NDCG@10; its best epoch is evaluated on test once. Seeds asked "
        f"for: {', '.join(map(str, report['seeds']))}."
    )
    lines += [protocol, ""]
    for model, labels in (report.get("release_labels") or {}).items():
        label = f"> **{model} measures the SeeDRec release, not this protocol**: "
        lines += [label + f"{'; '.join(labels)} (docs/reproducing-the-paper.md).", ""]
    lines += regenerate_lines(report["command"])
    lines += _results_section(report)
    lines += _tests_section(report)
    lines += markdown_section(report)
    lines += _published_section(report)
    lines += _targets_section(report)
    lines += _runs_section(report)
    lines += _costs_section(report)
    lines += configs_section(report)
    return lines


def _results_section(report):
    models, headline = report["aggregate"]["models"], report["headline"]
    lines = ["## Test results (mean ± std over seeds)", ""]
    if models:
        rows = [
            [model, len(s["seeds"])] + [mean_std(s["test"].get(key)) for key in headline]
            for model, s in models.items()
        ]
        lines += markdown_table(["model", "seeds", *map(metric_label, headline)], rows)
        best = report["aggregate"]["best_model"]
        lines += ["", f"Best test {metric_label(SELECTION_METRIC)}: {best or '–'}."]
    else:
        lines += ["No finished run yet."]
    if report["failed"]:
        lines += ["", "Failed runs (not in the tables): " + "; ".join(report["failed"]) + "."]
    return lines + [""]


def _number(value, digits=4):
    return "–" if value is None else f"{value:.{digits}f}"


def _test_row(t):
    if t.get("metric") is None:
        return [t["model"], t["backbone"], "–", "–", "–", "–", "–", "–", t["note"]]
    change = "–" if t.get("relative_change") is None else f"{t['relative_change']:+.1%}"
    pairs = f"{t['pairs']}" + (f" ({t['note']})" if t.get("note") else "")
    p = "–" if t["p"] is None else f"{t['p']:.3g}"
    return [
        t["model"],
        t["backbone"],
        metric_label(t["metric"]),
        _number(t["mean"]),
        _number(t["baseline_mean"]),
        change,
        _number(t["t"], 2),
        p,
        pairs,
    ]


def _tests_section(report):
    tests = report["aggregate"]["paired_tests"]
    lines = ["## SeeDRec against its backbone (paired t-test over seeds, test split)", ""]
    if not tests:
        return lines + ["No SeeDRec model with its backbone in this comparison.", ""]
    header = ["model", "backbone", "metric", "model mean", "backbone mean", "change", "t", "p"]
    lines += markdown_table([*header, "pairs"], [_test_row(t) for t in tests])
    lines += [
        "",
        (
            "Pairs share a seed (same split, same seeded sampler); two-sided scipy `ttest_rel`; "
            "change = model mean / backbone mean - 1."
        ),
    ]
    return lines + [""]


def _published_section(report):
    lines = ["## Published figures beside ours", ""]
    published = report["published"]
    if not published:
        return lines + [report["no_published"], ""]
    models = report["aggregate"]["models"]
    rows = []
    for model, figures in published["rows"].items():
        for key, value in figures.items():
            ours = models.get(model, {}).get("test", {}).get(key)
            rows.append([model, metric_label(key), f"{value:.4f}", mean_std(ours)])
    lines += markdown_table(["model", "metric", "published", "ours (mean ± std)"], rows)
    lines += ["", f"Published: {published['source']}. {published['note']}", ""]
    if report["protocol_differences"]:
        lines += ["Protocol differences:", ""]
        lines += [f"- {line}" for line in report["protocol_differences"]]
    return lines + [""]


def _targets_section(report):
    if not report["targets"]:
        return []
    lines = ["## Targets (from the issue; reported hit or miss)", ""]
    rows = [[t["target"], t["status"].upper(), t["figure"]] for t in report["targets"]]
    return lines + markdown_table(["target", "status", "figure"], rows) + [""]


def _run_row(model, s):
    params = s["parameters"]
    per_epoch = f"{s['train_epoch_s']['mean']:.1f}" if s["train_epoch_s"]["n"] else "–"
    return [
        model,
        mean_std(s["valid"].get(SELECTION_METRIC)),
        mean_std(s["best_epoch"], 1),
        mean_std(s["epochs_run"], 1),
        duration(s["wall_s"]["mean"]),
        per_epoch,
        duration(s["s2idm_stage_s"]["mean"]),
        count(params["trainable"]),
        count(params["frozen"]),
        f"{max(s['peak_rss_mib']['values']):,.0f}",
    ]


def _runs_section(report):
    models = report["aggregate"]["models"]
    if not models:
        return []
    lines = ["## Runs: selection, time, size, memory (mean over seeds)", ""]
    header = ["model", f"valid {metric_label(SELECTION_METRIC)}", "best epoch", "epochs run"]
    header += ["wall time", "s / epoch", "S2IDM stage", "trainable", "frozen", "peak RSS MiB"]
    lines += markdown_table(header, [_run_row(model, s) for model, s in models.items()])
    lines += [
        "",
        (
            "Wall time: the run's whole process (start-up, data, S2IDM stage, training, test). "
            "S2IDM stage: its training and its reverse pass over every history prefix (the "
            "interest cache). Peak RSS: the run process's own maximum resident memory."
        ),
    ]
    return lines + [""]


def _goal(value, goal, smaller=True):
    if value is None:
        return "not measured"
    return "hit" if (value <= goal if smaller else value >= goal) else "missed"


def _parameter_row(costs):
    label = "S2IDM / item-level DiffRec parameters"
    params = costs.get("parameters")
    if not params:
        return [
            label,
            "not measured",
            f"paper: about 1/{PAPER_PARAMETER_RATIO} on Home",
            "no S2IDM model in this comparison",
        ]
    measured = (
        f"{count(params['s2idm'])} / {count(params['diffrec'])} = "
        f"1/{params['diffrec_over_s2idm']:.1f}"
    )
    how = (
        f"both built on this data: {params['sememes']:,} sememes vs {params['items']:,} items, "
        f"MLP {params['mlp_width']}, time embedding {params['time_embedding']}"
    )
    return [label, measured, f"paper: about 1/{PAPER_PARAMETER_RATIO} on Home", how]


def _epoch_rows(costs):
    goal = f"goal <= {GOALS['epoch_ratio']:.2f}"
    epochs = costs.get("epoch_time") or {}
    if not epochs:
        return [["SeeDRec epoch / backbone epoch", "not measured", goal, "run with --costs"]]
    rows = []
    for epoch in epochs.values():
        backbone, candidate = epoch["pair"]
        measured = f"{epoch['ratio']:.3f} ({_goal(epoch['ratio'], GOALS['epoch_ratio'])})"
        how = (
            f"benchmarks/epoch_time.py, interleaved, {epoch['repeats']} repeats, "
            f"{epoch['batches']} batches{_threads_note(epoch)}"
        )
        rows.append([f"{candidate} epoch / {backbone} epoch", measured, goal, how])
    return rows


def _threads_note(measurement):
    """Measurements made before the thread count was recorded show none."""
    threads = measurement.get("threads")
    return f"; {threads} torch thread{'s' if threads != 1 else ''}" if threads else ""


def _sampled_eval_row(costs):
    goal = GOALS["sampled_eval_speedup"]
    sampled = costs.get("sampled_eval")
    if not sampled:
        return [
            "sampled evaluation speed-up (uni999)",
            "not measured",
            f"goal >= {goal:.0f}x",
            "run with --costs",
        ]
    verdict = _goal(sampled["speedup"], goal, smaller=False)
    how = f"{sampled['data']}; metrics identical: {sampled['identical_metrics']}"
    how += _threads_note(sampled)
    label = f"sampled evaluation speed-up ({sampled['mode']})"
    return [label, f"{sampled['speedup']:.0f}x ({verdict})", f"goal >= {goal:.0f}x", how]


def _record_rows(runs):
    rows = [
        [f"S2IDM stage share of a {model} run", f"{share:.1%}", "", "run records"]
        for model, share in runs["s2idm_stage_share"].items()
    ]
    peak = runs["peak_rss_mib"]
    measured = "not measured"
    if peak is not None:
        verdict = _goal(peak, GOALS["peak_rss_mib"])
        measured = f"{peak:,.0f} MiB ({runs['peak_rss_model']}; {verdict})"
    rows.append(
        [
            "peak resident memory of one run",
            measured,
            "goal <= 3 GB (Home)",
            "run records (largest)",
        ]
    )
    wall = runs["seedrec_run_s"]
    measured = "not measured"
    if wall is not None:
        measured = f"{duration(wall)} ({_goal(wall, GOALS['seedrec_run_s'])})"
    rows.append(
        [
            "one SeeDRecSASRec run, wall time",
            measured,
            "goal <= 20 min (Home, this CPU)",
            "run records (mean over seeds)",
        ]
    )
    return rows


def _costs_section(report):
    costs = report["costs"]
    rows = [_parameter_row(costs), *_epoch_rows(costs), _sampled_eval_row(costs)]
    rows += _record_rows(costs["runs"])
    lines = ["## Costs", ""] + markdown_table(["cost", "measured", "goal / published", "how"], rows)
    for epoch in (costs.get("epoch_time") or {}).values():
        lines += ["", "<details><summary>epoch_time.py report</summary>", "", "```"]
        lines += [epoch["report"], "```", "", "</details>"]
    return lines + [""]


def shown_command(script, argv):
    """The command that makes a report's runs, as the report shows it (``--report-only``, which
    only rebuilds it, left out)."""
    return f"python benchmarks/{script} " + shlex.join(a for a in argv if a != "--report-only")


def regenerate_lines(command):
    """The command that made a report, as every report shows it."""
    return ["Regenerate (finished runs are kept, the rest run):", "", "```bash", command, "```", ""]


def configs_section(report, intro=None):
    """The config files and overrides in one sentence (``intro(files, overrides)``), then the
    settings every model shares and each model's own, as folded yaml blocks."""
    configs, inputs = report["configs"], report["inputs"]
    files = ", ".join(f"`{f['path']}`" for f in inputs["config_files"]) or "none"
    overrides = " ".join(f"`{o}`" for o in inputs["overrides"]) or "none"
    intro = intro or (
        lambda files, overrides: (
            f"Config files, lowest precedence first: {files}. Then the "
            f"protocol and profile settings, then the overrides: {overrides}. The final config of "
            "every run is in its record (`runs/<model>-seed<k>.json`); below, as run, without "
            "machine paths and seed."
        )
    )
    lines = ["## Configs", "", intro(files, overrides), ""]
    own_files = report.get("model_config_files") or {}
    if own_files:
        listed = "; ".join(
            f"{model}: " + ", ".join(f"`{f['path']}`" for f in files)
            for model, files in own_files.items()
        )
        lines += [f"One model's own config files, after the shared ones: {listed}.", ""]
    if not configs["per_model"]:
        return lines
    lines += ["<details><summary>settings shared by every model</summary>", "", "```yaml"]
    lines += [yaml.safe_dump(configs["shared"], sort_keys=True).rstrip(), "```", "", "</details>"]
    for model, own in configs["per_model"].items():
        lines += ["", f"<details><summary>{model}'s own settings</summary>", "", "```yaml"]
        lines += [yaml.safe_dump(own, sort_keys=True).rstrip() if own else "{}", "```", ""]
        lines += ["</details>"]
    return lines
