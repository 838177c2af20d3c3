"""Sampled evaluation data without RecBole's 1 + N copies of every row.

RecBole's ``NegSampleEvalDataLoader`` repeats each evaluated row (its whole item sequence)
once per candidate: 22.8 M rows for one uni999 pass over Amazon Home. This loader asks the
same sampler for the same negatives, in the same calls, and returns each row once with its
candidates in ``CANDIDATE_FIELD`` ``[rows, 1 + N]`` (positive first). The batch layout that the
trainer and the collector see (``row_idx``, ``positive_u``, ``positive_i``) is RecBole's.
"""

from logging import getLogger

import numpy as np
import torch
from recbole.data import data_preparation as recbole_data_preparation
from recbole.data.dataloader import NegSampleEvalDataLoader, TrainDataLoader
from recbole.data.interaction import Interaction
from recbole.data.transform import Equal
from recbole.utils import EvaluatorType, ModelType

from recbole_seedrec.data.batching import LengthGroupedTrainDataLoader, length_grouping_applies
from recbole_seedrec.data.unseen_negatives import OPTION as NEGATIVES_OPTION
from recbole_seedrec.data.unseen_negatives import TRAIN_OPTION as TRAIN_NEGATIVES_OPTION
from recbole_seedrec.data.unseen_negatives import TrainingSetNegatives, UnseenNegativeSampler
from recbole_seedrec.distributed import as_one_process
from recbole_seedrec.errors import ConfigError

CANDIDATE_FIELD = "candidate_items"
# Transforms that only add training inputs. RecBole applies them to evaluation rows too, user by
# user, where nothing reads what they add: mask_itemseq draws BERT4Rec's training masks (and
# deep-copies each user's rows), while BERT4Rec predicts from the item sequence alone. Skipping
# it leaves the metrics as they are (tests/test_bert4rec.py) and made a Home validation pass
# several times faster; it no longer draws from Python's ``random`` between training epochs.
TRANSFORMS_UNREAD_AT_EVALUATION = frozenset({"mask_itemseq"})


class CandidateEvalDataLoader(NegSampleEvalDataLoader):
    def __init__(self, config, dataset, sampler, shuffle=False, unseen_negatives=None):
        """``unseen_negatives``: an :class:`UnseenNegativeSampler` that replaces RecBole's
        sampler (``eval_negatives: unseen``), reseeded at the start of every pass."""
        self._unseen_negatives = unseen_negatives
        super().__init__(config, dataset, sampler, shuffle=shuffle)
        if config["transform"] in TRANSFORMS_UNREAD_AT_EVALUATION:
            self.transform = Equal(config)  # RecBole's own no-op transform

    def __iter__(self):
        if self._unseen_negatives is not None:
            self._unseen_negatives.reset()
        return super().__iter__()

    def _init_batch_size_and_step(self):
        """Rows are not copied, so ``eval_batch_size`` counts rows, as in full-sort evaluation."""
        times, self.times = self.times, 1
        try:
            super()._init_batch_size_and_step()
        finally:
            self.times = times

    def collate_fn(self, index):
        """One gather for the whole batch instead of one ``Interaction`` per user.

        The sampler still gets one call per user, in RecBole's order and with RecBole's
        arguments, so it draws the same negatives. A data transform that evaluation reads, which
        RecBole applies per user, keeps RecBole's per-user path.
        """
        if not isinstance(self.transform, Equal) or self.neg_sample_args.get("dynamic"):
            if self._unseen_negatives is not None:
                raise ConfigError(
                    f"{NEGATIVES_OPTION}: unseen does not work with a data transform or dynamic "
                    "negatives; unset one of them."
                )
            return super().collate_fn(index)
        users = self.uid_list[np.asarray(index)]
        counts = self.uid2items_num[users]
        firsts = np.fromiter((self.uid2index[user].start for user in users), np.int64, len(users))
        offsets = np.cumsum(counts) - counts  # each user's first row within the batch
        data = self._dataset[np.repeat(firsts - offsets, counts) + np.arange(counts.sum())]
        user_ids, item_ids = data[self.uid_field].numpy(), data[self.iid_field].numpy()
        if self._unseen_negatives is not None:
            candidates = self._unseen_negatives.sample(user_ids)
            candidates = torch.cat(
                [data[self.iid_field].view(-1, 1), torch.from_numpy(candidates)], 1
            )
            data.update(Interaction({CANDIDATE_FIELD: candidates}))
            return self._batch(data, counts)
        negatives = [
            self._sampler.sample_by_user_ids(
                user_ids[start : start + n], item_ids[start : start + n], self.neg_sample_num
            ).view(self.neg_sample_num, n)
            for start, n in zip(offsets, counts)
        ]
        self._neg_sample_by_point_wise_sampling(data, torch.cat(negatives, dim=1).flatten())
        return self._batch(data, counts)

    def _batch(self, data, counts):
        """RecBole's batch layout: user slot per candidate row and per positive, positives."""
        slots, per_user = torch.arange(len(counts)), torch.from_numpy(counts)
        row_idx = torch.repeat_interleave(slots, per_user * self.times)
        return data, row_idx, torch.repeat_interleave(slots, per_user), data[self.iid_field]

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
        model_class = config.model_class  # resolved by Config from config["model"]
    train = loaders[0]
    if type(train) is TrainDataLoader and length_grouping_applies(config, model_class):
        loaders[0] = LengthGroupedTrainDataLoader(
            config, train._dataset, train._sampler, shuffle=train.shuffle
        )
    if config[TRAIN_NEGATIVES_OPTION] == "unseen":
        loaders[0]._sampler = TrainingSetNegatives(loaders[0]._dataset, loaders[0]._sampler)
    distributed = not config["single_spec"]
    with as_one_process(config):  # in a distributed run rank 0 evaluates every user
        if distributed:  # RecBole gave each rank a share of them
            for i in (1, 2):
                loader = loaders[i]
                loaders[i] = type(loader)(config, loader._dataset, loader._sampler, shuffle=False)
        if config["eval_type"] == EvaluatorType.RANKING:
            loaders[1:] = candidate_loaders(config, dataset, loaders[1:])
    return tuple(loaders)


