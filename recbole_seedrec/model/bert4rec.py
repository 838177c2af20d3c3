"""RecBole's BERT4Rec, with its CE loss computed only where an item was masked.

RecBole scores every item at ``int(mask_ratio * MAX_ITEM_LIST_LENGTH)`` slots per row (10 at
length 50) and then weights the padding slots' losses by zero. On Amazon Home, where a row holds
8.2 items on average, most slots are padding: the ``[batch, 10, n_items]`` logits, their
softmax and its backward took most of an epoch (475 s on 2 cores). Here the same mean over the
masked slots is taken over those slots alone, so the loss and its gradients are RecBole's up to
float rounding (``tests/test_bert4rec.py``). Training batches are length-grouped and trimmed, as
SASRec's are (``train_batching``), which changes no row's output either.

The model keeps RecBole's name, parameters and configuration (RecBole's ``BERT4Rec.yaml``), so
``--model BERT4Rec`` runs this class and RecBole's checkpoints load into it.
"""

import torch
from recbole.model.sequential_recommender.bert4rec import BERT4Rec as RecBoleBERT4Rec
from torch import nn


class BERT4Rec(RecBoleBERT4Rec):
    # Padding keys are masked out of the bidirectional attention and positions count from the
    # left, so a row's real positions read the same with less right padding; at prediction
    # RecBole drops the first column whatever the width, after putting the mask behind the row.
    exact_under_trimming = True

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.loss_fct = nn.CrossEntropyLoss()  # a module, so fused_cross_entropy can swap it

    def calculate_loss(self, interaction):
        if self.loss_type != "CE":
            return super().calculate_loss(interaction)
        masked_index = interaction[self.MASK_INDEX]  # [B, mask_len], 0 for an empty slot
        seq_output = self.forward(interaction[self.MASK_ITEM_SEQ])  # [B, L, H]
        # RecBole counts a slot when its index is > 0 (so a mask at position 0 is not counted)
        rows, slots = torch.nonzero(masked_index > 0, as_tuple=True)
        if len(rows) == 0:
            return _no_update(seq_output)
        masked_output = seq_output[rows, masked_index[rows, slots]]  # [masked, H]
        item_emb = self.item_embedding.weight[: self.n_items]
        logits = masked_output @ item_emb.t() + self.output_bias  # [masked, n_items]
        return self.loss_fct(logits, interaction[self.POS_ITEMS][rows, slots])


def _no_update(like):
    """The loss of a batch with no counted slot: zero, reaching no parameter, so the optimiser
    leaves every parameter as it is (RecBole's mean over no slot is NaN, which stops training).
    Length-grouped batches make such batches: one-item rows, whose only mask, at position 0,
    RecBole does not count."""
    return like.new_zeros((), requires_grad=True)  # on the model's device
