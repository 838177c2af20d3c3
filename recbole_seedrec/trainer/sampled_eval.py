"""Sampled evaluation (``mode: uniN`` / ``popN``) from one encoding per evaluated row.

RecBole's ``Trainer._neg_sample_batch_eval`` hands ``model.predict`` every candidate as its own
row, so a sequence model re-encodes the same history ``1 + N`` times. The candidates of one
row share that row's features and differ only in the item id, so one ``full_sort_predict`` per
row (or the optional ``predict_candidates`` hook) and a gather give the same scores.

Full ranking (``mode: full``) stays RecBole's, except that for a model exact under trimming the
rows of a batch are scored in groups of similar length, each cut to its longest row.
"""

import numpy as np
import torch
from recbole.data.interaction import Interaction
from recbole.utils import EvaluatorType

from recbole_seedrec.data.batching import (
    length_grouping_applies,
    padded_list_fields,
    predict_by_length,
)
from recbole_seedrec.data.candidates import CANDIDATE_FIELD
from recbole_seedrec.traits import trait

__all__ = ["CandidateScoringMixin"]


def candidate_layout(row_idx, positive_u, length):
    """Map each candidate row of a ``NegSampleEvalDataLoader`` batch to the row it was copied from.

    The loader lays each user out as ``n_u`` positive rows followed by ``N`` copies of them, each
    copy holding one negative per positive row; ``row_idx`` (user slot per candidate) and
    ``positive_u`` (user slot per positive) give ``n_u`` and the block boundaries. Returns
    ``(distinct, source, rank)``: the interaction rows to encode, the distinct row each candidate
    came from, and which copy it is (0 = the positive). ``None`` when the batch does not have
    that layout (a loader of another kind), so the caller falls back to RecBole's path.
    """
    if row_idx is None or positive_u is None or len(positive_u) == 0:
        return None
    n_users = int(positive_u[-1]) + 1
    per_user = torch.bincount(positive_u, minlength=n_users)
    n_pos = len(positive_u)
    if length % n_pos or (per_user == 0).any():
        return None
    times = length // n_pos
    expected_rows = torch.repeat_interleave(torch.arange(n_users), per_user * times)
    if not torch.equal(row_idx.cpu(), expected_rows):
        return None
    first_pos = torch.cumsum(per_user, 0) - per_user  # this user's first distinct row
    block_start = first_pos * times  # this user's first candidate row
    offset = torch.arange(length) - block_start[row_idx]
    n_u = per_user[row_idx]
    source = first_pos[row_idx] + offset % n_u
    rank = torch.div(offset, n_u, rounding_mode="floor")
    distinct = torch.repeat_interleave(block_start, per_user) + (
        torch.arange(n_pos) - torch.repeat_interleave(first_pos, per_user)
    )
    return distinct, source, rank


def sort_rows(items):
    """``items.sort(dim=1)``. On the CPU NumPy's argsort does it: vectorised, it sorts a uni999
    batch several times faster than torch (ml-100k, 943 x 1,000: 12 ms against 42 ms, AVX-512).
    Equal items may come in either order, as with torch's unstable sort."""
    if items.device.type != "cpu":
        return items.sort(dim=1)
    order = torch.from_numpy(np.argsort(items.numpy(), axis=1))
    return items.gather(1, order), order


