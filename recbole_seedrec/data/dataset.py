"""Sequential data that lets a model look up the full history before each target."""

from dataclasses import dataclass

import numpy as np
import torch
from recbole.data import create_dataset as recbole_create_dataset
from recbole.data.dataset import SequentialDataset
from recbole.data.interaction import Interaction
from recbole.utils import FeatureSource, FeatureType

from recbole_seedrec.traits import trait

HISTORY_POSITION_FIELD = "history_position"
_EXACT_TIME_FIELD = "_seedrec_exact_time"


@dataclass
class UserHistories:
    """Every user's interactions in time order, flat: user ``u`` owns rows
    ``offsets[u] : offsets[u + 1]`` of ``items`` and ``times``."""

    items: torch.Tensor
    times: torch.Tensor
    offsets: torch.Tensor

    def rows(self, user_ids, positions):
        """Flat row of the interaction at ``positions`` in each user's history."""
        return self.offsets[user_ids] + positions


def narrowest_id_type(count):
    """The narrowest signed integer type that holds the ids ``0 .. count - 1``.

    Args:
        count: how many ids (e.g. a data set's ``item_num``, padding included).

    Returns:
        torch.dtype: int16, int32 or int64.
    """
    for dtype in (torch.int16, torch.int32):
        if count - 1 <= torch.iinfo(dtype).max:
            return dtype
    return torch.int64


class SememeSequentialDataset(SequentialDataset):
    """RecBole's sequential data, plus what a leak-free sememe prefix needs.

    Each row also holds ``history_position``: the position of its target in the user's full
    history, which stays exact when ``MAX_ITEM_LIST_LENGTH`` truncates ``item_id_list``. The
    full histories are kept in ``user_histories`` (shared by the split copies).

    Of the history lists RecBole makes for every interaction field, only ``item_id_list`` is
    kept: SeeDRec's models read no other, and the times come from ``user_histories``. On ml-1m
    ``timestamp_list`` alone would take 190 MiB a copy. ``item_id_list`` is held in the
    narrowest integer type the item ids fit (int16 below 32,768 items: a quarter of ml-1m's
    375 MiB); the rows a loader takes (``dataset[index]``) get it back in int64, as RecBole's
    models expect.
    """

    def _change_feat_format(self):
        # RecBole stores float fields as float32, which rounds Unix seconds (~1e9) to 64-128 s:
        # keep the file's float64 times for the time weights, aligned row by row.
        if self.time_field is not None and self.time_field in self.inter_feat:
            times = self.inter_feat[self.time_field].to_numpy(dtype=np.float64)
            self._exact_times = torch.from_numpy(times)
        super()._change_feat_format()

    def data_augmentation(self):
        exact = self.__dict__.pop("_exact_times", None)
        if exact is not None:
            self.inter_feat.update(Interaction({_EXACT_TIME_FIELD: exact}))
        self.sort(by=[self.uid_field, self.time_field], ascending=True)
        if exact is not None:
            times = self.inter_feat.interaction.pop(_EXACT_TIME_FIELD)
        else:
            times = self.inter_feat[self.time_field].to(torch.float64)
        users = self.inter_feat[self.uid_field]
        counts = torch.bincount(users, minlength=self.user_num)
        offsets = torch.zeros(self.user_num + 1, dtype=torch.long)
        offsets[1:] = torch.cumsum(counts, 0)
        self.user_histories = UserHistories(
            items=self.inter_feat[self.iid_field].clone(),
            times=times,
            offsets=offsets,
        )
        # RecBole makes a [rows, MAX_ITEM_LIST_LENGTH] list of every field it finds: hide the
        # others, and give them back for the target rows (every row but a user's first). It
        # sorts by time, so that list is made, and dropped.
        listed = (self.uid_field, self.iid_field, self.time_field)
        hidden = [f for f in self.inter_feat.columns if f not in listed]
        unlisted = {field: self.inter_feat.interaction.pop(field) for field in hidden}
        super().data_augmentation()
        self._del_col(self.inter_feat, self.time_field + self.config["LIST_SUFFIX"])
        item_lists = self.inter_feat[self.item_id_list_field]
        held = narrowest_id_type(self.item_num)
        self.inter_feat.update(Interaction({self.item_id_list_field: item_lists.to(held)}))
        is_target = torch.ones(len(users), dtype=torch.bool)
        is_target[offsets[:-1][counts > 0]] = False
        self.inter_feat.update(Interaction({f: v[is_target] for f, v in unlisted.items()}))
        # Every interaction but a user's first is a target, in order: a row's target sits
        # one after its rank among the user's rows.
        target_users = self.inter_feat[self.uid_field]
        targets_per_user = (counts - 1).clamp(min=0)
        first_row_of_user = torch.cumsum(targets_per_user, 0) - targets_per_user
        positions = torch.arange(len(target_users)) - first_row_of_user[target_users] + 1
        self.inter_feat.update(Interaction({HISTORY_POSITION_FIELD: positions}))
        self.set_field_property(
            HISTORY_POSITION_FIELD, FeatureType.TOKEN, FeatureSource.INTERACTION, 1
        )

    def __getitem__(self, index, join=True):
        rows = super().__getitem__(index, join)
        item_lists = rows.interaction.get(self.item_id_list_field)
        if item_lists is not None and item_lists.dtype != torch.int64:
            rows.update(Interaction({self.item_id_list_field: item_lists.long()}))
        return rows


def release_unsplit_lists(dataset):
    """Drop the history lists of the unsplit data set once its splits are built.

    RecBole's samplers keep the unsplit data set for its item column alone; its history lists
    are copies of what the splits hold (on ml-1m, 570 MiB). Call it once nothing reads the
    unsplit rows' histories any more (after :func:`~recbole_seedrec.data.few_shot.few_shot_users`).

    Args:
        dataset: the data set ``create_dataset`` returned, after ``data_preparation``.
    """
    suffix = dataset.config["LIST_SUFFIX"]
    for field in [f for f in dataset.inter_feat.columns if f.endswith(suffix)]:
        dataset.inter_feat.drop(field)  # the field's properties stay: the splits have it


def create_dataset(config):
    """RecBole's ``create_dataset``, or the model's own ``dataset_class`` when it has one."""
    dataset_class = trait(config.model_class, "dataset_class")
    if dataset_class is None:
        return recbole_create_dataset(config)
    dataset = dataset_class(config)
    if config["save_dataset"]:
        dataset.save()
    return dataset
