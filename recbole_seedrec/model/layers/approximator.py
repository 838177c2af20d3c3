"""DiffuRec's approximator: pre-LayerNorm Transformer blocks over the noised history.

Masks are RecBole's additive masks (``SequentialRecommender.get_attention_mask``): 0 where a
query may attend, a large negative number elsewhere, broadcast over heads. Self-attention gets
the causal mask restricted to real (non-padding) keys; the optional cross-attention (DiffuRecSys)
gets the key-padding mask only.
"""

import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head scaled dot-product attention; queries and keys may come from different streams."""

    def __init__(self, hidden_size, n_heads, attn_dropout_prob):
        super().__init__()
        if hidden_size % n_heads:
            raise ValueError(f"hidden size {hidden_size} is not a multiple of {n_heads} heads")
        self.n_heads = n_heads
        self.attn_dropout_prob = attn_dropout_prob
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, hidden_size)

    def _heads(self, x):
        batch, length, hidden = x.shape
        return x.view(batch, length, self.n_heads, hidden // self.n_heads).transpose(1, 2)

    def forward(self, queries, keys, mask):
        """``queries`` [B, Lq, H]; ``keys`` [B, Lk, H], also the values; ``mask`` [B, 1, Lq, Lk]."""
        context = F.scaled_dot_product_attention(
            self._heads(self.query(queries)),
            self._heads(self.key(keys)),
            self._heads(self.value(keys)),
            attn_mask=mask.to(queries.dtype),
            dropout_p=self.attn_dropout_prob if self.training else 0.0,
        )
        batch, _, length, _ = context.shape
        return self.output(context.transpose(1, 2).reshape(batch, length, -1))


class ApproximatorBlock(nn.Module):
    """``h + Attn(LN h)`` then ``h + FFN(LN h)``; with ``cross_attention``, first
    ``h + CrossAttn(LN target -> LN h)`` on every real position (DiffuRecSys)."""

    def __init__(
        self,
        hidden_size,
        n_heads,
        inner_size,
        dropout_prob,
        attn_dropout_prob,
        eps,
        cross_attention=False,
    ):
        super().__init__()
        self.cross = None
        if cross_attention:
            self.cross = Attention(hidden_size, n_heads, attn_dropout_prob)
            self.cross_query_norm = nn.LayerNorm(hidden_size, eps=eps)
            self.cross_key_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.attention = Attention(hidden_size, n_heads, attn_dropout_prob)
        self.attention_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden_size, inner_size),
            nn.GELU(),
            nn.Dropout(dropout_prob),
            nn.Linear(inner_size, hidden_size),
        )
        self.feed_forward_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(dropout_prob)

    def forward(self, hidden, self_mask, valid, target=None, key_mask=None):
        if self.cross is not None:
            read = self.cross(self.cross_query_norm(target), self.cross_key_norm(hidden), key_mask)
            hidden = hidden + self.dropout(read) * valid  # [B, 1, H] read-out to every real item
        normed = self.attention_norm(hidden)
        hidden = hidden + self.dropout(self.attention(normed, normed, self_mask))
        return hidden + self.dropout(self.feed_forward(self.feed_forward_norm(hidden)))


class Approximator(nn.Module):
    """Blocks stacked (each feeds the next), then dropout and a final LayerNorm.

    ``forward(hidden, self_mask, valid, target, key_mask)``: ``hidden`` [B, L, H] the noised
    history, ``valid`` [B, L, 1] 1.0 on real items, ``target`` [B, 1, H] the noisy target with
    its time embedding (read by cross-attention only). Returns [B, L, H].
    ``block_options`` are :class:`ApproximatorBlock`'s; the final dropout and LayerNorm share
    its sizes.
    """

    def __init__(self, n_layers, **block_options):
        super().__init__()
        self.cross_attention = block_options.get("cross_attention", False)
        self.blocks = nn.ModuleList(ApproximatorBlock(**block_options) for _ in range(n_layers))
        self.dropout = nn.Dropout(block_options["dropout_prob"])
        self.norm = nn.LayerNorm(block_options["hidden_size"], eps=block_options["eps"])
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, hidden, self_mask, valid, target=None, key_mask=None):
        if self.cross_attention and (target is None or key_mask is None):
            raise ValueError("cross-attention needs the noisy target and the key-padding mask")
        for block in self.blocks:
            hidden = block(hidden, self_mask, valid, target, key_mask)
        return self.norm(self.dropout(hidden))