def compact_candidate_scores(row_scores, candidates, min_width):
    """RecBole's ``[users, n_items]`` score matrix, shrunk to the candidates' columns.

    For one evaluated row per user. RecBole's collector ranks each row of that matrix: its
    finite cells are the distinct candidates (a repeated negative fills one cell), the rest is
    ``-inf``, and GAUC counts the finite cells as the first ``-inf`` after sorting. Here the
    columns are the candidates sorted by item id (the matrix's own column order), a repeat is
    ``-inf``, and ``-inf`` columns follow (at least one, and ``min_width`` columns in all, for
    top-k): the same ranks, ties and counts, on 1 + N columns instead of n_items. Returns
    ``(scores, positive_u, positive_i)`` with ``positive_i`` the positive's column.
    """
    items, order = sort_rows(candidates.to(row_scores.device))
    scores = row_scores.gather(1, order)
    repeated = torch.zeros_like(items, dtype=torch.bool)
    repeated[:, 1:] = items[:, 1:] == items[:, :-1]
    scores = scores.masked_fill(repeated, -np.inf)
    padding = max(1, min_width - scores.shape[1])
    scores = torch.cat([scores, scores.new_full((len(scores), padding), -np.inf)], dim=1)
    positive = candidates[:, :1].to(items.device)
    positive_column = ((items == positive) & ~repeated).to(torch.int8).argmax(dim=1)
    return scores, torch.arange(len(scores), device=scores.device), positive_column


