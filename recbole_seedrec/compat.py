"""Runtime shims that RecBole 1.2.1 needs on torch >= 2.6 and numpy 1.26 (five defects), and three
of its harmless FutureWarnings hidden.

Each shim is idempotent and applied once when ``recbole_seedrec`` is imported.
See ``../shared/notes/recbole-1.2.1.md`` for the defects they work around.
"""

import copy
import os
import pickle
import types

import torch

# Modules of RecBole that reload their own checkpoints with a bare ``torch.load``.
_CHECKPOINT_LOADING_MODULES = ("recbole.trainer.trainer",)


class _TrustedCheckpointTorch(types.ModuleType):
    """``torch`` as seen by RecBole's trainer: checkpoints unpickle its whole Config.

    torch >= 2.6 defaults to ``weights_only=True``, which refuses that pickle. RecBole's
    checkpoints are files the user wrote, so its own loads get the pre-2.6 default back.
    A call that passes ``weights_only`` keeps it. Load only checkpoints you trust.
    """

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return torch.load(*args, **kwargs)


def load_trusted_checkpoint(path, map_location=None):
    """Load a RecBole checkpoint, which pickles its Config (a file you trust)."""
    return torch.load(path, map_location=map_location, weights_only=False)


# What torch.load raises on bytes that are not (or no longer) a file torch.save wrote.
UNREADABLE_FILE_ERRORS = (
    RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, OverflowError,
    pickle.UnpicklingError,
)  # fmt: skip
# Where a model checkpoint comes from, for the errors of the checked loader.
_CHECKPOINT_FIX = (
    "Give the .pth a run wrote to checkpoint_dir (default ./saved/; its log names it)."
)


def load_checkpoint_file(path, map_location="cpu"):
    """:func:`load_trusted_checkpoint`, checked: a missing, damaged or other file (an S2IDM
    artifact, any torch file without ``config`` and ``state_dict``) raises a ``UserError``
    that names ``path`` and says what it is."""
    import warnings

    from recbole_seedrec.errors import UserError

    path = str(path)
    if os.path.isdir(path):
        raise UserError(path, "is a folder, not a model checkpoint", _CHECKPOINT_FIX)
    if not os.path.isfile(path):
        raise UserError(path, "does not exist", _CHECKPOINT_FIX)
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol it reads
            warnings.simplefilter("ignore")
            checkpoint = load_trusted_checkpoint(path, map_location=map_location)
    except (ImportError, AttributeError) as error:  # pickles a class this install lacks
        what = f"was saved by code this install lacks ({error})"
        raise UserError(path, what, "Load it with the version of the package that wrote it.")
    except UNREADABLE_FILE_ERRORS:  # not a checkpoint, or one cut short
        raise UserError(path, *_unreadable(path)) from None
    if isinstance(checkpoint, dict) and {"config", "state_dict"} <= set(checkpoint):
        return checkpoint
    if isinstance(checkpoint, dict) and {"hyperparameters", "vocabulary"} <= set(checkpoint):
        what = "is an S2IDM artifact, not a model checkpoint"
        raise UserError(path, what, f"Give it to a SeeDRec run as --s2idm_path={path}.")
    keys = sorted(map(str, checkpoint))[:5] if isinstance(checkpoint, dict) else None
    held = f"a dict of {keys}" if keys is not None else f"a {type(checkpoint).__name__}"
    what = f"is not a model checkpoint (it holds {held}, no config and state_dict)"
    raise UserError(path, what, _CHECKPOINT_FIX)


