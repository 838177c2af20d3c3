"""Cross-entropy over all items with one pass less over the logits, for training.

A CE model's loss scores every item: on Amazon Home a batch of 1,024 rows holds 24 M logits,
and once length grouping has cut the padding, PyTorch's ``cross_entropy`` and its backward are a
quarter of a training step on the CPU. Its backward builds a dense one-hot gradient, then
computes ``exp`` over the logits a second time. Here the backward turns the saved
log-probabilities into the gradient in place: ``softmax - one_hot``, scaled, in one ``exp``,
in a buffer reused from batch to batch (so the logits' gradient, should a caller keep it with
``retain_grad``, holds only until the next forward).

The loss and the gradient are the same as ``F.cross_entropy``'s up to float rounding, with one
exception: gradient entries below the smallest normal float (about 1e-38 in float32) are
flushed to zero, as flush-to-zero hardware does. Left subnormal, they would make the
arithmetic on them many times slower on x86 CPUs, for no change to any update.
"""

import math
import weakref

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ["FusedCrossEntropyLoss", "use_fused_cross_entropy"]

OPTION = "fused_cross_entropy"


class _Claim:
    """Held by the graph of the forward that uses the buffer, until its backward."""

    def __init__(self, workspace):
        self.workspace = workspace

    def release(self):
        self.workspace.claim = None


class _Workspace:
    """A reusable buffer for the log-probabilities, which become the gradient.

    On the CPU a fresh tensor this large comes from the OS every batch (the allocator returns
    large blocks on free), and faulting its pages in costs as much as the ``exp`` pass; one
    buffer, reused, saves that. It is in use from a forward until that forward's backward, or
    until its graph is dropped without one."""

    def __init__(self):
        self.storage, self.claim = None, None

    def take(self, like):
        if self.claim is not None and self.claim() is not None:  # two losses, one backward
            return torch.empty_like(like), None
        n, storage = like.numel(), self.storage
        fits = storage is not None and storage.numel() >= n
        if not (fits and storage.dtype == like.dtype and storage.device == like.device):
            self.storage = storage = torch.empty(n, dtype=like.dtype, device=like.device)
        claim = _Claim(self)
        self.claim = weakref.ref(claim)
        return storage[:n].view(like.shape), claim


class _SoftmaxCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, workspace):
        log_probs, ctx.claim = workspace.take(logits)
        torch.log_softmax(logits, dim=1, out=log_probs)
        loss = -log_probs.gather(1, targets.unsqueeze(1)).mean()
        ctx.save_for_backward(log_probs, targets)
        ctx.backward_done = False
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        if ctx.backward_done:  # the saved log-probabilities are now the gradient
            raise RuntimeError(
                f"the fused cross-entropy's backward runs once per forward; for retain_graph, "
                f"set `{OPTION}: False`."
            )
        ctx.backward_done = True
        log_probs, targets = ctx.saved_tensors
        scale = grad_loss.item() / len(targets)
        if scale > 0:  # exp(log p + log s) = s p, flushing subnormal results to zero
            grad = log_probs.add_(math.log(scale))
            smallest_normal = math.log(torch.finfo(grad.dtype).tiny)
            F.threshold(grad, smallest_normal, -math.inf, inplace=True).exp_()
        else:
            grad = log_probs.exp_().mul_(scale)
        rows = torch.arange(len(targets), device=targets.device)
        grad[rows, targets] -= scale
        if ctx.claim is not None:  # the gradient is read before the next forward writes
            ctx.claim.release()
        return grad, None, None


def _fusable(logits, targets):
    return (
        logits.requires_grad
        and torch.is_grad_enabled()
        and logits.dim() == 2
        and logits.dtype in (torch.float32, torch.float64)
        and targets.dim() == 1
        and targets.dtype == torch.long
        and len(targets) > 0
        and not bool((targets < 0).any())  # an ignored target (ignore_index): PyTorch's path
    )


class FusedCrossEntropyLoss(nn.CrossEntropyLoss):
    """``nn.CrossEntropyLoss()`` with the fused backward; other settings take PyTorch's path."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = _Workspace()

    def forward(self, input, target):
        if _default_settings(self) and _fusable(input, target):
            return _SoftmaxCrossEntropy.apply(input, target, self.workspace)
        return super().forward(input, target)


def _default_settings(loss):
    return (
        loss.weight is None
        and loss.reduction == "mean"
        and loss.label_smoothing == 0.0
        and loss.ignore_index < 0  # a negative target takes PyTorch's path
    )


def use_fused_cross_entropy(model):
    """Swap the model's default ``nn.CrossEntropyLoss`` modules (RecBole's ``loss_fct``) for
    :class:`FusedCrossEntropyLoss`; returns how many were swapped."""
    swaps = [
        (parent, name)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child) is nn.CrossEntropyLoss and _default_settings(child)
    ]
    for parent, name in swaps:
        ignore_index = getattr(parent, name).ignore_index
        setattr(parent, name, FusedCrossEntropyLoss(ignore_index=ignore_index))
    return len(swaps)