class CandidateScoringMixin:
    """Scores sampled candidates from one encoding per evaluated row; metrics stay RecBole's.

    Compose before a RecBole trainer: ``type(name, (CandidateScoringMixin, Trainer), {})``.
    A model may define ``predict_candidates(interaction, candidate_items)`` (``interaction``: the
    distinct rows on ``self.device``; ``candidate_items``: ``[rows, 1 + N]`` item ids, positive
    first) returning ``[rows, 1 + N]`` scores, when a full score row over all items is too costly.
    Models with neither that hook nor ``full_sort_predict``, and ``eval_type`` VALUE, take
    RecBole's own path.
    """

    length_group_rows = 256  # rows per length group when scoring all items

    def _neg_sample_batch_eval(self, batched_data):
        interaction, row_idx, positive_u, positive_i = batched_data
        if CANDIDATE_FIELD in interaction:
            return self._candidate_matrix_eval(interaction, positive_u, positive_i)
        if self.config["eval_type"] != EvaluatorType.RANKING:
            return super()._neg_sample_batch_eval(batched_data)
        layout = candidate_layout(row_idx, positive_u, len(interaction))
        origin_scores = None if layout is None else self._score_candidates(interaction, layout)
        if origin_scores is None:
            return super()._neg_sample_batch_eval(batched_data)
        # RecBole's own scatter. A user with several evaluated rows (not leave-one-out) can get
        # the same item for two of them; one arbitrary score wins that cell, there as here.
        col_idx = interaction[self.config["ITEM_ID_FIELD"]].to(self.device)
        scores = torch.full(
            (int(positive_u[-1]) + 1, self.tot_item_num), -np.inf, device=self.device
        )
        scores[row_idx.to(self.device), col_idx] = origin_scores
        return interaction, scores, positive_u, positive_i

    def _candidate_matrix_eval(self, interaction, positive_u, positive_i):
        """Rows from :class:`CandidateEvalDataLoader`: each row once, candidates beside it."""
        candidates = interaction[CANDIDATE_FIELD]
        rows = Interaction(
            {k: v for k, v in interaction.interaction.items() if k != CANDIDATE_FIELD}
        )
        parts = []
        for part, part_candidates in self._chunks(rows, candidates):
            parts.append(self._predict_all_items(part, part_candidates.to(self.device)))
        row_scores = torch.cat(parts)  # [rows, 1 + N]
        if self._collector_reads_only_ranks() and len(torch.unique(positive_u)) == len(positive_u):
            return (
                interaction,
                *compact_candidate_scores(row_scores, candidates, max(self.eval_collector.topk)),
            )
        # Write in RecBole's order (per user: positives, then each copy) so that a repeated
        # (user, item) pair keeps the score RecBole would keep.
        user_of_row = positive_u.to(self.device)
        copy = torch.arange(candidates.shape[1], device=self.device)
        order = torch.argsort(
            (user_of_row.unsqueeze(1) * candidates.shape[1] + copy).flatten(), stable=True
        )
        scores = torch.full(
            (int(positive_u[-1]) + 1, self.tot_item_num), -np.inf, device=self.device
        )
        flat_users = user_of_row.unsqueeze(1).expand_as(candidates).flatten()[order]
        flat_items = candidates.to(self.device).flatten()[order]
        scores[flat_users, flat_items] = row_scores.flatten()[order]
        return interaction, scores, positive_u, positive_i

    def _full_sort_batch_eval(self, batched_data):
        """RecBole's full ranking, with the model's rows scored by :meth:`_predict_all_items`
        (length groups, when exact): RecBole's masking of seen items is kept as it is."""
        model = self.model
        if not length_grouping_applies(self.config, type(model)):
            return super()._full_sort_batch_eval(batched_data)
        model.full_sort_predict = self._predict_all_items  # shadows the method for this batch
        try:
            return super()._full_sort_batch_eval(batched_data)
        finally:
            del model.full_sort_predict

    def _predict_all_items(self, rows, columns=None):
        """``full_sort_predict`` as ``[rows, n_items]``, or only its ``columns`` (``[rows, k]``
        item ids). RecBole pads every evaluated row to ``MAX_ITEM_LIST_LENGTH``; for a model
        exact under trimming (the rule of training's length-grouped batches), rows of similar
        length run together, each group cut to its longest row: the same scores for less
        work."""
        rows = rows.to(self.device)
        full_sort_predict = type(self.model).full_sort_predict  # never the shadow above

        def predict(group):
            return full_sort_predict(self.model, group).view(len(group), -1)

        length_field = self.config["ITEM_LIST_LENGTH_FIELD"]
        if length_field not in rows or not length_grouping_applies(self.config, type(self.model)):
            scores = predict(rows)
            return scores if columns is None else scores.gather(1, columns)
        list_fields = padded_list_fields(self.config, rows)
        return predict_by_length(
            predict, rows, length_field, list_fields, self.length_group_rows, columns
        )

    def _collector_reads_only_ranks(self):
        """True when every metric needs only ranks (NDCG, Hit, MRR, GAUC, ...): then columns
        need not be item ids. ItemCoverage and the like read item ids, value metrics scores."""
        register = self.eval_collector.register
        return not (register.need("rec.items") or register.need("rec.score"))

    def _score_candidates(self, interaction, layout):
        """One score per candidate row, or ``None`` when the model supports neither route."""
        distinct, source, rank = layout
        rows = Interaction({key: value[distinct] for key, value in interaction.interaction.items()})
        items = interaction[self.config["ITEM_ID_FIELD"]]
        hook = trait(self.model, "predict_candidates")
        if hook is not None:
            table = torch.zeros(len(distinct), len(source) // len(distinct), dtype=items.dtype)
            table[source, rank] = items
            scores = torch.cat(
                [
                    hook(part.to(self.device), part_items.to(self.device))
                    for part, part_items in self._chunks(rows, table)
                ]
            )
            return scores[source.to(self.device), rank.to(self.device)]
        if getattr(self, "_full_sort_unsupported", False):
            return None
        source, items = source.to(self.device), items.to(self.device)
        origin_scores = None
        for part, first in self._chunks(rows, torch.arange(len(distinct))):
            try:
                full = self._predict_all_items(part)
            except NotImplementedError:
                self._full_sort_unsupported = True  # ask once per trainer, not once per batch
                return None
            if origin_scores is None:
                origin_scores = torch.empty(len(source), dtype=full.dtype, device=self.device)
            lo = int(first[0])
            mine = (source >= lo) & (source < lo + len(part))
            origin_scores[mine] = full[source[mine] - lo, items[mine]]
        return origin_scores

    def _chunks(self, rows, aligned):
        """Split the distinct rows into ``eval_batch_size`` pieces, as full-sort evaluation does."""
        size = max(1, self.test_batch_size)
        for start in range(0, len(rows), size):
            yield rows[start : start + size], aligned[start : start + size]
