"""Which history lists the data keeps: SeeDRec's data set makes ``item_id_list`` alone, and a run
drops the unsplit data set's lists once its splits are built."""

import pytest
import torch
from recbole.data import create_dataset as recbole_create_dataset
from recbole.data import data_preparation

from recbole_seedrec.data.dataset import (
    HISTORY_POSITION_FIELD,
    SememeSequentialDataset,
    create_dataset,
    narrowest_id_type,
    release_unsplit_lists,
)
from recbole_seedrec.run import build_run
from tests.seedrec_data import default_histories, default_sememes, make_config, write_atomic

NAME = "listsyn"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The default synthetic histories with a rating column, which RecBole would list too."""
    root = write_atomic(tmp_path_factory.mktemp("lists"), NAME, default_histories(),
                        default_sememes())  # fmt: skip
    inter = root / NAME / f"{NAME}.inter"
    lines = inter.read_text().splitlines()
    rated = [lines[0] + "\trating:float"]
    rated += [f"{line}\t{k % 5 + 1}.0" for k, line in enumerate(lines[1:])]
    inter.write_text("\n".join(rated) + "\n")
    return root


def _config(model, root):
    return make_config(model, root, NAME,
                       load_col={"inter": ["user_id", "item_id", "timestamp", "rating"]})  # fmt: skip


def test_seedrec_data_lists_items_alone_and_keeps_every_row_value(root):
    ours = create_dataset(_config("SeeDRecSASRec", root))
    recboles = recbole_create_dataset(_config("SASRec", root))
    assert isinstance(ours, SememeSequentialDataset)
    ours.build(), recboles.build()  # the lists are made here
    assert {"timestamp_list", "rating_list"} <= set(recboles.inter_feat.columns)
    assert set(ours.inter_feat.columns) == (
        set(recboles.inter_feat.columns) - {"timestamp_list", "rating_list"}
    ) | {HISTORY_POSITION_FIELD}
    assert "timestamp_list" not in ours.field2type  # no property left for a missing column
    assert ours.inter_feat["item_id_list"].dtype == torch.int16  # held in a quarter
    rows = ours[torch.arange(len(ours))]  # what a loader takes
    for column in recboles.inter_feat.columns:
        if column in ours.inter_feat.columns:
            assert torch.equal(rows[column], recboles.inter_feat[column]), column
    assert rows["item_id_list"].dtype == torch.int64


@pytest.mark.parametrize("model", ["SASRec", "SeeDRecSASRec"])
def test_unsplit_lists_go_and_the_splits_keep_theirs(root, model):
    config = _config(model, root)
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    split_lists = [
        loader._dataset.inter_feat["item_id_list"].clone() for loader in (train, valid, test)
    ]
    release_unsplit_lists(dataset)
    assert not [c for c in dataset.inter_feat.columns if c.endswith("_list")]
    assert "item_id" in dataset.inter_feat.columns  # what RecBole's samplers read
    for loader, before in zip((train, valid, test), split_lists):
        assert torch.equal(loader._dataset.inter_feat["item_id_list"], before)
        assert "item_id_list" in loader._dataset.field2type


def test_a_run_trains_and_evaluates_on_the_released_data(root):
    run = build_run(_config("SASRec", root), init_logging=lambda config: None)
    assert not [c for c in run.dataset.inter_feat.columns if c.endswith("_list")]
    run.trainer.fit(run.train_data, run.valid_data, saved=False)
    result = run.trainer.evaluate(run.test_data, load_best_model=False)
    assert 0.0 <= result["ndcg@10"] <= 1.0 and result["hit@10"] >= result["ndcg@10"]


def test_narrowest_id_type_holds_every_id():
    assert narrowest_id_type(2**15) == torch.int16  # ids 0 .. 32767
    assert narrowest_id_type(2**15 + 1) == torch.int32
    assert narrowest_id_type(2**31) == torch.int32
    assert narrowest_id_type(2**31 + 1) == torch.int64