def _unreadable(path):
    """(what, fix) of a file torch cannot read, from its first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        return "is empty", _CHECKPOINT_FIX
    if head == b"PK\x03\x04":  # torch.save's zip archive, cut short or damaged
        what = "is truncated or damaged: torch cannot read its archive"
        return what, "Copy it again, whole, or give another checkpoint."
    return "is not a file torch.save wrote, so not a model checkpoint", _CHECKPOINT_FIX


def patch_checkpoint_loading():
    import importlib

    for name in _CHECKPOINT_LOADING_MODULES:
        module = importlib.import_module(name)
        if not isinstance(module.torch, _TrustedCheckpointTorch):
            module.torch = _TrustedCheckpointTorch("torch")


def patch_numpy_aliases():
    """Metrics use ``np.float`` etc.; RecBole only sets them when a Config is *built*.

    A Config unpickled from a checkpoint in a fresh process never sets them.
    """
    from recbole.config import Config

    Config.compatibility_settings(None)


def patch_collector_cpu():
    """``Collector.get_data_struct`` calls ``.cpu()`` on every value, ints included.

    The int and dict entries (``data.num_items``, ``data.count_items``, ...) are set aside
    around the original call, so every metric that reads them works again.
    """
    from recbole.evaluator.collector import Collector

    original = Collector.get_data_struct
    if getattr(original, "_seedrec_patched", False):
        return

    def get_data_struct(self):
        store = self.data_struct._data_dict
        plain = {k: v for k, v in store.items() if not isinstance(v, torch.Tensor)}
        for key in plain:
            del store[key]
        try:
            returned = original(self)
        finally:
            store.update(plain)
        returned._data_dict.update(copy.deepcopy(plain))
        return returned

    get_data_struct._seedrec_patched = True
    get_data_struct.__wrapped__ = original
    Collector.get_data_struct = get_data_struct


def turn_off_anomaly_detection():
    """RecBole's ``sine.py`` switches autograd anomaly detection on for the whole process when it
    is imported, and importing any of RecBole's sequential models imports it: every backward
    pass then checks for NaNs (measured 1.4-1.6x slower training). Import it once, then switch
    the debugging mode back off; later imports do not run it again."""
    import recbole.model.sequential_recommender  # noqa: F401

    torch.autograd.set_detect_anomaly(False)


# Modules of RecBole that import ``ensure_dir`` by name.
_ENSURE_DIR_MODULES = (
    "recbole.utils.utils",
    "recbole.utils",
    "recbole.utils.logger",
    "recbole.trainer.trainer",
    "recbole.data.utils",
    "recbole.data.dataset.dataset",
)


def patch_ensure_dir():
    """``ensure_dir`` checks, then creates: two runs started together in one folder both see no
    ``./log`` and the second dies with ``FileExistsError`` deep in RecBole's logger. Creating
    with ``exist_ok`` closes that race; everything else is as before."""
    import importlib
    import os

    from recbole.utils import utils

    original = getattr(utils.ensure_dir, "__wrapped__", utils.ensure_dir)

    def ensure_dir(dir_path):
        os.makedirs(dir_path, exist_ok=True)

    ensure_dir.__wrapped__ = original
    for name in _ENSURE_DIR_MODULES:
        module = importlib.import_module(name)
        module.ensure_dir = ensure_dir


# FutureWarnings that RecBole 1.2.1 prints about its own code, harmless under the pins:
# (message start, module that issues it).
_KNOWN_RECBOLE_WARNINGS = (
    # Dataset._fill_nan: chained fillna(inplace=True) still fills under pandas < 3.
    ("A value is trying to be set on a copy of a DataFrame or Series through chained", "data"),
    # Dataset._remap: Series.agg(len) on token_seq fields keeps its behaviour under pandas < 3.
    ("using <built-in function len> in Series.agg cannot aggregate", "data"),
    # Trainer.__init__: the torch.cuda.amp.GradScaler alias still works.
    (r"`torch\.cuda\.amp\.GradScaler\(args\.\.\.\)` is deprecated", "trainer"),
)


def quiet_known_warnings():
    """Hide the FutureWarnings above, which every run printed: only these messages, only when
    RecBole's own modules issue them."""
    import warnings

    for message, package in _KNOWN_RECBOLE_WARNINGS:
        warnings.filterwarnings(
            "ignore", message=message, category=FutureWarning, module=rf"recbole\.{package}\."
        )


def apply_all():
    quiet_known_warnings()
    turn_off_anomaly_detection()
    patch_numpy_aliases()
    patch_checkpoint_loading()
    patch_collector_cpu()
    patch_ensure_dir()
