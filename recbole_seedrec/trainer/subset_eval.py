"""Test metrics over a subset of users, sliced from the same evaluation as the full set.

A second evaluation restricted to the subset would draw other negatives (RecBole's sampler
reads the global random state) and cost a second pass. Instead, the trainer's own evaluation
runs once, unchanged; the collector's per-row results (top-k hits, mean ranks, scores) are kept
with the user of each row, and RecBole's evaluator computes the metrics again over the rows of
the subset: the same scores, the same negatives, the same metric code.
"""

from logging import getLogger

import torch
from recbole.evaluator.collector import DataStruct
from recbole.utils import set_color

# What RecBole's collector keeps one row per evaluated user for (the rest is global).
ROW_KEYS = ("rec.items", "rec.topk", "rec.meanrank", "rec.score")


def score_row_users(scores, interaction, uid_field):
    """The user of each row of a batch's score matrix. One interaction row per score row (full
    ranking, this package's candidate rows), or each user's rows together in score-row order
    (RecBole's sampled loader repeats them per candidate)."""
    uid = interaction[uid_field].cpu()
    if len(uid) == len(scores):
        return uid
    users = torch.unique_consecutive(uid)
    if len(users) != len(scores):
        raise RuntimeError(
            f"cannot tell the user of each of the {len(scores)} score rows from "
            f"{len(uid)} interaction rows; subset metrics need one block of rows per user"
        )
    return users


def slice_struct(struct, keep):
    """A copy of the collector's ``DataStruct`` with only the rows where ``keep`` is true."""
    sliced = DataStruct()
    for key, value in struct._data_dict.items():
        if key in ROW_KEYS:
            if len(value) != len(keep):
                raise RuntimeError(f"collector's {key} has {len(value)} rows, not {len(keep)}")
            value = value[keep]
        sliced.set(key, value)
    return sliced


@torch.no_grad()
def evaluate_with_subset(trainer, eval_data, users, **evaluate_kwargs):
    """``trainer.evaluate(eval_data, **evaluate_kwargs)``, and the metrics of that same
    evaluation over the rows of ``users`` (internal ids).

    Returns ``(result, subset_result, subset_rows)``; ``subset_result`` is None when no
    evaluated row belongs to ``users``.
    """
    if not trainer.config["single_spec"]:
        raise NotImplementedError("subset metrics are computed on one process only")
    collector, uid_field = trainer.eval_collector, trainer.config["USER_ID_FIELD"]
    row_users, kept = [], {}
    collect, get_struct = collector.eval_batch_collect, collector.get_data_struct

    def recording_collect(scores, interaction, positive_u, positive_i):
        row_users.append(score_row_users(scores, interaction, uid_field))
        return collect(scores, interaction, positive_u, positive_i)

    def keeping_struct():
        kept["struct"] = get_struct()
        return kept["struct"]

    collector.eval_batch_collect, collector.get_data_struct = recording_collect, keeping_struct
    try:
        result = trainer.evaluate(eval_data, **evaluate_kwargs)
    finally:  # the instance attributes shadowed the class's methods: remove them
        del collector.eval_batch_collect, collector.get_data_struct
    if not row_users:
        return result, None, 0
    keep = torch.isin(torch.cat(row_users), torch.as_tensor(users).cpu())
    if not keep.any():
        return result, None, 0
    subset = trainer.evaluator.evaluate(slice_struct(kept["struct"], keep))
    return result, subset, int(keep.sum())


def evaluate_test(trainer, test_data, few_shot=None, **evaluate_kwargs):
    """The test evaluation of a run; with ``few_shot`` (``data.few_shot.FewShotUsers``) also
    its metrics over the few-shot users, logged and returned as a dict (else None)."""
    if few_shot is None:
        return trainer.evaluate(test_data, **evaluate_kwargs), None
    result, subset, rows = evaluate_with_subset(
        trainer, test_data, few_shot.users, **evaluate_kwargs
    )
    report = {
        "max_sememes": few_shot.max_sememes,
        "users": len(few_shot.users),
        "test_users": len(few_shot.test_users),
        "rows": rows,
        "test_result": subset,
    }
    label = f"few-shot test (<= {few_shot.max_sememes} sememes, {rows:,} users)"
    getLogger().info(set_color(label, "yellow") + f": {subset}")
    return result, report


def few_shot_fields(report):
    """A run result's few-shot keys (``run_recbole_seedrec``, ``recbole-seedrec evaluate``) from
    :func:`evaluate_test`'s report; none without one."""
    if report is None:
        return {}
    return {
        "test_result_few_shot": report["test_result"],
        "few_shot_users": report["users"],
        "test_users": report["test_users"],
        "few_shot_max_sememes": report["max_sememes"],
    }
