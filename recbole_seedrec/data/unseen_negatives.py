"""Sampled-evaluation negatives the user never interacted with, all distinct.

For sequential data RecBole evaluates with its ``RepeatableSampler``, which excludes only the
row's own target: the 1 + N candidates can repeat an item and can hold items from the user's
history. ``eval_negatives: unseen`` draws instead N distinct items, uniform among the items the
user has no interaction with anywhere in the data set (the usual reading of "N sampled
negatives", and not the SeeDRec release's draw with replacement). The generator is reseeded
from ``seed`` at the start of every pass, so every validation epoch sees the same negatives.
"""

import numpy as np

OPTION = "eval_negatives"
CHOICES = ("recbole", "unseen")


class UnseenNegativeSampler:
    """Draws ``[rows, num]`` distinct negatives per row, none in that row's user's interactions."""

    def __init__(self, dataset, num, seed):
        self.n_items = dataset.item_num
        users = dataset.inter_feat[dataset.uid_field].numpy().astype(np.int64)
        items = dataset.inter_feat[dataset.iid_field].numpy().astype(np.int64)
        self._seen = np.unique(users * self.n_items + items)  # sorted (user, item) keys
        seen_per_user = np.bincount(self._seen // self.n_items, minlength=dataset.user_num)
        most_seen = int(seen_per_user.max()) if len(seen_per_user) else 0
        if self.n_items - 1 - most_seen < num:  # id 0 is padding
            from recbole_seedrec.config import ConfigError  # config.py imports this module

            raise ConfigError(
                f"eval_args.mode asks for {num} negatives, but a user has interacted with "
                f"{most_seen} of the {self.n_items - 1} items: lower the N of 'uniN', or set "
                f"{OPTION}: recbole."
            )
        self.num = num
        self.seed = seed
        self.reset()

    def reset(self):
        self._rng = np.random.default_rng(self.seed)

    def _seen_mask(self, keys):
        slots = np.searchsorted(self._seen, keys).clip(max=len(self._seen) - 1)
        return self._seen[slots] == keys

    def sample(self, user_ids):
        """Uniform draws with rejection: a draw is kept unless the user has seen it or it
        repeats an earlier draw of its row; each row keeps its first ``num`` kept draws."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        negatives = np.empty((len(user_ids), self.num), dtype=np.int64)
        pending = np.arange(len(user_ids))
        width = self.num + self.num // 8 + 16
        while len(pending):
            draws = self._rng.integers(1, self.n_items, size=(len(pending), width))
            kept = ~self._seen_mask(user_ids[pending, None] * self.n_items + draws)
            kept &= ~_repeats_earlier_draw(draws)
            enough = kept.sum(axis=1) >= self.num
            first_kept = np.argsort(~kept[enough], axis=1, kind="stable")[:, : self.num]
            negatives[pending[enough]] = np.take_along_axis(draws[enough], first_kept, axis=1)
            pending, width = pending[~enough], width * 2
        return negatives


def _repeats_earlier_draw(draws):
    """True where a row's value already occurred earlier in that row."""
    order = np.argsort(draws, axis=1, kind="stable")  # equal values keep their draw order
    ordered = np.take_along_axis(draws, order, axis=1)
    repeat_in_order = np.zeros(draws.shape, dtype=bool)
    repeat_in_order[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    repeats = np.empty_like(repeat_in_order)
    np.put_along_axis(repeats, order, repeat_in_order, axis=1)
    return repeats
