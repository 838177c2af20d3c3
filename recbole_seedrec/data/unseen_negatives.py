"""Sampled-evaluation negatives the user never interacted with, all distinct.

For sequential data RecBole evaluates with its ``RepeatableSampler``, which excludes only the
row's own target: the 1 + N candidates can repeat an item and can hold items from the user's
history. ``eval_negatives: unseen`` draws instead N distinct items, uniform among the items the
user has no interaction with anywhere in the data set (the usual reading of "N sampled
negatives", and not the SeeDRec release's draw with replacement). The generator is reseeded
from ``seed`` at the start of every pass, so every validation epoch sees the same negatives.
"""

import numpy as np

from recbole_seedrec.errors import ConfigError

OPTION = "eval_negatives"
CHOICES = ("recbole", "unseen")


class UnseenNegativeSampler:
    """Draws ``[rows, num]`` distinct negatives per row, none in that row's user's interactions."""

    def __init__(self, dataset, num, seed):
        self.n_items = dataset.item_num
        users = dataset.inter_feat[dataset.uid_field].numpy().astype(np.int64)
        items = dataset.inter_feat[dataset.iid_field].numpy().astype(np.int64)
        seen = np.unique(users * self.n_items + items)  # sorted (user, item) keys
        self._seen_items = seen % self.n_items  # each user's items, users in order
        per_user = np.bincount(seen // self.n_items, minlength=dataset.user_num)
        self._first_seen = np.concatenate([[0], np.cumsum(per_user)])
        most_seen = int(per_user.max()) if len(per_user) else 0
        if self.n_items - 1 - most_seen < num:  # id 0 is padding
            raise ConfigError(
                f"eval_args.mode asks for {num} negatives, but a user has interacted with "
                f"{most_seen} of the {self.n_items - 1} items: lower the N of 'uniN', or set "
                f"{OPTION}: recbole."
            )
        self.num = num
        self.seed = seed
        # Rows per block, so that a block's [rows, n_items] seen-mask stays near 16 MB.
        self._block_rows = max(1, (1 << 24) // self.n_items)
        self.reset()

    def reset(self):
        self._rng = np.random.default_rng(self.seed)

    def sample(self, user_ids):
        """``[rows, num]`` negatives for the users of ``user_ids``, one row each."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        blocks = range(0, len(user_ids), self._block_rows)
        parts = [self._sample_block(user_ids[start : start + self._block_rows]) for start in blocks]
        return np.concatenate(parts) if parts else np.empty((0, self.num), dtype=np.int64)

    def _sample_block(self, user_ids):
        """Uniform draws with rejection: a draw is kept unless the user has seen it or it
        repeats an earlier draw of its row; each row keeps its first ``num`` kept draws."""
        seen = self._seen_mask(user_ids)
        negatives = np.empty((len(user_ids), self.num), dtype=np.int64)
        pending = np.arange(len(user_ids))
        width = self.num + self.num // 8 + 16
        while len(pending):
            draws = self._rng.integers(1, self.n_items, size=(len(pending), width))
            kept = ~np.take_along_axis(seen[pending], draws, axis=1)
            kept &= ~_repeats_earlier_draw(draws)
            kept_so_far = np.cumsum(kept, axis=1)
            enough = kept_so_far[:, -1] >= self.num
            chosen = kept[enough] & (kept_so_far[enough] <= self.num)
            negatives[pending[enough]] = draws[enough][chosen].reshape(-1, self.num)
            pending, width = pending[~enough], width * 2
        return negatives

    def _seen_mask(self, user_ids):
        """``[rows, n_items]``: True at the items each row's user interacted with."""
        starts, ends = self._first_seen[user_ids], self._first_seen[user_ids + 1]
        counts = ends - starts
        offsets = np.cumsum(counts) - counts
        positions = np.repeat(starts - offsets, counts) + np.arange(counts.sum())
        mask = np.zeros((len(user_ids), self.n_items), dtype=bool)
        mask[np.repeat(np.arange(len(user_ids)), counts), self._seen_items[positions]] = True
        return mask


def _repeats_earlier_draw(draws):
    """True where a row's value already occurred earlier in that row."""
    width = draws.shape[1]
    keys = np.sort(draws * width + np.arange(width), axis=1)  # by value, then draw position
    values, positions = np.divmod(keys, width)
    repeats = np.zeros(draws.shape, dtype=bool)
    rows = np.arange(len(draws))[:, None]
    repeats[rows, positions[:, 1:]] = values[:, 1:] == values[:, :-1]
    return repeats


TRAIN_OPTION = "train_negatives"
TRAIN_CHOICES = ("recbole", "unseen")


class TrainingSetNegatives:
    """Training negatives outside the user's training items (``train_negatives: unseen``).

    RecBole's sequential sampler excludes only the row's own target, so a negative can be an
    item the user bought before. The SeeDRec release draws each negative uniformly among the
    items outside the user's training set (with replacement across rows: validation and test
    items can be drawn). This sampler does the same, from NumPy's global generator as RecBole's
    does (so ``seed`` and the epoch-level resume cover it), and stands in for RecBole's sampler
    in the training loader; everything else is delegated to it.
    """

    def __init__(self, train_dataset, recbole_sampler):
        self._recbole_sampler = recbole_sampler
        self.n_items = train_dataset.item_num
        uid, iid = train_dataset.uid_field, train_dataset.iid_field
        users = train_dataset.inter_feat[uid].numpy().astype(np.int64)
        lists = train_dataset.inter_feat[iid + train_dataset.config["LIST_SUFFIX"]].numpy()
        targets = train_dataset.inter_feat[iid].numpy().astype(np.int64)
        list_users = np.repeat(users, lists.shape[1])
        listed = lists.reshape(-1).astype(np.int64)
        keys = np.concatenate(
            [
                users * self.n_items + targets,
                (list_users * self.n_items)[listed > 0] + listed[listed > 0],
            ]
        )
        self._seen = np.unique(keys)
        per_user = np.bincount(self._seen // self.n_items)
        if len(per_user) and per_user.max() >= self.n_items - 1:
            raise ConfigError(
                f"{TRAIN_OPTION}: unseen: a user has trained on every item, so no negative is "
                f"left to draw. Set {TRAIN_OPTION}: recbole."
            )

    def __getattr__(self, name):
        return getattr(self._recbole_sampler, name)

    def _trained_on(self, users, items):
        keys = users * self.n_items + items
        found = np.searchsorted(self._seen, keys).clip(max=len(self._seen) - 1)
        return self._seen[found] == keys

    def sample_by_user_ids(self, user_ids, item_ids, num):
        """RecBole's layout: ``num`` rounds of one negative per row, ``[num * rows]``."""
        import torch

        users = np.tile(np.asarray(user_ids, dtype=np.int64), num)
        items = np.random.randint(1, self.n_items, size=len(users))
        redraw = self._trained_on(users, items)
        while redraw.any():
            items[redraw] = np.random.randint(1, self.n_items, size=int(redraw.sum()))
            redraw[redraw] = self._trained_on(users[redraw], items[redraw])
        return torch.from_numpy(items)
