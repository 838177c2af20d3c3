"""Markdown table helpers shared by the comparison's reports (``report``, ``few_shot``,
``transfer_report``): kept apart so that each report imports them without importing another."""


def metric_label(key):
    name, _, k = key.partition("@")
    label = {"ndcg": "NDCG", "hit": "Hit", "gauc": "GAUC", "mrr": "MRR"}.get(name, name)
    return f"{label}@{k}" if k else label


def mean_std(summary, digits=4):
    if not summary or summary.get("mean") is None:
        return "–"
    if summary.get("std") is None:
        return f"{summary['mean']:.{digits}f}"
    return f"{summary['mean']:.{digits}f} ± {summary['std']:.{digits}f}"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines
