"""SASRec-family encoders with the k prompts before the items (SeeDRec on SASRec, CL4SRec)."""

import torch
from torch import nn


class PromptedTransformerMixin:
    """Mix in before :class:`SememeInterestMixin` on a backbone with SASRec's encoder."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        if self.prompt_num:  # prompts get positions too: room for k more before the items
            size = self.position_embedding.num_embeddings + self.prompt_num
            self.position_embedding = nn.Embedding(size, self.hidden_size)
            self._init_weights(self.position_embedding)

    def forward(self, item_seq, item_seq_len, prompts=None):
        """SASRec's encoder over [prompts; items] with RecBole's right padding.

        Prompts take positions 0..k-1 and count as real keys in the causal mask, so every item
        attends to them; the read-out moves from ``len - 1`` to ``k + len - 1``.
        """
        emb = self.item_embedding(item_seq)
        keys = item_seq
        k = 0 if prompts is None else prompts.size(1)
        if k:
            emb = torch.cat([prompts, emb], dim=1)
            keys = torch.cat([item_seq.new_ones(item_seq.size(0), k), item_seq], dim=1)
        positions = torch.arange(emb.size(1), device=item_seq.device)
        hidden = self.dropout(self.LayerNorm(emb + self.position_embedding(positions)))
        output = self.trm_encoder(
            hidden, self.get_attention_mask(keys), output_all_encoded_layers=True
        )[-1]
        return self.gather_indexes(output, item_seq_len - 1 + k)
