"""PyTorch's gelu in place of RecBole's composed one: the same function, fewer saved tensors."""

import logging

import pytest
import torch
import torch.nn.functional as F
from recbole.model.layers import FeedForward

from recbole_seedrec.config import ConfigError
from recbole_seedrec.quick_start import build_model_and_trainer
from recbole_seedrec.speedups.native_gelu import use_native_gelu
from tests.seedrec_data import NAME, build_data, entry_point_models, make_config


def feed_forward(act="gelu"):
    torch.manual_seed(0)
    return FeedForward(8, 32, 0.0, act, 1e-12)


def test_output_and_gradient_are_recboles():
    inputs = torch.randn(4, 5, 8, dtype=torch.float64) * 4
    results = []
    for native in (False, True):
        layer = feed_forward().double()
        if native:
            assert use_native_gelu(layer) == 1
            assert layer.intermediate_act_fn is F.gelu
        x = inputs.clone().requires_grad_()
        output = layer(x)
        output.square().sum().backward()
        results.append((output.detach(), x.grad, layer.dense_1.weight.grad))
    for recbole, native in zip(*results):
        torch.testing.assert_close(native, recbole, rtol=1e-12, atol=1e-12)


def test_other_activations_are_left_alone():
    layers = torch.nn.ModuleList([feed_forward("relu"), feed_forward("swish"), feed_forward()])
    assert use_native_gelu(layers) == 1
    assert layers[0].intermediate_act_fn is not F.gelu
    assert layers[1].intermediate_act_fn.__func__ is FeedForward.swish


@pytest.mark.parametrize("model_name", ["SASRec", "CL4SRec", "SeeDRecSASRec"])
def test_entry_point_gives_every_layer_pytorchs_gelu_unless_told_not_to(synthetic, model_name):
    scores = {}
    for native, (model, data) in entry_point_models(
        model_name, synthetic["root"], NAME, "native_gelu"
    ).items():
        layers = [m for m in model.modules() if isinstance(m, FeedForward)]
        assert layers and all((m.intermediate_act_fn is F.gelu) == native for m in layers)
        batch = next(iter(data["valid"]))[0]
        with torch.no_grad():
            scores[native] = model.full_sort_predict(batch)
    torch.testing.assert_close(scores[True], scores[False], rtol=1e-5, atol=1e-6)


def test_a_bad_value_is_refused(synthetic):
    with pytest.raises(ConfigError, match="--native_gelu: 'no' is not True or False"):
        make_config("SASRec", synthetic["root"], NAME, native_gelu="no")


@pytest.mark.parametrize("given", [{}, {"native_gelu": False, "fused_cross_entropy": False}])
def test_the_built_run_records_and_logs_which_path_it_takes(synthetic, given, caplog):
    config = make_config("SASRec", synthetic["root"], NAME, **given)
    with caplog.at_level(logging.INFO):
        build_model_and_trainer(config, build_data(config)["train"])
    expected = not given  # unset means on
    assert config.final_config_dict["native_gelu"] is expected
    assert config.final_config_dict["fused_cross_entropy"] is expected
    # the log's config block was printed before they were resolved
    assert f"fused_cross_entropy={expected}, native_gelu={expected}" in caplog.text
