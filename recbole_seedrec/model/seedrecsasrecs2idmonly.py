"""The paper's "w/ S2IDM" ablation: S2IDM's interests fused by an MLP, no prompts."""

from recbole.model.sequential_recommender.sasrec import SASRec

from recbole_seedrec.model.seedrec.sememe_interest import InterestFusion, SememeInterestMixin


class SeeDRecSASRecS2IDMOnly(SememeInterestMixin, SASRec):
    uses_prompts = False
    exact_under_trimming = True

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.fusion = InterestFusion(self.interest_q, self.hidden_size)

    def encode(self, interaction):
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        return self.fusion(self.forward(item_seq, item_seq_len), *self.stored_interest(interaction))
