"""The next-item losses a sequence encoder of this package trains with.

``CE`` (RecBole's, over every item), ``BPR``, or the SeeDRec release's ``BCE``: one sampled
negative per row, logits ``cosine(h, e) * bce_temperature``, and cosine scores at prediction.
RecBole knows only CE and BPR, so the backbone is built as for BPR (the same pairs).
"""

import torch
import torch.nn.functional as F

DEFAULT_BCE_TEMPERATURE = 10.0  # the release's README runs on Home (its argparse default: 5)


class _LossTypeView:
    """The config as a RecBole backbone must see it: BCE trains on the same pairs as BPR."""

    def __init__(self, config):
        self._config = config

    def __getitem__(self, key):
        value = self._config[key]
        return "BPR" if key == "loss_type" and value == "BCE" else value

    def __getattr__(self, name):
        return getattr(self._config, name)

    def __contains__(self, key):
        return key in self._config


class NextItemLossMixin:
    """Mix in before a RecBole sequential model: adds ``loss_type: BCE`` (cosine x temperature).

    The model encodes a row into ``seq_output`` [B, d]; :meth:`next_item_loss` scores it against
    the target (and, for BPR and BCE, the sampled negative).
    """

    def __init__(self, config, dataset):
        super().__init__(_LossTypeView(config), dataset)
        self.loss_type = config["loss_type"]
        temperature = config["bce_temperature"]
        self.bce_temperature = DEFAULT_BCE_TEMPERATURE if temperature is None else temperature

    def scored_item_embeddings(self):
        return self.item_embedding.weight[: self.n_items]

    def _scores(self, seq_output, item_emb):
        if self.loss_type == "BCE":  # the release: cosine x temperature
            return F.normalize(seq_output, dim=-1) @ F.normalize(item_emb, dim=-1).T
        return seq_output @ item_emb.T

    def next_item_loss(self, seq_output, interaction):
        pos_items = interaction[self.POS_ITEM_ID]
        if self.loss_type == "CE":
            logits = self._scores(seq_output, self.scored_item_embeddings())
            return self.loss_fct(logits, pos_items)  # the backbone's CE (fused_cross_entropy)
        pos = self._pair_scores(seq_output, pos_items)
        neg = self._pair_scores(seq_output, interaction[self.NEG_ITEM_ID])
        if self.loss_type == "BPR":
            return self.loss_fct(pos, neg)
        logits = torch.stack([pos, neg], dim=1) * self.bce_temperature
        labels = torch.stack([torch.ones_like(pos), torch.zeros_like(neg)], dim=1)
        return F.binary_cross_entropy_with_logits(logits, labels)

    def _pair_scores(self, seq_output, items):
        item_emb = self.item_embedding(items)
        if self.loss_type == "BCE":
            return F.cosine_similarity(seq_output, item_emb, dim=-1)
        return (seq_output * item_emb).sum(-1)
