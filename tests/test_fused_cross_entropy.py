"""The fused cross-entropy: PyTorch's loss and gradients, and swapped into CE models by default."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from recbole_seedrec.config import ConfigError
from recbole_seedrec.speedups.fused_cross_entropy import (
    FusedCrossEntropyLoss,
    use_fused_cross_entropy,
)
from tests.seedrec_data import NAME, entry_point_models, make_config


def loss_and_grad(loss_fn, logits, targets, weight=1.0):
    logits = logits.clone().requires_grad_()
    loss = loss_fn(logits, targets)
    (loss * weight).backward()
    return loss.detach(), logits.grad


def random_logits(rows, items, spread, dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, items, generator=generator, dtype=dtype) * spread
    targets = torch.randint(0, items, (rows,), generator=generator)
    return logits, targets


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weight", [1.0, 3.5, -2.0, 0.0])
def test_loss_and_gradient_are_pytorchs(dtype, weight):
    logits, targets = random_logits(64, 500, spread=4.0, dtype=dtype)
    loss, grad = loss_and_grad(FusedCrossEntropyLoss(), logits, targets, weight)
    ref_loss, ref_grad = loss_and_grad(F.cross_entropy, logits, targets, weight)
    tolerance = {"rtol": 1e-5, "atol": 1e-9} if dtype == torch.float32 else {}
    torch.testing.assert_close(loss, ref_loss, **tolerance)
    torch.testing.assert_close(grad, ref_grad, **tolerance)
    assert (grad != 0).any() == (weight != 0)


def test_only_subnormal_gradient_entries_are_flushed():
    # A spread of 40 puts many exp(logit - logsumexp) / rows below float32's smallest normal.
    logits, targets = random_logits(32, 2000, spread=40.0)
    loss, grad = loss_and_grad(FusedCrossEntropyLoss(), logits, targets)
    ref_loss, ref_grad = loss_and_grad(F.cross_entropy, logits, targets)
    tiny = torch.finfo(torch.float32).tiny
    subnormal = (ref_grad != 0) & (ref_grad.abs() < tiny)
    assert subnormal.sum() > 1000  # the case is really exercised
    assert (grad[subnormal] == 0).all()
    torch.testing.assert_close(grad[~subnormal], ref_grad[~subnormal], rtol=1e-5, atol=0)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-6, atol=0)


def test_other_cases_take_pytorchs_path():
    logits, targets = random_logits(16, 30, spread=2.0)
    ignored = targets.clone()
    ignored[3] = -100
    for loss_fn, target in [
        (FusedCrossEntropyLoss(), ignored),  # an ignored target
        (FusedCrossEntropyLoss(label_smoothing=0.1), targets),
        (FusedCrossEntropyLoss(reduction="sum"), targets),
    ]:
        reference = nn.CrossEntropyLoss(
            label_smoothing=loss_fn.label_smoothing, reduction=loss_fn.reduction
        )
        loss, grad = loss_and_grad(loss_fn, logits, target)
        ref_loss, ref_grad = loss_and_grad(reference, logits, target)
        assert torch.equal(loss, ref_loss) and torch.equal(grad, ref_grad)
    with torch.no_grad():
        assert torch.equal(
            FusedCrossEntropyLoss()(logits, targets), F.cross_entropy(logits, targets)
        )


def test_a_second_backward_says_which_option_to_turn_off():
    logits, targets = random_logits(8, 20, spread=1.0)
    logits.requires_grad_()
    loss = FusedCrossEntropyLoss()(logits, targets)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="fused_cross_entropy: False"):
        loss.backward()


def test_two_losses_before_one_backward_each_get_their_own_gradient():
    loss_fn = FusedCrossEntropyLoss()
    (a, targets_a), (b, targets_b) = random_logits(16, 40, 3.0, seed=1), random_logits(16, 40, 3.0)
    a.requires_grad_(), b.requires_grad_()
    (loss_fn(a, targets_a) + 2 * loss_fn(b, targets_b)).backward()
    ref_a, ref_b = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    (F.cross_entropy(ref_a, targets_a) + 2 * F.cross_entropy(ref_b, targets_b)).backward()
    torch.testing.assert_close(a.grad, ref_a.grad)
    torch.testing.assert_close(b.grad, ref_b.grad)


def test_the_buffer_is_reused_batch_after_batch():
    loss_fn = FusedCrossEntropyLoss()
    logits, targets = random_logits(16, 40, 3.0)
    pointers = []
    for rows in (16, 16, 9):  # a shorter last batch fits in the same buffer
        first = logits[:rows].clone().requires_grad_()
        loss_fn(first, targets[:rows]).backward()
        pointers.append(first.grad.data_ptr())
        loss_fn(logits[:rows].clone().requires_grad_(), targets[:rows])  # dropped, no backward
    assert len(set(pointers)) == 1


def test_swaps_default_cross_entropy_modules_only():
    model = nn.Module()
    model.loss_fct = nn.CrossEntropyLoss()
    model.inner = nn.Sequential(nn.Linear(2, 2))
    model.inner.loss = nn.CrossEntropyLoss()
    model.smoothed = nn.CrossEntropyLoss(label_smoothing=0.1)
    model.per_row = nn.CrossEntropyLoss(reduction="none")
    assert use_fused_cross_entropy(model) == 2
    assert type(model.loss_fct) is FusedCrossEntropyLoss
    assert type(model.inner.loss) is FusedCrossEntropyLoss
    assert type(model.smoothed) is nn.CrossEntropyLoss
    assert type(model.per_row) is nn.CrossEntropyLoss


@pytest.mark.parametrize("model_name", ["SASRec", "GRU4Rec", "SeeDRecSASRec"])
def test_entry_point_trains_ce_models_with_it_and_the_same_gradients(synthetic, model_name):
    gradients = {}
    for fused, (model, data) in entry_point_models(
        model_name, synthetic["root"], NAME, "fused_cross_entropy"
    ).items():
        expected = FusedCrossEntropyLoss if fused else nn.CrossEntropyLoss
        assert type(model.loss_fct) is expected
        batch = next(iter(data["train"]))
        model.calculate_loss(batch).backward()
        gradients[fused] = {
            name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None
        }
    assert gradients[True].keys() == gradients[False].keys() and gradients[True]
    for name, grad in gradients[True].items():
        torch.testing.assert_close(grad, gradients[False][name], rtol=1e-4, atol=1e-7, msg=name)


def test_a_bad_value_is_refused(synthetic):
    with pytest.raises(ConfigError, match="--fused_cross_entropy: 'yes' is not True or False"):
        make_config("SASRec", synthetic["root"], NAME, fused_cross_entropy="yes")
