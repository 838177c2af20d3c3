"""Hand the memory the allocator keeps back to the system every few training batches.

glibc's malloc keeps what a batch frees for the next one, most likely in pieces that later
batches do not reuse, so a run's resident memory creeps up across an epoch: one epoch of
SeeDRecSASRec on ml-1m went from 2.3 to 3.0 GB (docs/performance.md). ``trim_memory_every: N``
calls glibc's ``malloc_trim(0)`` before the first training batch of an epoch and every Nth after
it (unset: every 20, for every model this package's trainers train); 0 never does. The first
trim hands back what the one-off stages (SeeDRec's interest cache) and evaluation left behind.
Where the C library has no ``malloc_trim`` (macOS, musl) it does nothing.
"""

import ctypes
import ctypes.util
import itertools

OPTION = "trim_memory_every"
DEFAULT_EVERY = 20


def _find_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


MALLOC_TRIM = _find_malloc_trim()


def trim_interval(config):
    """Training batches between trims, ``trim_memory_every`` with its default (0: never).

    Args:
        config: the run's Config.

    Returns:
        int: the interval.
    """
    every = config[OPTION]
    return DEFAULT_EVERY if every is None else every


def trimming_every(loss_func, every):
    """``loss_func`` that first calls ``malloc_trim(0)`` on its first call and every
    ``every``-th after it (calls 1, 1 + every, 1 + 2 * every, ...).

    Args:
        loss_func: the trainer's per-batch loss (``model.calculate_loss``).
        every: batches between trims.

    Returns:
        callable: ``loss_func``'s stand-in, or ``loss_func`` itself where nothing trims.
    """
    if not every or MALLOC_TRIM is None:
        return loss_func
    calls = itertools.count()

    def trim_then_loss(interaction):
        if next(calls) % every == 0:
            MALLOC_TRIM(0)
        return loss_func(interaction)

    return trim_then_loss


class MemoryTrimMixin:
    """Mix in before RecBole's ``Trainer``: ``trim_memory_every`` over its training batches."""

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        every = trim_interval(self.config)
        loss_func = trimming_every(loss_func or self.model.calculate_loss, every)
        return super()._train_epoch(
            train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress
        )
