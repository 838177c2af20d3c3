"""SeeDRec on GRU4Rec: the k prompts are the first k steps the GRU reads."""

import torch
from recbole.model.sequential_recommender.gru4rec import GRU4Rec

from recbole_seedrec.model.seedrec.sememe_interest import SememeInterestMixin


class SeeDRecGRU4Rec(SememeInterestMixin, GRU4Rec):
    exact_under_trimming = True  # a left-to-right GRU never reads the padding it reads out before

    def prompt_size(self):
        return self.embedding_size

    def forward(self, item_seq, item_seq_len, prompts=None):
        emb = self.item_embedding(item_seq)
        k = 0 if prompts is None else prompts.size(1)
        if k:
            emb = torch.cat([prompts, emb], dim=1)
        output, _ = self.gru_layers(self.emb_dropout(emb))
        return self.gather_indexes(self.dense(output), item_seq_len - 1 + k)
