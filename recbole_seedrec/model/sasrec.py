"""RecBole's SASRec, with the SeeDRec release's loss as a third ``loss_type``.

``loss_type: BCE`` trains on one sampled negative per row with logits
``cosine(h, e) * bce_temperature`` and ranks by cosine, as the release trains its SASRec and
SeeDRec alike; this lets SASRec and SeeDRecSASRec be compared under one loss. ``CE`` and
``BPR`` are RecBole's own code paths, unchanged. The model keeps RecBole's name, parameters and
configuration (RecBole's ``SASRec.yaml``; ``bce_temperature`` defaults to 10), so ``--model
SASRec`` runs this class and RecBole's checkpoints load into it. Its last layer runs for the
read-out position alone unless ``read_out_only_last_layer: False``
(:mod:`recbole_seedrec.speedups.read_out_only`).
"""

from recbole.model.sequential_recommender.sasrec import SASRec as RecBoleSASRec

from recbole_seedrec.model.layers.next_item_loss import NextItemLossMixin
from recbole_seedrec.speedups.read_out_only import ReadOutOnlyEncoderMixin


class SASRec(NextItemLossMixin, ReadOutOnlyEncoderMixin, RecBoleSASRec):
    exact_under_trimming = True  # causal attention; padding after the items

    def calculate_loss(self, interaction):
        if self.loss_type != "BCE":
            return super().calculate_loss(interaction)
        return self.next_item_loss(self._encode(interaction), interaction)

    def predict(self, interaction):
        if self.loss_type != "BCE":
            return super().predict(interaction)
        return self._pair_scores(self._encode(interaction), interaction[self.ITEM_ID])

    def full_sort_predict(self, interaction):
        if self.loss_type != "BCE":
            return super().full_sort_predict(interaction)
        return self._scores(self._encode(interaction), self.scored_item_embeddings())

    def _encode(self, interaction):
        return self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
