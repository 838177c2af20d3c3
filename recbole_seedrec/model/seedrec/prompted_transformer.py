"""SASRec-family encoders with the k prompts before the items (SeeDRec on SASRec, CL4SRec)."""

import torch
from torch import nn

from recbole_seedrec.errors import ConfigError
from recbole_seedrec.model.seedrec.ipe import PROMPT_INJECTIONS

PROMPT_PLACEMENTS = ("before_items", "after_items")


def attend_from_rows(layer, hidden, rows, attention_mask):
    """One RecBole ``TransformerLayer`` for the query at ``rows`` only (keys: every position).

    Next-item training reads one position per row, so in the last layer the other positions'
    queries, attention outputs and feed-forward passes are never used. Same weights, scaling,
    mask, dropouts and residuals as ``MultiHeadAttention.forward``; returns ``[B, d]``.
    """
    attention = layer.multi_head_attention
    batch = torch.arange(hidden.size(0), device=hidden.device)
    heads, size = attention.num_attention_heads, attention.attention_head_size
    query_input = hidden[batch, rows].unsqueeze(1)  # [B, 1, d]
    query = attention.query(query_input).view(-1, 1, heads, size).transpose(1, 2)
    key = attention.key(hidden).view(hidden.size(0), -1, heads, size).permute(0, 2, 3, 1)
    value = attention.value(hidden).view(hidden.size(0), -1, heads, size).transpose(1, 2)
    mask = attention_mask[batch, :, rows].unsqueeze(2)  # [B, 1, 1, L]: the query row's mask
    scores = torch.matmul(query, key) / attention.sqrt_attention_head_size + mask
    probs = attention.attn_dropout(attention.softmax(scores))
    context = torch.matmul(probs, value).transpose(1, 2).reshape(-1, 1, heads * size)
    output = attention.LayerNorm(attention.out_dropout(attention.dense(context)) + query_input)
    return layer.feed_forward(output).squeeze(1)


class PromptedTransformerMixin:
    """Mix in before :class:`SememeInterestMixin` on a backbone with SASRec's encoder.

    With ``read_out_only_last_layer`` (default) the last layer runs for the read-out position
    alone (:func:`attend_from_rows`): the same output, for less work than the backbone's full
    last layer even with the k prompts added.
    """

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.read_out_only_last_layer = config["read_out_only_last_layer"] is not False
        self.prompt_placement = config["prompt_placement"] or "before_items"
        if self.prompt_placement not in PROMPT_PLACEMENTS:
            raise ConfigError(
                f"prompt_placement: {self.prompt_placement!r} is not one of "
                f"{', '.join(PROMPT_PLACEMENTS)} (before_items is the paper's)."
            )
        self.prompt_injection = config["prompt_injection"] or "backbone"
        if self.prompt_injection not in PROMPT_INJECTIONS:
            raise ConfigError(
                f"prompt_injection: {self.prompt_injection!r} is not one of "
                f"{', '.join(PROMPT_INJECTIONS)} (raw is the SeeDRec release's)."
            )
        if self.prompt_injection == "raw" and self.prompt_placement != "before_items":
            raise ConfigError("prompt_injection: raw needs prompt_placement: before_items.")
        if self.prompt_num:  # prompts get positions too: room for k more before the items
            size = self.position_embedding.num_embeddings + self.prompt_num
            self.position_embedding = nn.Embedding(size, self.hidden_size)
            self._init_weights(self.position_embedding)

    def adapt_warm_start(self, name, tensor):
        """A backbone checkpoint's position table into ours (``init_from``): its row j goes
        where the item of that place now sits (row k + j with the prompts before the items);
        the prompts' own rows stay fresh."""
        own = self.position_embedding.weight
        if name != "position_embedding.weight" or len(tensor) + self.prompt_num != len(own):
            return None
        first = self.prompt_num if self.prompt_placement == "before_items" else 0
        adapted = own.detach().clone().cpu()
        adapted[first : first + len(tensor)] = tensor
        return adapted

    def forward(self, item_seq, item_seq_len, prompts=None):
        """SASRec's encoder over the items and the k prompts, with RecBole's right padding.

        ``before_items`` (the paper): prompts take positions 0..k-1 and count as real keys in
        the causal mask, so every item attends to them; the read-out moves from ``len - 1`` to
        ``k + len - 1``. ``after_items``: prompts follow the last item, see the whole history,
        and the read-out is the last prompt (the items never see the prompts).
        """
        emb, keys, read_out = self._with_prompts(item_seq, item_seq_len, prompts)
        positions = torch.arange(emb.size(1), device=item_seq.device)
        position_emb = self.position_embedding(positions)
        hidden = self.dropout(self.LayerNorm(emb + position_emb))
        if self.prompt_injection == "raw" and prompts is not None:
            k = prompts.size(1)
            hidden = torch.cat([prompts + position_emb[:k], hidden[:, k:]], dim=1)
        mask = self.get_attention_mask(keys)
        if not self.read_out_only_last_layer:
            output = self.trm_encoder(hidden, mask, output_all_encoded_layers=True)[-1]
            return self.gather_indexes(output, read_out)
        *first_layers, last_layer = self.trm_encoder.layer
        for layer in first_layers:
            hidden = layer(hidden, mask)
        return attend_from_rows(last_layer, hidden, read_out, mask)

    def _with_prompts(self, item_seq, item_seq_len, prompts):
        """(embeddings, key ids for the mask, read-out position) of each row."""
        emb = self.item_embedding(item_seq)
        k = 0 if prompts is None else prompts.size(1)
        if not k:
            return emb, item_seq, item_seq_len - 1
        real = item_seq.new_ones(item_seq.size(0), k)
        if self.prompt_placement == "before_items":
            keys = torch.cat([real, item_seq], dim=1)
            return torch.cat([prompts, emb], dim=1), keys, item_seq_len - 1 + k
        # after_items: the prompts go into each row's first k slots after its last item
        emb = torch.cat([emb, emb.new_zeros(emb.size(0), k, emb.size(2))], dim=1)
        keys = torch.cat([item_seq, item_seq.new_zeros(item_seq.size(0), k)], dim=1)
        slots = item_seq_len.unsqueeze(1) + torch.arange(k, device=item_seq.device)
        emb = emb.scatter(1, slots.unsqueeze(2).expand_as(prompts), prompts)
        return emb, keys.scatter(1, slots, real), item_seq_len - 1 + k
