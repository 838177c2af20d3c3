"""The item-sememe table D (|I| x q) that SeeDRec models read, built from RecBole item fields."""

import torch
from recbole.data.interaction import Interaction
from recbole.utils import FeatureType

from recbole_seedrec.errors import ConfigError

# A dense D up to this size; beyond it, products with D use a sparse COO tensor.
DENSE_LIMIT_BYTES = 64 * 2**20


class ItemSememeTable:
    """Which sememes each item has, in two forms.

    ``index``: [n_items, width] sememe ids, 1-based, 0 = none (row 0 is RecBole's padding item),
    compact and fast for gathering per sequence. ``matrix()``: D as a dense or sparse float
    tensor by size, for bulk products such as user-item weights @ D.
    """

    def __init__(self, index, vocabulary, fields):
        self.index = index
        self.vocabulary = list(vocabulary)
        self.fields = list(fields)

    @property
    def q(self):
        return len(self.vocabulary)

    @property
    def n_items(self):
        return self.index.shape[0]

    def items_without_sememes(self):
        """Real items (not the padding row 0) that have no sememe at all."""
        return int((self.index[1:] == 0).all(dim=1).sum())

    def aggregate(self, item_seq, weights):
        """Sum ``weights`` [B, L] of the items ``item_seq`` [B, L] onto their sememes: [B, q]."""
        sememes = self.index[item_seq]  # [B, L, width]
        spread = weights.unsqueeze(-1).expand_as(sememes).to(torch.float32)
        out = torch.zeros(item_seq.shape[0], self.q + 1, device=item_seq.device)
        out.scatter_add_(1, sememes.flatten(1), spread.flatten(1))
        return out[:, 1:]

    def multi_hot(self, item_ids):
        """0/1 rows of D for ``item_ids`` of any shape: [..., q]."""
        flat = item_ids.reshape(-1, 1)
        rows = self.aggregate(flat, torch.ones_like(flat, dtype=torch.float32)).clamp_(max=1)
        return rows.reshape(*item_ids.shape, self.q)

    def matrix(self, dense_limit_bytes=DENSE_LIMIT_BYTES):
        """D as float [n_items, q]: dense when it fits in ``dense_limit_bytes``, else sparse COO."""
        rows = torch.arange(self.n_items, device=self.index.device).unsqueeze(1)
        rows = rows.expand_as(self.index)
        present = self.index > 0
        coords = torch.stack([rows[present], self.index[present] - 1])
        values = torch.ones(coords.shape[1], device=self.index.device)
        shape = (self.n_items, self.q)
        sparse = torch.sparse_coo_tensor(coords, values, shape, check_invariants=True).coalesce()
        if self.n_items * self.q * 4 <= dense_limit_bytes:
            return sparse.to_dense().clamp_(max=1)
        return sparse

    @classmethod
    def from_dataset(cls, dataset, fields, normalizers=None):
        """Build from the token/token_seq item ``fields`` of a RecBole dataset.

        Several fields share one vocabulary, each token named ``field:token`` so that a
        genre and a title word never merge. ``normalizers`` maps a field to a function from a
        raw token to a sememe (or None to drop it): e.g. ml-100k's ``movie_title`` tokens.
        """
        fields = [fields] if isinstance(fields, str) else list(fields)
        normalizers = normalizers or {}
        item_feat = _item_features(dataset, fields)
        vocabulary, columns = {}, []
        for field in fields:
            normalize = normalizers.get(field)
            raw_tokens = dataset.field2id_token[field]
            remap = torch.zeros(len(raw_tokens), dtype=torch.long)
            for raw_id, token in enumerate(raw_tokens[1:], start=1):  # 0 is [PAD]
                sememe = normalize(token) if normalize else token
                if sememe:
                    name = sememe_name(field, sememe, fields)
                    remap[raw_id] = vocabulary.setdefault(name, len(vocabulary) + 1)
            ids = item_feat[field]
            columns.append(remap[ids.unsqueeze(1) if ids.dim() == 1 else ids])
        index = _dedupe_rows(torch.cat(columns, dim=1))
        return cls(index, vocabulary, fields)


def sememe_name(field, sememe, fields):
    """A sememe's vocabulary name: ``field:sememe`` when several fields share the vocabulary,
    so that a genre and a title word never merge; else the sememe itself."""
    return f"{field}:{sememe}" if len(fields) > 1 else str(sememe)


def _item_features(dataset, fields):
    item_feat = dataset.item_feat
    if item_feat is None:
        raise ConfigError(
            f"Data set '{dataset.dataset_name}' has no item features, so the sememe field(s) "
            f"{fields} cannot be read. Provide a .item file and list the field in "
            "`load_col: item: [...]`."
        )
    available = list(item_feat.columns if hasattr(item_feat, "columns") else item_feat.interaction)
    for field in fields:
        if field not in available:
            raise ConfigError(
                f"Sememe field '{field}' is not an item field of data set "
                f"'{dataset.dataset_name}' (loaded item fields: {available}). Set SEMEME_FIELD "
                "to one of them, or add it to `load_col: item: [...]`."
            )
        if dataset.field2type[field] not in (FeatureType.TOKEN, FeatureType.TOKEN_SEQ):
            raise ConfigError(
                f"Sememe field '{field}' is of type {dataset.field2type[field].value}; it "
                "must be token or token_seq (declare it as `name:token_seq` in the .item file)."
            )
    if not isinstance(item_feat, Interaction):
        item_feat = dataset._dataframe_to_interaction(item_feat[fields])
    return item_feat


def _dedupe_rows(index):
    """Keep each sememe once per item (a title can repeat a word), padding at the end."""
    ordered, _ = index.sort(dim=1, descending=True)
    repeated = torch.zeros_like(ordered, dtype=torch.bool)
    repeated[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    ordered = ordered.masked_fill(repeated, 0).sort(dim=1, descending=True).values
    width = max(int((ordered > 0).sum(dim=1).max()), 1)
    return ordered[:, :width].contiguous()
