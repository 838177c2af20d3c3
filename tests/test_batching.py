"""Length-grouped training batches: every row once, trimmed, and each row's output unchanged."""

from collections import Counter

import pytest
import torch
from recbole.data.interaction import Interaction
from recbole.model.sequential_recommender import BERT4Rec

from recbole_seedrec.config import ConfigError
from recbole_seedrec.data.batching import (
    LengthGroupedTrainDataLoader,
    length_grouping_applies,
    predict_by_length,
)
from recbole_seedrec.data.dataset import HISTORY_POSITION_FIELD
from recbole_seedrec.registry import get_model
from tests.seedrec_data import NAME, VARIANTS, build_model, make_config

BATCH = 8
EXACT_MODELS = (
    *("SASRec", "GRU4Rec", "CL4SRec", "BERT4Rec", *VARIANTS),
    *("DiffuRec", "DiffuRecSys", "DiffSASRec"),
)
# DiffuRec's history injection draws its noise in the batch's shape; without it (lambda 0) the
# seeded inference repeats exactly, so any difference would be the padding's.
NO_INJECTION = {"lambda_uncertainty": 0}
EXACT_MODEL_OPTIONS = {"DiffuRec": NO_INJECTION, "DiffuRecSys": NO_INJECTION}


def grouped(config, data, shuffle=True):
    train = data["train"]
    return LengthGroupedTrainDataLoader(config, train._dataset, train._sampler, shuffle=shuffle)


def row_keys(batch):
    """(user, target item, position in the history) names one training row."""
    columns = (batch["user_id"], batch["item_id"], batch[HISTORY_POSITION_FIELD])
    return list(zip(*(column.tolist() for column in columns)))


@pytest.fixture(scope="module")
def config(synthetic):
    return make_config("SeeDRecSASRec", synthetic["root"], NAME, train_batch_size=BATCH)


