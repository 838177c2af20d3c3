"""The loop several model tests share: a few Adam steps on one fixed batch."""

import math

import torch


def fit_one_batch(model, make_batch, steps, lr=0.01):
    """The losses of ``steps`` Adam steps on ``make_batch()``; each must be finite."""
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = model.calculate_loss(make_batch())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(value) for value in losses)
    return losses


def late_over_early(losses, window):
    """Mean of the last ``window`` losses over the mean of the first ``window``."""
    return sum(losses[-window:]) / sum(losses[:window])
