"""Training batches of similar-length rows, cut to their longest row.

RecBole pads every training row to ``MAX_ITEM_LIST_LENGTH``; on Amazon Home 88 % of the token
positions are padding, and trimming random batches saves nothing because nearly every batch
holds one full-length row. Grouping rows of similar length and trimming each batch to its
longest row removes that padding. For a model whose output for a row does not depend on how
much right padding follows it (causal attention with RecBole's masks, recurrent encoders), each
row's computation is unchanged; only which rows share a batch changes, and the batch order is
shuffled every epoch.
"""

import numpy as np
import torch
from recbole.data.dataloader import TrainDataLoader

from recbole_seedrec.distributed import rank_and_size
from recbole_seedrec.traits import trait

__all__ = [
    "LengthGroupedTrainDataLoader",
    "length_grouping_applies",
    "padded_list_fields",
    "predict_by_length",
]

# RecBole models whose per-row output is proven unchanged by trimming (tests/test_batching.py).
# A model of this package declares it with ``exact_under_trimming = True``.
RECBOLE_MODELS_EXACT_UNDER_TRIMMING = frozenset({"SASRec", "GRU4Rec"})
# RecBole transforms that read each row up to its length only: masking (BERT4Rec's) draws per
# real item and writes a masked copy of the sequence, trimmed with it (tests/test_bert4rec.py).
TRANSFORMS_EXACT = frozenset({"mask_itemseq"})

BATCHING_CHOICES = ("auto", "length_grouped", "random")


def length_grouping_applies(config, model_class):
    """Whether training uses :class:`LengthGroupedTrainDataLoader` (option ``train_batching``).

    ``auto`` (default) groups for models known to be exact under trimming and leaves every other
    model on RecBole's loader; ``length_grouped`` forces it (the model must then tolerate
    batches shorter than ``MAX_ITEM_LIST_LENGTH``); ``random`` is RecBole's loader.
    """
    choice = config["train_batching"] or "auto"  # Config has checked the value
    if choice != "auto":
        return choice == "length_grouped"
    # Other data transforms may read the padded length (inverse_itemseq reverses it); workers
    # would bypass the batch order below.
    transform_exact = not config["transform"] or config["transform"] in TRANSFORMS_EXACT
    return exact_under_trimming(model_class) and transform_exact and not config["worker"]


def exact_under_trimming(model_class):
    exact = trait(model_class, "exact_under_trimming")
    if exact is None:
        return model_class.__name__ in RECBOLE_MODELS_EXACT_UNDER_TRIMMING
    return bool(exact)


def padded_list_fields(config, interaction):
    """The sequence fields RecBole pads to ``MAX_ITEM_LIST_LENGTH`` (``item_id_list``, ...)."""
    suffix, full_length = config["LIST_SUFFIX"], config["MAX_ITEM_LIST_LENGTH"]
    return [
        field
        for field in interaction.columns
        if field.endswith(suffix)
        and interaction[field].dim() == 2
        and interaction[field].shape[1] == full_length
    ]


def trim_to_longest(interaction, length_field, list_fields):
    """Cut the padded sequence fields of ``interaction`` to its longest row, in place."""
    longest = max(1, int(interaction[length_field].max()))
    for field in list_fields:
        if field in interaction.interaction:
            interaction.interaction[field] = interaction.interaction[field][:, :longest]
    return interaction


def predict_by_length(predict, rows, length_field, list_fields, group_rows=256, columns=None):
    """``predict(rows)`` with rows of similar length run together, each group trimmed to its
    longest row; the outputs come back in the rows' order. With ``columns`` (``[rows, k]``
    indices) each group keeps only its rows' columns, so no ``[rows, n_items]`` is assembled."""
    order = torch.argsort(rows[length_field].cpu(), stable=True)
    outputs = None
    for group in torch.split(order, group_rows):
        scores = predict(trim_to_longest(rows[group], length_field, list_fields))
        if columns is not None:
            scores = scores.gather(1, columns[group.to(columns.device)])
        if outputs is None:
            outputs = scores.new_empty((len(order), *scores.shape[1:]))
        outputs[group.to(outputs.device)] = scores
    return outputs


class LengthGroupedTrainDataLoader(TrainDataLoader):
    """RecBole's training loader with length-sorted batches, each trimmed to its longest row.

    Each epoch: a random permutation (RecBole's seeded generator), a stable sort by length (so
    rows of one length stay in random order), cut into batches of ``train_batch_size`` rows,
    then the batches are shuffled. The number of batches is RecBole's. Sampled negatives,
    transforms and the interaction fields are RecBole's; only list fields are trimmed. In a
    distributed run every rank draws the one-process batches and takes every ``world_size``-th
    row of each: a step sees the rows it would see in one process.
    """

    def __init__(self, config, dataset, sampler, shuffle=False):
        super().__init__(config, dataset, sampler, shuffle=shuffle)
        self._length_field = config["ITEM_LIST_LENGTH_FIELD"]
        self._row_lengths = dataset.inter_feat[self._length_field].clone()

    def __iter__(self):
        for batch_rows in self._batches():
            yield self.collate_fn(batch_rows)

    def _batches(self):
        """Index arrays of one epoch's batches."""
        if self.shuffle:
            order = torch.randperm(self.sample_size, generator=self.generator)
        else:
            order = torch.arange(self.sample_size)
        order = order[torch.argsort(self._row_lengths[order], stable=True)]
        rank, world_size = rank_and_size(self.config)
        batches = list(torch.split(order, self.step * world_size))  # one process's batches
        if self.shuffle:
            shuffled = torch.randperm(len(batches), generator=self.generator)
            batches = [batches[i] for i in shuffled]
        if world_size > 1:  # every rank drew the same batches (one seed): each takes its rows
            batches = [
                batch[rank::world_size] if len(batch) > rank else batch[:1] for batch in batches
            ]
        return [batch.numpy() for batch in batches]

    def collate_fn(self, index):
        data = super().collate_fn(np.asarray(index))
        # read from the batch: a transform may add sequences (mask_itemseq: Mask_item_id_list)
        list_fields = padded_list_fields(self.config, data)
        return trim_to_longest(data, self._length_field, list_fields)
