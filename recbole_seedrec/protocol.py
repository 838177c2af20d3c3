"""The evaluation protocol: a property of the experiment, never of the model.

One command line gives every model the same protocol, whether the model is this package's or
RecBole's. The ``protocol`` option names it:

- ``recbole`` (default): RecBole's own defaults, so that a run here scores exactly as RecBole's
  ``run_recbole`` does. For sequential models: leave-one-out in time order, full ranking,
  Recall/MRR/NDCG/Hit/Precision@10, selection on MRR@10.
- ``paper``: the SeeDRec paper's (``properties/protocol/paper.yaml``): 999 sampled negatives
  per target, NDCG/Hit@5/10/20 and GAUC, selection on NDCG@10.
- ``full``: DiffuRec's (``properties/protocol/full.yaml``): every item ranked, NDCG/Hit@5/10/20.

A protocol's yaml is loaded after the model's and the data set's yamls and before the user's
config files, so options given beside it (``--topk=[10]``) still win; the protocol line says
which ones did.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from recbole_seedrec.errors import ConfigError

OPTION = "protocol"
OVERRIDES_OPTION = "protocol_overrides"  # set by Config: the protocol options the run changed
DEFAULT = "recbole"
PROTOCOL_DIR = Path(__file__).parent / "properties" / "protocol"
# The options that make up a protocol. No model's yaml sets them (tests/test_protocol.py).
KEYS = ("eval_args", "repeatable", "metrics", "topk", "valid_metric")


def protocol_names() -> list[str]:
    """Every protocol's name, the default first.

    Returns:
        list[str]: ``recbole``, then the names of the yamls in ``properties/protocol/``.
    """
    return [DEFAULT, *sorted(path.stem for path in PROTOCOL_DIR.glob("*.yaml"))]


def protocol_file(name: str | None) -> Path | None:
    """The yaml that defines protocol ``name``.

    Args:
        name: a protocol's name (``None`` means the default).

    Returns:
        Path | None: the file, or None for ``recbole`` (RecBole's defaults: nothing to load).

    Raises:
        ConfigError: for a name that is no protocol.
    """
    name = DEFAULT if name is None else name
    if name == DEFAULT:
        return None
    path = PROTOCOL_DIR / f"{name}.yaml"
    if not isinstance(name, str) or not path.is_file():
        names = protocol_names()
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"Did you mean {close[0]}? " if close else ""
        raise ConfigError(
            f"--{OPTION} {name}", "is not a protocol", f"{hint}Choose one of {', '.join(names)}."
        )
    return path


def protocol_settings(name: str) -> dict:
    """The options protocol ``name`` sets, as a config dict (empty for ``recbole``).

    Args:
        name: a protocol's name.

    Returns:
        dict: ``eval_args``, ``repeatable``, ``metrics``, ``topk``, ``valid_metric``.
    """
    path = protocol_file(name)
    if path is None:
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def changed_options(internal: dict, external: dict) -> list[str]:
    """The protocol options a run's own config changes.

    Args:
        internal: the config dict before the user's files, dict and command line (RecBole's
            defaults, the model's and data set's yamls, then the protocol's yaml).
        external: what the user gave.

    Returns:
        list[str]: the options of :data:`KEYS` whose given value differs from the protocol's.
    """
    return [key for key in KEYS if key in external and external[key] != internal.get(key)]


def merged_eval_args(internal, external):
    """``eval_args`` given in part (``--eval_args="{'mode': 'full'}"``) completed from the
    protocol's, instead of from RecBole's general defaults (a random 80/10/10 split).

    Args:
        internal: the protocol's ``eval_args`` (or RecBole's default for the model type).
        external: the user's ``eval_args``.

    Returns:
        The merged dict, or ``external`` unchanged when either is not a dict.
    """
    if isinstance(internal, dict) and isinstance(external, dict):
        return {**internal, **external}
    return external


def _split_text(eval_args):
    split, order = eval_args.get("split") or {}, eval_args.get("order")
    ordered = "in time order" if order == "TO" else "in random order"
    if "LS" in split:
        kind = "leave-one-out" if split["LS"] == "valid_and_test" else "leave-one-out (test only)"
        return f"{kind} {ordered}"
    if "RS" in split:
        ratios = "/".join(f"{ratio * 100:g}" for ratio in split["RS"])
        grouped = " per user" if eval_args.get("group_by") == "user" else ""
        return f"{ratios} split{grouped} {ordered}"
    return f"split {split} {ordered}"


def _mode_text(mode, eval_negatives=None):
    if mode == "full":
        return "full ranking"
    if mode.startswith(("uni", "pop")):
        count, kind = mode[3:], "uniform" if mode.startswith("uni") else "popularity"
        distinct = ", distinct and unseen by the user" if eval_negatives == "unseen" else ""
        return f"{count} {kind} negatives per target{distinct}"
    return mode


def _ranking_text(eval_args, eval_negatives):
    mode = eval_args.get("mode") or "full"
    if isinstance(mode, dict):
        valid, test = mode.get("valid", "full"), mode.get("test", "full")
        if valid != test:
            return (
                f"validation {_mode_text(valid, eval_negatives)}, "
                f"test {_mode_text(test, eval_negatives)}"
            )
        mode = valid
    return _mode_text(mode, eval_negatives)


def describe_protocol(config) -> str:
    """The protocol a run uses, in one line, for its log and its result.

    Args:
        config: a RecBole ``Config`` (or its final dict) after this package's ``Config`` set it.

    Returns:
        str: e.g. ``protocol: paper (leave-one-out in time order, 999 uniform negatives per
        target; NDCG, Hit, GAUC @5/10/20; selected on NDCG@10 (validation))``.
    """
    final = getattr(config, "final_config_dict", config)
    eval_args = final.get("eval_args") or {}
    metrics = final.get("metrics") or []
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    topk = final.get("topk")
    topk = "/".join(map(str, topk if isinstance(topk, (list, tuple)) else [topk]))
    split = "TEST, the release's defect" if final.get("selection_split") == "test" else "validation"
    name = final.get(OPTION) or "unnamed"  # a checkpoint saved before protocols had names
    changed = final.get(OVERRIDES_OPTION) or []
    changed = f", with the run's own {', '.join(changed)}" if changed else ""
    return (
        f"protocol: {name}{changed} ({_split_text(eval_args)}, "
        f"{_ranking_text(eval_args, final.get('eval_negatives'))}; "
        f"{', '.join(metrics)} @{topk}; selected on {final.get('valid_metric')} ({split}))"
    )
