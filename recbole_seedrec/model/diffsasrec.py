"""DiffSASRec: masked (absorbing-state) discrete diffusion over item sequences (LLaDA-style).

A training row of RecBole (a prefix and its next item) is the sequence ``prefix + [target]``.
Each real item is replaced by [MASK] with the row's rate ``p``; a bidirectional SASRec-style
Transformer predicts the masked items; the loss is their cross-entropy divided by ``p``
(:mod:`recbole_seedrec.model.layers.masked_diffusion`).

Ranking (RecBole's evaluators): one [MASK] after the history, items ranked by its logits, in a
single step. Generation (:meth:`DiffSASRec.generate`): K [MASK] slots after the history, filled
over several steps by confidence. An optional fine-tuning stage on next-item prediction (mask
the target only) follows pre-training: :class:`recbole_seedrec.trainer.DiffSASRecTrainer`.

[MASK] is item id ``n_items``: read in sequences, never a class of the loss nor a scored item.
Fixed from the release: attention masks padding keys (bidirectional, with no padding mask
there); items are right-padded as RecBole pads them.
"""

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.model.layers import TransformerEncoder
from recbole.utils import InputType
from torch import nn

from recbole_seedrec.errors import ConfigError
from recbole_seedrec.model.diffurec import check_fraction, is_integer
from recbole_seedrec.model.layers.masked_diffusion import (
    confident_fill,
    mask_items,
    masked_diffusion_loss,
    masking_rates,
)


