"""The transfer command's two outputs, rebuilt from the records after every run:
``<out>/transfer/<stem>.json`` (everything) and ``.md`` (overlap, results, source, configs)."""

from datetime import datetime, timezone

from .protocols import PROTOCOL_TEXT, TRANSFER_QUICK, quick_text
from .records import load_records, write_json_atomic, write_text_atomic
from .report import (
    configs_section,
    duration,
    regenerate_lines,
    shown_configs,
)
from .results import aggregate
from .tables import markdown_table, mean_std, metric_label

METRICS = ["ndcg@5", "ndcg@10", "hit@5", "hit@10"]  # the paper's table 4
ROLES = {
    "SASRec": "target SASRec",
    "SeeDRecSASRecS2IDMOnly": "w/ S2IDM: frozen source S2IDM, fusion MLP",
    "SeeDRecSASRecIPEOnly": "w/ IPE: prompts from the target's raw vectors",
    "SeeDRecSASRec": "SeeDRec: frozen source S2IDM + IPE",
}


def overlap_of(records):
    """The vocabulary overlap a transferred model measured when it was built."""
    for record in records:
        if record.get("s2idm_transfer"):
            return record["s2idm_transfer"]
    return None


def transfer_report(plan, source, command, failed):
    records = load_records(plan.layout.runs)
    backbones = {model: None if model == "SASRec" else "SASRec" for model in plan.models}
    summary = aggregate(records, plan.models, backbones, ["ndcg@10", "hit@10"])
    configs = {}
    for record in sorted(records, key=lambda r: r["seed"]):
        configs.setdefault(record["model"], record["config"])
    return {
        "source": plan.inputs["source"],
        "target": plan.data,
        "protocol": plan.protocol,
        "quick": plan.quick,
        "seeds": plan.seeds,
        "seeds_run": sorted({r["seed"] for r in records}),
        "command": command,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": plan.inputs,
        "fingerprint": plan.fingerprint,
        "source_s2idm": source,
        "vocabulary_overlap": overlap_of(records),
        "metrics": METRICS,
        "aggregate": summary,
        "failed": failed,
        "configs": shown_configs(configs or plan.configs),
        "run_configs": {f"{r['model']}-seed{r['seed']}": r["config"] for r in records},
    }


def write_transfer_report(plan, source, command, failed):
    report = transfer_report(plan, source, command, failed)
    write_json_atomic(plan.layout.json, report)
    write_text_atomic(plan.layout.markdown, "\n".join(markdown(report)) + "\n")
    return report


def markdown(report):
    title = f"# Cross-domain transfer: {report['source']} → {report['target']}"
    profile = " — QUICK profile" if report["quick"] else ""
    lines = [f"{title} ({report['protocol']} protocol){profile}", ""]
    if report["quick"]:
        reduced = quick_text(TRANSFER_QUICK, costs=False)
        lines += [f"> **Quick profile** ({reduced}): a reduced run, not the paper's table.", ""]
    if report["inputs"]["overrides"]:
        shown = " ".join(f"`{o}`" for o in report["inputs"]["overrides"])
        lines += [f"Overrides of every target run (after the profile): {shown}.", ""]
    field = report["inputs"]["settings"]["SEMEME_FIELD"]
    lines += [
        (
            f"S2IDM trained on {report['source']}'s `{field}`, then frozen. On {report['target']} "
            f"(its own `{field}`), each model's raw sememe vectors are mapped into the source "
            "vocabulary by token, words the source lacks are dropped, and only the backbone and "
            "IPE (or the fusion MLP) train. No user is shared. Protocol: "
            f"{PROTOCOL_TEXT[report['protocol']]}; each run selects its epoch on validation "
            "NDCG@10 and is evaluated on test once."
        ),
        "",
        *regenerate_lines(report["command"]),
    ]
    return lines + _overlap(report) + _results(report) + _source(report) + _configs(report)


def _overlap(report):
    lines = ["## Vocabulary overlap", ""]
    o = report["vocabulary_overlap"]
    if not o:
        return lines + ["Measured by the first transferred model's run; none has finished.", ""]
    lines += markdown_table(
        ["source sememes (q)", "target sememes", "shared types", "OOV types",
         "OOV share of target item–sememe links", "target items with no shared sememe"],
        [[f"{o['source_q']:,}", f"{o['target_q']:,}", f"{o['shared_types']:,}",
          f"{o['oov_types']:,} ({o['oov_type_share']:.1%})",
          f"{o['oov_link_share']:.1%} ({o['oov_links']:,} of {o['links']:,})",
          f"{o['items_without_shared_sememe']:,} of {o['items']:,}"]],
    )  # fmt: skip
    lines += [
        "",
        (
            f"Most frequent shared target words: {', '.join(o['shared_examples']) or '–'}. Most "
            f"frequent OOV target words: {', '.join(o['oov_examples']) or '–'}. The interest of "
            f"the S2IDM models is read in the source vocabulary ({o['source_q']:,} columns): "
            "S2IDM spreads it onto source words the target lacks."
        ),
        "",
    ]
    return lines


def _results(report):
    models = report["aggregate"]["models"]
    tests = {
        (t["model"], t.get("metric")): t for t in report["aggregate"]["paired_tests"]
    }  # fmt: skip
    lines = ["## Results", "", "Test split, mean ± std over seeds (std from 2 seeds up).", ""]
    rows = []
    for model, s in models.items():
        base = tests.get((model, "ndcg@10"))
        change = base.get("relative_change") if base else None
        rows.append(
            [f"`{model}`", ROLES.get(model, "")]
            + [mean_std(s["test"].get(m)) for m in report["metrics"]]
            + [f"{change:+.1%}" if change is not None else "–", _p(base),
               ", ".join(map(str, s["seeds"])), mean_std(s["best_epoch"], 1),
               duration(s["wall_s"]["mean"])]
        )  # fmt: skip
    header = ["model", "what", *map(metric_label, report["metrics"])]
    header += ["NDCG@10 vs SASRec", "paired p", "seeds", "best epoch", "wall time"]
    lines += markdown_table(header, rows) if rows else ["No run has finished yet."]
    if report["failed"]:
        lines += ["", "Failed (no record; rerun the command): " + "; ".join(report["failed"])]
    return lines + [""]


def _p(test):
    if not test:
        return "–"
    return f"{test['p']:.3f}" if test.get("p") is not None else "n/a"


def _source(report):
    s = report["source_s2idm"]
    lines = ["## Source S2IDM", ""]
    how = "given with --source-s2idm" if s.get("given") else "trained by this command"
    lines += [f"`{s['path']}` ({how}; sha256 {str(s.get('sha256'))[:16]}…)."]
    if s.get("command"):
        lines += ["", "```bash", s["command"], "```"]
    if s.get("wall_s") is not None:
        lines += ["", f"Training took {duration(s['wall_s'])} (its log: `logs/source-s2idm/`)."]
    return lines + [""]


def _configs(report):
    return configs_section(
        report,
        lambda files, overrides: (
            f"Target config files, lowest precedence first: {files}; then "
            f"the protocol, profile and transfer settings; then the overrides: {overrides}. Every "
            "run's final config is in the .json (`run_configs`) and in its record."
        ),
    )
