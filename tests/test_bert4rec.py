"""BERT4Rec: RecBole's model and configuration, its CE loss taken over the masked slots only."""

import math

import numpy as np
import pytest
import torch
from recbole.config import Config as RecBoleConfig
from recbole.data import data_preparation as recbole_data_preparation
from recbole.model.sequential_recommender.bert4rec import BERT4Rec as RecBoleBERT4Rec
from recbole.trainer import Trainer

from recbole_seedrec.config import Config
from recbole_seedrec.data.batching import LengthGroupedTrainDataLoader, length_grouping_applies
from recbole_seedrec.data.candidates import data_preparation
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.quick_start import run_recbole_seedrec
from recbole_seedrec.registry import get_model, get_trainer
from recbole_seedrec.speedups.fused_cross_entropy import use_fused_cross_entropy
from tests.seedrec_data import NAME, SYNTHETIC, build_data, make_config


def test_the_name_gives_ours_with_recboles_configuration():
    model_class = get_model("BERT4Rec")
    assert model_class is not RecBoleBERT4Rec and issubclass(model_class, RecBoleBERT4Rec)
    settings = {"train_neg_sample_args": None, "epochs": 3}
    ours = Config("BERT4Rec", "ml-100k", config_dict=dict(settings), cmd_args=[])
    theirs = RecBoleConfig("BERT4Rec", "ml-100k", config_dict=dict(settings))
    naming = {"protocol": "recbole", "protocol_overrides": []}  # the protocol's name, only
    assert ours.final_config_dict == {**theirs.final_config_dict, **naming}


def loss_and_gradients(model, batch):
    model.zero_grad()
    loss = model.calculate_loss(batch)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("fused", [False, True], ids=["pytorch_ce", "fused_ce"])
@pytest.mark.parametrize("loss_type", ["CE", "BPR"])
def test_loss_and_gradients_are_recboles(synthetic, fused, loss_type):
    negatives = None if loss_type == "CE" else {"distribution": "uniform", "sample_num": 1}
    config = make_config(
        "BERT4Rec",
        synthetic["root"],
        NAME,
        mask_ratio=0.5,  # 5 slots over rows of 1 to 10 items: some full, some mostly empty
        loss_type=loss_type,
        train_neg_sample_args=negatives,
        ft_ratio=0.0,  # RecBole's mask-the-last-item batches only ever fill one slot
    )
    data = build_data(config)
    batch = next(iter(data["train"]))
    filled = (batch[config["MASK_INDEX"]] > 0).sum(dim=1)
    assert filled.min() < filled.max() < batch[config["MASK_INDEX"]].shape[1] + 1
    assert (filled == 0).sum() < len(filled)

    torch.manual_seed(0)
    # float32: RecBole's slot selection multiplies by a float32 one-hot
    ours = get_model("BERT4Rec")(config, data["dataset"]).eval()
    theirs = RecBoleBERT4Rec(config, data["dataset"]).eval()
    theirs.load_state_dict(ours.state_dict())
    if fused:
        assert use_fused_cross_entropy(ours) == 1
    ours_loss, ours_grads = loss_and_gradients(ours, batch)
    theirs_loss, theirs_grads = loss_and_gradients(theirs, batch)
    torch.testing.assert_close(ours_loss, theirs_loss, rtol=1e-6, atol=1e-7)
    assert ours_grads.keys() == theirs_grads.keys()
    for name, grad in theirs_grads.items():
        torch.testing.assert_close(ours_grads[name], grad, rtol=1e-5, atol=1e-7, msg=name)
    assert any(grad.abs().sum() > 0 for grad in ours_grads.values())


