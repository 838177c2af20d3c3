"""Masked (absorbing-state) diffusion over item sequences, as in the LLaDA language model.

Forward process: per sequence ``t ~ U(0, 1)``, masking rate ``p = (1 - eps) t + eps``, and each
real item independently replaced by [MASK] with probability ``p``. The model predicts the masked
items; the loss is their cross-entropy divided by ``p``, averaged over the real items, an
unbiased estimate of the per-item bound. Generation fills [MASK] slots by confidence.
"""

import math

import torch
import torch.nn.functional as F


def masking_rates(batch_size, min_rate, device, generator=None):
    """``p = (1 - min_rate) t + min_rate`` per sequence, ``t ~ U(0, 1)``: never exactly 0."""
    t = torch.rand(batch_size, device=device, generator=generator)
    return (1.0 - min_rate) * t + min_rate


def mask_items(sequences, rates, mask_token, generator=None):
    """Replace each real item (id != 0) by ``mask_token`` with its row's probability.

    Returns the corrupted sequences and the bool mask of replaced positions; padding is never
    masked.
    """
    draws = torch.rand(sequences.shape, device=sequences.device, generator=generator)
    masked = (draws < rates.unsqueeze(1)) & (sequences != 0)
    return sequences.masked_fill(masked, mask_token), masked


def masked_diffusion_loss(logits, targets, rates, n_real):
    """``sum over masked positions of CE / p``, divided by the number of real items.

    ``logits`` [M, N] and ``targets`` [M] at the M masked positions, ``rates`` [M] their rows'
    masking rates, ``n_real`` the real (non-padding) items of the batch. A batch where nothing
    was masked gives 0 (still part of the graph).
    """
    losses = F.cross_entropy(logits, targets, reduction="none")
    return (losses / rates).sum() / max(int(n_real), 1)


def lower_thresholds(thresholds, best, decay):
    """Per row, ``threshold * decay^n`` with the smallest ``n`` that lets ``best`` qualify.

    Rows whose best confidence already qualifies, or is 0 (nothing left to pick), keep theirs.
    """
    stuck = (best < thresholds) & (best > 0)
    if not bool(stuck.any()):
        return thresholds
    ratio = (best / thresholds).clamp(min=1e-30)
    n = torch.ceil(torch.log(ratio) / math.log(decay)).clamp(min=1)
    lowered = torch.minimum(thresholds * decay**n, best)  # min: rounding never leaves it above
    return torch.where(stuck, lowered, thresholds)


def confident_fill(probs, open_slots, thresholds, decay, fill_all=False):
    """One generation round over a single encoder pass.

    ``probs`` [B, K, N] slot distributions (forbidden items at 0), ``open_slots`` [B, K] bool,
    ``thresholds`` [B]. A row with open slots but none whose top probability reaches its
    threshold first lowers it (:func:`lower_thresholds`). Then, per row, the most confident
    qualifying slot is filled, its item is removed from the row's other slots, and so on until
    no open slot qualifies: distinct items, most confident first. ``fill_all`` fills every open
    slot that still has an item to take. Returns ``items`` [B, K] (-1 where not filled),
    ``confidences`` [B, K] and the thresholds.
    """
    probs = probs.clone()
    open_slots = open_slots.clone()
    items = torch.full(open_slots.shape, -1, dtype=torch.long, device=probs.device)
    confidences = torch.zeros(open_slots.shape, dtype=probs.dtype, device=probs.device)
    best = probs.max(-1).values.masked_fill(~open_slots, 0).max(-1).values
    if not fill_all:
        thresholds = lower_thresholds(thresholds, best, decay)
    rows = torch.arange(len(probs), device=probs.device)
    for _ in range(probs.size(1)):
        top, top_item = probs.max(-1)  # [B, K]
        bar = torch.zeros_like(thresholds) if fill_all else thresholds
        eligible = open_slots & (top > 0) & (top >= bar.unsqueeze(1))
        slot_conf, slot = top.masked_fill(~eligible, -1.0).max(-1)
        take = slot_conf >= 0
        if not bool(take.any()):
            break
        row, slot = rows[take], slot[take]
        item = top_item[row, slot]
        items[row, slot] = item
        confidences[row, slot] = slot_conf[take]
        open_slots[row, slot] = False
        probs[row, :, item] = 0.0
    return items, confidences, thresholds
