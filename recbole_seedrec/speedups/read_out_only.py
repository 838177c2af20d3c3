"""The last Transformer layer of a SASRec-family encoder, run for the read-out position alone.

Next-item training and scoring read one position per row (``len - 1``, or the last prompt), so in
the last layer the other positions' queries, attention rows and feed-forward passes are never
used. Running that layer for the read-out query alone gives the same output and gradients for
less work. In training, the attention dropout then draws a mask for one query row instead of
``L``: the random stream, and with it a seed's trajectory, differs from the full layer's (as it
does between two machines), while every step computes the same function.
``read_out_only_last_layer: False`` runs the whole layer.
"""

import torch

OPTION = "read_out_only_last_layer"


def attend_from_rows(layer, hidden, rows, attention_mask):
    """One RecBole ``TransformerLayer`` for the query at ``rows`` only (keys: every position).

    Same weights, scaling, mask, dropouts and residuals as ``MultiHeadAttention.forward``.

    Args:
        layer: a RecBole ``TransformerLayer``.
        hidden: its input, ``[B, L, d]``.
        rows: the read-out position of each row, ``[B]``.
        attention_mask: RecBole's additive mask, ``[B, 1, L, L]``.

    Returns:
        torch.Tensor: the layer's output at ``rows``, ``[B, d]``.
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


class ReadOutOnlyEncoderMixin:
    """Mix in before RecBole's ``SASRec`` (or a model with its encoder): the shortcut, off until
    :func:`use_read_out_only_last_layer` switches it on at build time."""

    read_out_only_last_layer = False

    def forward(self, item_seq, item_seq_len):
        """SASRec's encoder, read at ``len - 1``; RecBole's own forward when the switch is off."""
        if not self.read_out_only_last_layer:
            return super().forward(item_seq, item_seq_len)
        positions = torch.arange(item_seq.size(1), device=item_seq.device)
        emb = self.item_embedding(item_seq) + self.position_embedding(positions)
        hidden = self.dropout(self.LayerNorm(emb))
        return self.encode_to_rows(hidden, self.get_attention_mask(item_seq), item_seq_len - 1)

    def encode_to_rows(self, hidden, attention_mask, rows):
        """The model's ``trm_encoder`` over ``hidden``, read at ``rows``.

        Args:
            hidden: the input embeddings, ``[B, L, d]``.
            attention_mask: RecBole's additive mask, ``[B, 1, L, L]``.
            rows: the read-out position of each row, ``[B]``.

        Returns:
            torch.Tensor: ``[B, d]``; with the switch off, RecBole's whole last layer read by
            its ``gather_indexes``.
        """
        if not self.read_out_only_last_layer:
            output = self.trm_encoder(hidden, attention_mask, output_all_encoded_layers=True)[-1]
            return self.gather_indexes(output, rows)
        *first_layers, last_layer = self.trm_encoder.layer
        for layer in first_layers:
            hidden = layer(hidden, attention_mask)
        return attend_from_rows(last_layer, hidden, rows, attention_mask)


def use_read_out_only_last_layer(model):
    """Switch the shortcut on for ``model`` if its encoder has it.

    Args:
        model: a built model.

    Returns:
        int: 1 if switched on, 0 if the model has no such encoder.
    """
    if not isinstance(model, ReadOutOnlyEncoderMixin):
        return 0
    model.read_out_only_last_layer = True
    return 1
