"""The read-out-only last layer of SASRec-family encoders: on by default through the entry point,
off with ``--read_out_only_last_layer=False``, and the same outputs and gradients either way."""

import pytest
import torch

from recbole_seedrec.quick_start import build_model_and_trainer
from recbole_seedrec.speedups.read_out_only import OPTION, use_read_out_only_last_layer
from tests.seedrec_data import NAME, build_data, build_model, make_config

SMALL = {"n_layers": 2, "n_heads": 2, "hidden_dropout_prob": 0.0, "attn_dropout_prob": 0.0}


@pytest.mark.parametrize("model_name", ["SASRec", "CL4SRec", "SeeDRecSASRec"])
def test_the_switch_is_on_unless_set_false(synthetic, model_name):
    for given, expected in ((None, True), (False, False)):
        overrides = {} if given is None else {OPTION: given}
        config = make_config(model_name, synthetic["root"], NAME, **overrides)
        model, _ = build_model_and_trainer(config, build_data(config)["train"])
        assert model.read_out_only_last_layer is expected
        assert config[OPTION] is expected  # written back: the run record says which path ran


def test_a_model_without_the_encoder_is_left_alone(synthetic, data):
    model = build_model(make_config("GRU4Rec", synthetic["root"], NAME), data)
    assert use_read_out_only_last_layer(model) == 0
    assert not hasattr(model, OPTION)


@pytest.mark.parametrize(
    ("model_name", "loss_type"), [("SASRec", "CE"), ("SASRec", "BCE"), ("CL4SRec", "CE")]
)
def test_the_shortcut_changes_no_output_or_gradient(synthetic, model_name, loss_type):
    """Two layers, two heads, training mode without dropout: the loss, every parameter's
    gradient and the full-ranking scores equal those of RecBole's whole last layer."""
    config = make_config(model_name, synthetic["root"], NAME, loss_type=loss_type, **SMALL)
    data = build_data(config)  # BCE: with a sampled negative per row
    model = build_model(config, data).train()
    batch = next(iter(data["train"]))
    results = {}
    for shortcut in (True, False):
        model.read_out_only_last_layer = shortcut
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)  # the same negatives and CL4SRec views both times
        loss = model.calculate_loss(batch)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        with torch.no_grad():
            scores = model.full_sort_predict(batch)
        results[shortcut] = loss.detach(), grads, scores
    (loss, grads, scores), (full_loss, full_grads, full_scores) = results[True], results[False]
    torch.testing.assert_close(loss, full_loss)
    torch.testing.assert_close(scores, full_scores, rtol=1e-5, atol=1e-6)
    assert grads.keys() == full_grads.keys() and "item_embedding.weight" in grads
    for name, grad in grads.items():
        torch.testing.assert_close(grad, full_grads[name], rtol=1e-4, atol=1e-7, msg=name)
