"""SeeDRec on SASRec: S2IDM's generalised interests become k prompts before the items."""

from recbole.model.sequential_recommender.sasrec import SASRec

from recbole_seedrec.model.layers.sememe_interest import (
    SememeInterestMixin,
    prompted_transformer_forward,
    widen_position_embedding,
)


class SeeDRecSASRec(SememeInterestMixin, SASRec):
    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        widen_position_embedding(self, self.prompt_num)

    def forward(self, item_seq, item_seq_len, prompts=None):
        return prompted_transformer_forward(self, item_seq, item_seq_len, prompts)