def test_training_batches_are_trimmed_with_their_masks_and_each_row_loses_the_same(synthetic):
    config = make_config("BERT4Rec", synthetic["root"], NAME, train_batch_size=8, mask_ratio=0.5)
    dataset = create_dataset(config)
    train = data_preparation(config, dataset)[0]  # the entry point's loaders
    assert isinstance(train, LengthGroupedTrainDataLoader)
    torch.manual_seed(0)
    model = get_model("BERT4Rec")(config, dataset).eval()
    full_length, trimmed_any = config["MAX_ITEM_LIST_LENGTH"], False
    for batch in train:
        width = batch["item_id_list"].shape[1]
        assert batch[config["MASK_ITEM_SEQ"]].shape[1] == width
        trimmed_any |= width < full_length
        padded = type(batch)(dict(batch.interaction))
        for field in ("item_id_list", config["MASK_ITEM_SEQ"]):
            padded.interaction[field] = torch.nn.functional.pad(
                batch[field], (0, full_length - width)
            )
        with torch.no_grad():
            loss, padded_loss = model.calculate_loss(batch), model.calculate_loss(padded)
        torch.testing.assert_close(loss, padded_loss, rtol=1e-5, atol=1e-6)
    assert trimmed_any


def test_a_transform_that_may_read_the_padding_keeps_recboles_batches(synthetic):
    masking = make_config("BERT4Rec", synthetic["root"], NAME)
    assert masking["transform"] == "mask_itemseq"
    assert length_grouping_applies(masking, get_model("BERT4Rec"))
    reversing = make_config("BERT4Rec", synthetic["root"], NAME, transform="inverse_itemseq")
    assert not length_grouping_applies(reversing, get_model("BERT4Rec"))


def test_one_epoch_through_the_entry_point(synthetic, tmp_path):
    settings = {**SYNTHETIC, "checkpoint_dir": str(tmp_path), "data_path": str(synthetic["root"])}
    result = run_recbole_seedrec("BERT4Rec", NAME, config_dict=settings, cmd_args=[])
    assert result["test_result"] and all(math.isfinite(v) for v in result["test_result"].values())
    assert torch.load(result["model_file"], weights_only=False)["config"]["model"] == "BERT4Rec"


def test_a_batch_without_a_counted_mask_changes_no_parameter(synthetic):
    config = make_config("BERT4Rec", synthetic["root"], NAME, mask_ratio=0.5)
    data = build_data(config)
    batch = next(iter(data["train"]))
    batch.interaction[config["MASK_INDEX"]] = torch.zeros_like(batch[config["MASK_INDEX"]])
    model = get_model("BERT4Rec")(config, data["dataset"])
    model.zero_grad(set_to_none=True)
    loss = model.calculate_loss(batch)
    loss.backward()
    assert loss.item() == 0.0
    assert all(p.grad is None for p in model.parameters())
    with torch.no_grad():  # RecBole's mean over no slot: NaN, which would stop training
        assert math.isnan(RecBoleBERT4Rec(config, data["dataset"]).calculate_loss(batch).item())


def test_sampled_evaluation_skips_the_training_masks_and_keeps_recboles_metrics(synthetic):
    """RecBole masks every evaluated row again, user by user, for nothing: BERT4Rec predicts
    from the item sequence. The package's loader leaves the masks out; the metrics stay."""
    sampled = {**SYNTHETIC["eval_args"], "mode": "uni5"}
    config = make_config("BERT4Rec", synthetic["root"], NAME, eval_args=sampled)
    _, *stock_loaders = recbole_data_preparation(config, create_dataset(config))
    _, *package_loaders = data_preparation(config, create_dataset(config))
    model = get_model("BERT4Rec")(config, stock_loaders[0]._dataset).eval()
    stock = Trainer(config, model)
    package = get_trainer(config["MODEL_TYPE"], "BERT4Rec")(config, model)
    for stock_loader, package_loader in zip(stock_loaders, package_loaders):
        np.random.seed(7)
        expected = stock.evaluate(stock_loader, load_best_model=False)
        np.random.seed(7)
        assert package.evaluate(package_loader, load_best_model=False) == expected
        assert config["MASK_ITEM_SEQ"] in next(iter(stock_loader))[0]
        assert config["MASK_ITEM_SEQ"] not in next(iter(package_loader))[0]
