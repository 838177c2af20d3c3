"""The item-sememe table that SeeDRec models read from RecBole item fields."""

import pytest
import torch
from recbole.utils import FeatureType

from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.data.sememes import ItemSememeTable


@pytest.fixture(scope="module")
def ml100k():
    load_col = {
        "inter": ["user_id", "item_id", "timestamp"],
        "item": ["item_id", "class", "movie_title"],
    }
    config = Config("SASRec", "ml-100k", config_dict={"load_col": load_col}, cmd_args=[])
    return create_dataset(config)


def test_genres_with_padding_handled(ml100k):
    table = ItemSememeTable.from_dataset(ml100k, "class")
    assert table.q == 19 and "Comedy" in table.vocabulary and "[PAD]" not in table.vocabulary
    assert table.n_items == ml100k.item_num and bool((table.index[0] == 0).all())
    assert table.items_without_sememes() == 0
    rows = table.multi_hot(torch.tensor([[0, 1], [2, 2]]))
    assert rows.shape == (2, 2, 19) and rows[0, 0].sum() == 0 and rows[0, 1].sum() >= 1


def test_dense_or_sparse_by_size_hold_the_same_matrix(ml100k):
    table = ItemSememeTable.from_dataset(
        ml100k, ["class", "movie_title"], {"movie_title": str.lower}
    )
    dense, sparse = table.matrix(), table.matrix(dense_limit_bytes=0)
    assert dense.layout == torch.strided and sparse.layout == torch.sparse_coo
    assert torch.equal(sparse.to_dense(), dense)
    assert torch.equal(dense[1:4], table.multi_hot(torch.tensor([1, 2, 3])))
    assert table.vocabulary[0].startswith("class:")  # one vocabulary, fields kept apart


def test_aggregate_sums_weights_per_sememe(ml100k):
    table = ItemSememeTable.from_dataset(ml100k, "class")
    items, weights = torch.tensor([[1, 1, 0]]), torch.tensor([[0.1, 0.5, 9.0]])
    expected = 0.6 * table.multi_hot(torch.tensor([1]))
    assert torch.allclose(table.aggregate(items, weights), expected)


def test_bad_sememe_field_is_a_clear_error(ml100k, monkeypatch):
    with pytest.raises(ConfigError, match="'genre' is not an item field"):
        ItemSememeTable.from_dataset(ml100k, "genre")
    monkeypatch.setitem(ml100k.field2type, "class", FeatureType.FLOAT)
    with pytest.raises(ConfigError, match="must be token or token_seq"):
        ItemSememeTable.from_dataset(ml100k, "class")