def candidate_loaders(config, dataset, eval_loaders):
    """The validation and test loaders, each sampled one as a :class:`CandidateEvalDataLoader`
    (``eval_negatives: unseen`` needs one)."""
    warn_if_negatives_repeat(config, dataset)
    unseen = config[NEGATIVES_OPTION] == "unseen"
    loaders = list(eval_loaders)
    for i, phase in enumerate(("valid", "test")):
        loader = loaders[i]
        if type(loader) is NegSampleEvalDataLoader and not loader.neg_sample_args.get("dynamic"):
            loaders[i] = candidate_loader(config, dataset, loader, phase, unseen)
        elif unseen:
            raise ConfigError(
                f"{NEGATIVES_OPTION}: unseen needs sampled evaluation without dynamic "
                f"negatives; the {phase} data uses {type(loader).__name__}."
            )
    return loaders


def warn_if_negatives_repeat(config, dataset):
    """Sampled evaluation with N at least the number of other items: RecBole draws with
    replacement, so the candidate lists repeat items; say so (``eval_negatives: unseen``
    refuses instead). N is RecBole's own reading of ``eval_args.mode`` per phase."""
    others = dataset.item_num - 2  # id 0 is padding; the target
    for phase in ("valid", "test"):
        n = (config[f"{phase}_neg_sample_args"] or {}).get("sample_num")
        if isinstance(n, int) and n > others:
            getLogger().warning(
                f"eval_args mode ({phase}): {n} negatives per target, but data set "
                f"'{config['dataset']}' has only {others} other items, so RecBole draws them "
                "with replacement and each list repeats items. Choose a smaller N (e.g. uni100) "
                "for a list of distinct items."
            )


def candidate_loader(config, dataset, loader, phase, unseen):
    """``loader`` (RecBole's sampled ``phase`` loader) as a :class:`CandidateEvalDataLoader`,
    drawing from RecBole's sampler, or with ``unseen`` from an :class:`UnseenNegativeSampler`
    over the whole ``dataset`` seeded from ``(seed, phase)``."""
    negatives = None
    if unseen:
        seed = (config["seed"], ("valid", "test").index(phase) + 1)
        negatives = UnseenNegativeSampler(dataset, loader.neg_sample_args["sample_num"], seed)
    return CandidateEvalDataLoader(
        config, loader._dataset, loader._sampler, unseen_negatives=negatives
    )