def test_an_epoch_holds_every_row_once_in_trimmed_batches(config, data):
    loader = grouped(config, data)
    batches = list(loader)
    feat = data["train"]._dataset.inter_feat
    assert Counter(k for batch in batches for k in row_keys(batch)) == Counter(row_keys(feat))
    assert len(batches) == len(loader) == -(-len(feat) // BATCH)
    full_length = config["MAX_ITEM_LIST_LENGTH"]
    for batch in batches:
        lengths = batch["item_length"]
        assert batch["item_id_list"].shape[1] == int(lengths.max()) <= full_length
        assert (batch["item_id_list"][torch.arange(len(batch)), lengths - 1] != 0).all()
    spans = sorted((int(b["item_length"].min()), int(b["item_length"].max())) for b in batches)
    assert all(low_next >= high for (_, high), (low_next, _) in zip(spans, spans[1:]))
    stock_tokens = len(feat) * full_length
    assert sum(b["item_id_list"].numel() for b in batches) < 0.8 * stock_tokens


def test_batch_order_is_seeded_and_changes_every_epoch(config, data):
    first, again = grouped(config, data), grouped(config, data)
    epoch_1 = [row_keys(batch) for batch in first]
    epoch_2 = [row_keys(batch) for batch in first]
    assert epoch_1 == [row_keys(batch) for batch in again]
    assert epoch_1 != epoch_2
    fixed = grouped(config, data, shuffle=False)
    assert [row_keys(b) for b in fixed] == [row_keys(b) for b in fixed]


@pytest.mark.parametrize("model_name", EXACT_MODELS)
def test_each_row_scores_the_same_trimmed_or_padded(synthetic, data, model_name):
    """What the issue asks: trimming changes no row's output (eval mode, no dropout)."""
    options = EXACT_MODEL_OPTIONS.get(model_name, {})
    model_config = make_config(
        model_name, synthetic["root"], NAME, train_batch_size=BATCH, **options
    )
    model = build_model(model_config, data)
    if getattr(model, "s2idm", None) is not None:
        model.freeze_s2idm()  # an untrained S2IDM counts as trained: a fixed function
    model.eval()
    assert length_grouping_applies(model_config, type(model))
    full_length = model_config["MAX_ITEM_LIST_LENGTH"]
    trimmed_any = False
    with torch.no_grad():
        for batch in grouped(model_config, data):
            width = batch["item_id_list"].shape[1]
            trimmed_any |= width < full_length
            padded = type(batch)(dict(batch.interaction))
            padded.interaction["item_id_list"] = torch.nn.functional.pad(
                batch["item_id_list"], (0, full_length - width)
            )
            torch.testing.assert_close(
                model.full_sort_predict(batch), model.full_sort_predict(padded),
                rtol=1e-5, atol=1e-5,
            )  # fmt: skip
    assert trimmed_any


@pytest.mark.parametrize("model_name", ["SASRec", "DiffSASRec"])
def test_full_ranking_scores_rows_by_length_with_recbole_metrics(
    synthetic, data, model_name, monkeypatch
):
    """Full-ranking evaluation groups rows by length and trims them: RecBole's metrics."""
    from recbole.trainer import Trainer

    from recbole_seedrec.registry import get_trainer

    model_config = make_config(model_name, synthetic["root"], NAME)
    model = build_model(model_config, data)
    expected = Trainer(model_config, model).evaluate(data["test"], load_best_model=False)

    widths = []
    full_sort_predict = type(model).full_sort_predict

    def recording(self, interaction):
        widths.append(interaction["item_id_list"].shape[1])
        return full_sort_predict(self, interaction)

    monkeypatch.setattr(type(model), "full_sort_predict", recording)
    trainer = get_trainer(model_config["MODEL_TYPE"], model_name)(model_config, model)
    trainer.length_group_rows = 4  # several groups from the small test split
    assert trainer.evaluate(data["test"], load_best_model=False) == expected
    assert min(widths) < model_config["MAX_ITEM_LIST_LENGTH"] == max(widths)
    assert "full_sort_predict" not in vars(model)  # the shadow is gone after each batch


def test_auto_groups_only_models_known_to_be_exact(synthetic, config):
    assert length_grouping_applies(config, get_model("SASRec"))
    assert not length_grouping_applies(config, BERT4Rec)  # RecBole's: not proven exact
    forced = make_config("SeeDRecSASRec", synthetic["root"], NAME, train_batching="length_grouped")
    assert length_grouping_applies(forced, BERT4Rec)
    stock = make_config("SeeDRecSASRec", synthetic["root"], NAME, train_batching="random")
    assert not length_grouping_applies(stock, get_model("SeeDRecSASRec"))
    with pytest.raises(ConfigError, match="train_batching"):
        make_config("SeeDRecSASRec", synthetic["root"], NAME, train_batching="sorted")


def test_the_entry_point_groups_training_batches_unless_asked_not_to(synthetic):
    from recbole.data.dataloader import TrainDataLoader

    from recbole_seedrec.data.candidates import data_preparation
    from recbole_seedrec.data.dataset import create_dataset

    for choice, expected in (("auto", LengthGroupedTrainDataLoader), ("random", TrainDataLoader)):
        config = make_config("SeeDRecSASRec", synthetic["root"], NAME, train_batching=choice)
        train, _, _ = data_preparation(config, create_dataset(config))
        assert type(train) is expected


def test_predict_by_length_can_keep_only_some_columns():
    """Gathering inside each length group gives the columns of the assembled score matrix."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 9, (23,), generator=generator)
    sequences = torch.randint(1, 50, (23, 8), generator=generator)
    sequences[torch.arange(8) >= lengths.unsqueeze(1)] = 0
    rows = Interaction({"item_id_list": sequences, "item_length": lengths})
    weights = torch.randn(8, 40, generator=generator)

    def predict(group):  # reads only each row's items, like a model exact under trimming
        width = group["item_id_list"].shape[1]
        return group["item_id_list"].float() @ weights[:width]

    full = predict_by_length(predict, rows, "item_length", ["item_id_list"], group_rows=5)
    columns = torch.randint(0, 40, (23, 6), generator=generator)
    kept = predict_by_length(predict, rows, "item_length", ["item_id_list"], 5, columns)
    torch.testing.assert_close(kept, full.gather(1, columns))
    torch.testing.assert_close(full, predict(rows))