class DiffSASRec(SequentialRecommender):
    """Bidirectional Transformer trained by masked diffusion; optional next-item fine-tuning."""

    input_type = InputType.POINTWISE
    # Padding keys are masked and positions count from the left, so the padding after a row
    # changes nothing it computes: length-grouped, trimmed batches apply.
    exact_under_trimming = True

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._check_options(config)
        self.hidden_size = config["hidden_size"]
        self.initializer_range = config["initializer_range"]
        self.min_mask_rate = float(config["min_mask_rate"])
        self.generation_slots = config["generation_slots"]
        self.generation_threshold = float(config["generation_threshold"])
        self.generation_threshold_decay = float(config["generation_threshold_decay"])
        self.generation_max_steps = config["generation_max_steps"]

        self.mask_token = self.n_items
        self.item_embedding = nn.Embedding(self.n_items + 1, self.hidden_size, padding_idx=0)
        # Room for the history plus the target (training) or the K generation slots.
        positions = self.max_seq_length + max(1, self.generation_slots)
        self.position_embedding = nn.Embedding(positions, self.hidden_size)
        self.encoder = TransformerEncoder(
            n_layers=config["n_layers"],
            n_heads=config["n_heads"],
            hidden_size=self.hidden_size,
            inner_size=config["inner_size"],
            hidden_dropout_prob=config["hidden_dropout_prob"],
            attn_dropout_prob=config["attn_dropout_prob"],
            hidden_act=config["hidden_act"],
            layer_norm_eps=config["layer_norm_eps"],
        )
        self.input_norm = nn.LayerNorm(self.hidden_size, eps=config["layer_norm_eps"])
        self.input_dropout = nn.Dropout(config["hidden_dropout_prob"])
        # 1 once the trainer has started the next-item fine-tuning stage (kept in checkpoints).
        self.register_buffer("finetuning", torch.zeros((), dtype=torch.bool))
        self.apply(self._init_module)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def _init_module(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=self.initializer_range)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_options(self, config):
        for key in ("hidden_size", "n_layers", "n_heads", "inner_size", "generation_slots"):
            if not is_integer(config[key], 1):
                raise ConfigError(f"`{key}` must be an integer >= 1, not {config[key]!r}.")
        if config["hidden_size"] % config["n_heads"]:
            raise ConfigError("`hidden_size` must be a multiple of `n_heads`.")
        for key in ("hidden_dropout_prob", "attn_dropout_prob"):
            check_fraction(config, key)
        if not 0 < config["min_mask_rate"] <= 1:
            raise ConfigError("`min_mask_rate` (eps in p = (1 - eps) t + eps) must be in (0, 1].")
        if not 0 < config["generation_threshold"] <= 1:
            raise ConfigError("`generation_threshold` is a probability: give a value in (0, 1].")
        if not 0 < config["generation_threshold_decay"] < 1:
            raise ConfigError("`generation_threshold_decay` must be in (0, 1).")
        steps = config["generation_max_steps"]
        if steps is not None and not is_integer(steps, 1):
            raise ConfigError("`generation_max_steps` must be an integer >= 1, or ~ for K.")
        if config["loss_type"] != "CE":
            raise ConfigError(
                f"DiffSASRec trains with cross-entropy: `loss_type` must be 'CE', "
                f"not {config['loss_type']!r}."
            )
        if not is_integer(config["finetune_epochs"], 0):
            raise ConfigError("`finetune_epochs` must be an integer >= 0 (0: no fine-tuning).")
        rate = config["finetune_learning_rate"]
        if rate is not None and not (isinstance(rate, (int, float)) and rate > 0):
            raise ConfigError("`finetune_learning_rate` must be > 0, or ~ for `learning_rate`.")
        patience = config["finetune_stopping_step"]
        if patience is not None and not is_integer(patience, 1):
            raise ConfigError(
                "`finetune_stopping_step` must be an integer >= 1, or ~ for `stopping_step`."
            )

    # ----- encoder ---------------------------------------------------------------------------
    def encode(self, sequences):
        """Bidirectional Transformer over ``sequences`` [B, W] (padding keys masked): [B, W, H]."""
        positions = torch.arange(sequences.size(1), device=sequences.device)
        emb = self.item_embedding(sequences) + self.position_embedding(positions)
        hidden = self.input_dropout(self.input_norm(emb))
        mask = self.get_attention_mask(sequences, bidirectional=True)
        return self.encoder(hidden, mask, output_all_encoded_layers=False)[-1]

    def item_logits(self, hidden):
        """Scores of every real item (never [MASK]): [..., n_items]."""
        return hidden @ self.item_embedding.weight[: self.n_items].T

    def with_slots(self, item_seq, item_seq_len, slots):
        """The history followed by ``slots`` [MASK] tokens, right-padded: ``(sequences, slot
        positions [B, slots])``. Histories too long for the positions keep their latest items."""
        room = self.position_embedding.num_embeddings - slots
        if room < 1:
            raise ValueError(
                f"{slots} slots leave no position for the history; raise "
                "`generation_slots` in the config to make room."
            )
        kept = item_seq_len.clamp(max=room)
        width = min(item_seq.size(1), room)
        offsets = torch.arange(width, device=item_seq.device).unsqueeze(0)
        source = (item_seq_len - kept).unsqueeze(1) + offsets
        history = item_seq.gather(1, source.clamp(max=item_seq.size(1) - 1))
        history = history.masked_fill(offsets >= kept.unsqueeze(1), 0)
        sequences = F.pad(history, (0, slots))
        slot_positions = kept.unsqueeze(1) + torch.arange(slots, device=item_seq.device)
        return sequences.scatter(1, slot_positions, self.mask_token), slot_positions

    # ----- training --------------------------------------------------------------------------
    def calculate_loss(self, interaction):
        if bool(self.finetuning):
            return self.next_item_loss(interaction)
        return self.diffusion_loss(interaction)

    def diffusion_loss(self, interaction):
        """Masked-diffusion loss on ``prefix + [target]`` (weights 1 / p on masked items)."""
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        sequences = F.pad(item_seq, (0, 1))
        sequences = sequences.scatter(
            1, item_seq_len.unsqueeze(1), interaction[self.POS_ITEM_ID].unsqueeze(1)
        )
        rates = masking_rates(len(sequences), self.min_mask_rate, sequences.device)
        corrupted, masked = mask_items(sequences, rates, self.mask_token)
        hidden = self.encode(corrupted)[masked]  # only the masked positions are scored
        row_rates = rates.unsqueeze(1).expand_as(masked)[masked]
        return masked_diffusion_loss(
            self.item_logits(hidden), sequences[masked], row_rates, (sequences != 0).sum()
        )

    def next_item_logits(self, item_seq, item_seq_len):
        """Logits of the one [MASK] after the history: [B, n_items]."""
        sequences, slot_positions = self.with_slots(item_seq, item_seq_len, 1)
        hidden = self.encode(sequences)
        return self.item_logits(self.gather_indexes(hidden, slot_positions[:, 0]))

    def next_item_loss(self, interaction):
        """Fine-tuning objective: cross-entropy of the next item at a single [MASK]."""
        logits = self.next_item_logits(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return F.cross_entropy(logits, interaction[self.POS_ITEM_ID])

    def start_finetuning(self):
        self.finetuning.fill_(True)

    # ----- ranking ---------------------------------------------------------------------------
    def full_sort_predict(self, interaction):
        return self.next_item_logits(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])

    def predict(self, interaction):
        scores = self.full_sort_predict(interaction)
        return scores.gather(1, interaction[self.ITEM_ID].unsqueeze(1)).squeeze(1)

    # ----- generation ------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        item_seq,
        item_seq_len,
        slots=None,
        threshold=None,
        threshold_decay=None,
        max_steps=None,
        exclude_seen=True,
    ):
        """Generate ``slots`` distinct next items per row in several denoising steps.

        K [MASK] slots follow the history. Each step encodes the sequence once; slots whose top
        probability reaches the row's threshold are filled, most confident first; when none
        qualifies, the row's threshold is multiplied by ``threshold_decay`` until one does. The
        last allowed step (``max_steps``, default K) fills every open slot: ``max_steps=1``
        is one pass, K steps at most one item each. Padding, [MASK], earlier fills and, with
        ``exclude_seen``, the history's items are never generated.

        Returns ``(items [B, K], confidences [B, K], steps)``; an item is -1 only when the
        catalogue ran out of allowed items. Defaults come from the ``generation_*`` options.
        """
        slots = slots or self.generation_slots
        threshold = self.generation_threshold if threshold is None else threshold
        decay = self.generation_threshold_decay if threshold_decay is None else threshold_decay
        max_steps = max_steps or self.generation_max_steps or slots
        if not 0 < decay < 1 or not 0 < threshold <= 1 or max_steps < 1:
            raise ValueError("need 0 < threshold <= 1, 0 < threshold_decay < 1, max_steps >= 1")
        was_training = self.training
        self.eval()
        try:
            return self._generate(
                item_seq, item_seq_len, slots, threshold, decay, max_steps, exclude_seen
            )
        finally:
            self.train(was_training)

    def _generate(self, item_seq, item_seq_len, slots, threshold, decay, max_steps, exclude_seen):
        sequences, slot_positions = self.with_slots(item_seq, item_seq_len, slots)
        batch = len(sequences)
        forbidden = torch.zeros(batch, self.n_items, dtype=torch.bool, device=sequences.device)
        forbidden[:, 0] = True
        if exclude_seen:
            forbidden.scatter_(1, item_seq, True)
        items = torch.full((batch, slots), -1, dtype=torch.long, device=sequences.device)
        confidences = torch.zeros(batch, slots, device=sequences.device)
        thresholds = torch.full((batch,), float(threshold), device=sequences.device)
        open_slots = torch.ones(batch, slots, dtype=torch.bool, device=sequences.device)
        steps = 0
        while steps < max_steps and bool(open_slots.any()):
            hidden = self.encode(sequences).gather(
                1, slot_positions.unsqueeze(-1).expand(-1, -1, self.hidden_size)
            )
            logits = self.item_logits(hidden).masked_fill(forbidden.unsqueeze(1), float("-inf"))
            probs = torch.softmax(logits.float(), dim=-1).nan_to_num(0.0)
            steps += 1
            new_items, new_conf, thresholds = confident_fill(
                probs, open_slots, thresholds, decay, fill_all=steps == max_steps
            )
            filled = new_items >= 0
            items = torch.where(filled, new_items, items)
            confidences = torch.where(filled, new_conf.to(confidences.dtype), confidences)
            open_slots &= ~filled
            current = sequences.gather(1, slot_positions)
            sequences = sequences.scatter(
                1, slot_positions, torch.where(filled, new_items, current)
            )
            forbidden |= torch.zeros_like(forbidden).scatter_(1, new_items.clamp(min=0), filled)
        return items, confidences, steps
