"""Sampled evaluation data without RecBole's 1 + N copies of every row.

RecBole's ``NegSampleEvalDataLoader`` repeats each evaluated row (its whole item sequence)
once per candidate: 22.8 M rows for one uni999 pass over Amazon Home. This loader asks the
same sampler for the same negatives, in the same calls, and returns each row once with its
candidates in ``CANDIDATE_FIELD`` ``[rows, 1 + N]`` (positive first). The batch layout that the
trainer and the collector see (``row_idx``, ``positive_u``, ``positive_i``) is RecBole's.
"""

import torch
from recbole.data import data_preparation as recbole_data_preparation
from recbole.data.dataloader import NegSampleEvalDataLoader, TrainDataLoader
from recbole.data.interaction import Interaction
from recbole.utils import EvaluatorType, ModelType

from recbole_seedrec.data.batching import LengthGroupedTrainDataLoader, length_grouping_applies
from recbole_seedrec.registry import get_model

CANDIDATE_FIELD = "candidate_items"


class CandidateEvalDataLoader(NegSampleEvalDataLoader):
    def _init_batch_size_and_step(self):
        """Rows are not copied, so ``eval_batch_size`` counts rows, as in full-sort evaluation."""
        times, self.times = self.times, 1
        try:
            super()._init_batch_size_and_step()
        finally:
            self.times = times

    def _neg_sample_by_point_wise_sampling(self, inter_feat, neg_item_ids):
        rows = len(inter_feat)
        negatives = neg_item_ids.view(self.neg_sample_num, rows).T  # RecBole's copy-major order
        candidates = torch.cat([inter_feat[self.iid_field].view(-1, 1), negatives], dim=1)
        inter_feat.update(Interaction({CANDIDATE_FIELD: candidates}))
        return inter_feat


def data_preparation(config, dataset, model_class=None):
    """RecBole's ``data_preparation``. For sequential models, training batches of similar length
    (:mod:`recbole_seedrec.data.batching`, when exact for ``model_class``) and sampled ranking
    evaluation by :class:`CandidateEvalDataLoader`, over the same data sets and samplers."""
    loaders = list(recbole_data_preparation(config, dataset))
    if config["MODEL_TYPE"] != ModelType.SEQUENTIAL:
        return tuple(loaders)
    if model_class is None:
        model_class = get_model(config["model"])
    train = loaders[0]
    if type(train) is TrainDataLoader and length_grouping_applies(config, model_class):
        loaders[0] = LengthGroupedTrainDataLoader(
            config, train._dataset, train._sampler, shuffle=train.shuffle
        )
    if config["eval_type"] != EvaluatorType.RANKING:
        return tuple(loaders)
    for i in (1, 2):
        loader = loaders[i]
        if type(loader) is NegSampleEvalDataLoader and not loader.neg_sample_args.get("dynamic"):
            loaders[i] = CandidateEvalDataLoader(config, loader._dataset, loader._sampler)
    return tuple(loaders)
