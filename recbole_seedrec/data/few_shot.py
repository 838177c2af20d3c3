"""Few-shot test users: those whose history before their test item has few distinct sememes.

A test user's **history** is every interaction of the user, in the data set's time order (the
order RecBole's sequential split uses), before the user's first test target: not only the
``MAX_ITEM_LIST_LENGTH`` items the model reads. Under leave-one-out it is every interaction but
the last. Its sememes are those of ``SEMEME_FIELD`` (several fields share one vocabulary), each
counted once however often it occurs. The option ``few_shot_max_sememes: N`` keeps the test
users with at most N of them (:func:`few_shot_users`); the trainer then reports the test
metrics over them beside the full set (:mod:`recbole_seedrec.trainer.subset_eval`).

The histories are read back from RecBole's augmented rows (one per target, in each user's
order), so RecBole's baselines, which keep no full history, select exactly the users that
SeeDRec's data (with its ``history_position``) selects.
"""

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from recbole_seedrec.config import FEW_SHOT_OPTION, few_shot_threshold, sememe_fields
from recbole_seedrec.data.sememes import ItemSememeTable, sememe_name
from recbole_seedrec.errors import ConfigError


@dataclass
class FewShotUsers:
    """The test users (internal ids) with their distinct-sememe counts, and who qualifies."""

    max_sememes: int
    test_users: torch.Tensor  # every test user, ascending
    distinct_sememes: torch.Tensor  # per test user: distinct sememes in the history

    @property
    def users(self):
        """The test users whose history has at most ``max_sememes`` distinct sememes."""
        return self.test_users[self.distinct_sememes <= self.max_sememes]

    def describe(self):
        return (
            f"{len(self.users):,} of {len(self.test_users):,} test users have at most "
            f"{self.max_sememes} distinct sememes before their test item"
        )


def sememe_table(config, dataset):
    """The item-sememe table of ``SEMEME_FIELD`` (title words normalised as SeeDRec's models
    do). From the loaded item features when the model loaded the fields, else from the data
    set's .item file: loading an item file can add items that no interaction has, which would
    change a baseline's item table, so the option never changes what the model sees."""
    from recbole_seedrec.model.seedrec.sememe_interest import _word_normalizers, sememe_table_for

    fields = sememe_fields(config.final_config_dict)
    loaded = dataset.item_feat is not None and all(f in dataset.item_feat for f in fields)
    try:
        if loaded:
            return sememe_table_for(config, dataset)
        word_fields = [f for f in config["SEMEME_WORD_FIELDS"] or [] if f in fields]
        return _table_from_item_file(dataset, fields, _word_normalizers(word_fields))
    except ConfigError as error:
        raise ConfigError(f"{FEW_SHOT_OPTION}: {error}") from None


def _table_from_item_file(dataset, fields, normalizers):
    """The table from ``<data_path>/<dataset>.item``, read as RecBole reads atomic files."""
    config = dataset.config
    path = os.path.join(dataset.dataset_path, f"{dataset.dataset_name}.item")
    if not os.path.isfile(path):
        raise ConfigError(f"the sememe field(s) {fields} need an item file; {path} is missing.")
    separator, encoding = config["field_separator"], config["encoding"]
    with open(path, encoding=encoding) as handle:
        header = dict(
            column.split(":") for column in handle.readline().rstrip("\n").split(separator)
        )
    for field in [dataset.iid_field, *fields]:
        if header.get(field) not in ("token", "token_seq"):
            found = f"is of type {header[field]}" if field in header else "is not a column"
            raise ConfigError(
                f"field '{field}' {found} of {path} (columns: {', '.join(header)}); set "
                "SEMEME_FIELD to token or token_seq fields of the .item file."
            )
    columns = [f"{field}:{header[field]}" for field in [dataset.iid_field, *fields]]
    frame = pd.read_csv(path, delimiter=separator, usecols=columns, dtype=str,
                        encoding=encoding, engine="python").fillna("")  # fmt: skip
    token_ids = dataset.field2token_id[dataset.iid_field]
    vocabulary, sets = {}, [set() for _ in range(dataset.item_num)]
    for row in frame.itertuples(index=False):
        item = token_ids.get(row[0])
        if item is None:  # an item no interaction has: not in this data set
            continue
        for field, value in zip(fields, row[1:]):
            raw = value.split(config["seq_separator"]) if header[field] == "token_seq" else [value]
            normalize = normalizers.get(field)
            for token in filter(None, raw):
                sememe = normalize(token) if normalize else token
                if sememe:
                    name = sememe_name(field, sememe, fields)
                    sets[item].add(vocabulary.setdefault(name, len(vocabulary) + 1))
    index = torch.zeros(dataset.item_num, max(1, max(map(len, sets))), dtype=torch.long)
    for item, ids in enumerate(sets):
        index[item, : len(ids)] = torch.tensor(sorted(ids, reverse=True), dtype=torch.long)
    return ItemSememeTable(index, vocabulary, fields)


def user_histories(dataset):
    """(users, positions, items) of every interaction, from a built sequential data set's
    augmented rows: row k of a user (in the user's order) targets position k + 1, and the
    user's first row starts with position 0."""
    feat = dataset.inter_feat
    users = feat[dataset.uid_field].numpy()
    order = np.argsort(users, kind="stable")  # RecBole sorts stably: a user's rows stay in order
    users = users[order]
    rows_per_user = np.bincount(users, minlength=dataset.user_num)
    rank = np.arange(len(users)) - (np.cumsum(rows_per_user) - rows_per_user)[users]
    targets = feat[dataset.iid_field].numpy()[order]
    item_lists = feat[getattr(dataset, f"{dataset.iid_field}_list_field")]
    firsts = item_lists[:, 0].numpy()[order][rank == 0]
    return (
        np.concatenate([users, users[rank == 0]]),
        np.concatenate([rank + 1, np.zeros(len(firsts), dtype=rank.dtype)]),
        np.concatenate([targets, firsts]),
        rows_per_user,
    )


def distinct_sememes_before_test(table, dataset, test_dataset):
    """(test users ascending, distinct sememes in each one's history before its first test
    target). A user's test rows are the last of its rows (RecBole splits each user's rows in
    time order), so the first test target sits at position ``rows - test rows + 1``."""
    users, positions, items, rows_per_user = user_histories(dataset)
    test_rows = np.bincount(
        test_dataset.inter_feat[test_dataset.uid_field].numpy(), minlength=len(rows_per_user)
    )
    test_users = np.flatnonzero(test_rows)
    first_test = rows_per_user + 1 - test_rows
    keep = (test_rows[users] > 0) & (positions < first_test[users])
    sememes = table.index[torch.from_numpy(items[keep])].numpy()  # [m, width], 0 = none
    width = sememes.shape[1]
    pairs = users[keep].repeat(width) * (table.q + 1) + sememes.reshape(-1)
    pairs = np.unique(pairs[sememes.reshape(-1) > 0])
    counts = np.bincount(pairs // (table.q + 1), minlength=len(rows_per_user))
    return torch.from_numpy(test_users), torch.from_numpy(counts[test_users])


def few_shot_users(config, dataset, test_data):
    """:class:`FewShotUsers` when ``few_shot_max_sememes`` is set, else ``None``.

    ``dataset``: the built data set (``prepare_data``'s first value); ``test_data``: its test
    loader."""
    threshold = few_shot_threshold(config.final_config_dict)
    if threshold is None:
        return None
    table = sememe_table(config, dataset)
    test_users, counts = distinct_sememes_before_test(table, dataset, test_data._dataset)
    return FewShotUsers(threshold, test_users, counts)
