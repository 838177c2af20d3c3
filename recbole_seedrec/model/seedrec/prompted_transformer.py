"""SASRec-family encoders with the k prompts before the items (SeeDRec on SASRec, CL4SRec)."""

import torch
from torch import nn

from recbole_seedrec.errors import ConfigError
from recbole_seedrec.model.seedrec.ipe import PROMPT_INJECTIONS
from recbole_seedrec.speedups.read_out_only import ReadOutOnlyEncoderMixin

PROMPT_PLACEMENTS = ("before_items", "after_items")


class PromptedTransformerMixin(ReadOutOnlyEncoderMixin):
    """Mix in before :class:`SememeInterestMixin` on a backbone with SASRec's encoder.

    With ``read_out_only_last_layer`` (on by default at build time) the last layer runs for the
    read-out position alone, as the backbones' own encoders do
    (:mod:`recbole_seedrec.speedups.read_out_only`).
    """

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
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
        return self.encode_to_rows(hidden, mask, read_out)

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
