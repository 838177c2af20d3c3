"""A data set's fingerprint: what a checkpoint was trained on, checked when it is reloaded.

A checkpoint stores item and user ids as positions in the id maps RecBole builds from the
atomic files. Re-convert the data and an old checkpoint either fails with a size-mismatch
traceback or, when the sizes happen to match, evaluates a model whose rows now mean other
items. Every run records the size and SHA-256 of each atomic file it read in its config
(``data_fingerprint``), so every checkpoint carries it; reloading compares it with the files.
"""

import hashlib
from pathlib import Path

from recbole_seedrec.errors import ConfigError

OPTION = "data_fingerprint"
SUFFIXES = ("inter", "item", "user")


def data_fingerprint(data_path, dataset):
    """``{file name: "size:sha256"}`` of the data set's atomic files that exist.

    Args:
        data_path: the folder holding ``<dataset>.inter`` (RecBole's final ``data_path``).
        dataset: the data set's name.

    Returns:
        dict: one entry per atomic file found.
    """
    prints = {}
    for suffix in SUFFIXES:
        path = Path(data_path) / f"{dataset}.{suffix}"
        if path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            prints[path.name] = f"{path.stat().st_size}:{digest.hexdigest()[:16]}"
    return prints


def check_same_data(recorded, data_path, dataset, checkpoint):
    """Refuse to reload ``checkpoint`` on data other than what it was trained on.

    Args:
        recorded: the checkpoint's ``data_fingerprint`` (None for older checkpoints: no check).
        data_path, dataset: where the data is now.
        checkpoint: the checkpoint's path, for the message.

    Raises:
        ConfigError: naming the checkpoint, the files that differ and both fingerprints.
    """
    if not recorded:
        return
    current = data_fingerprint(data_path, dataset)
    differing = sorted(
        name for name in set(recorded) | set(current) if recorded.get(name) != current.get(name)
    )
    if not differing:
        return
    details = "; ".join(
        f"{name}: trained on {recorded.get(name, 'none')}, now {current.get(name, 'missing')}"
        for name in differing
    )
    raise ConfigError(
        str(checkpoint),
        f"was trained on other data than {Path(data_path)} holds now ({details})",
        "Evaluate it on the files it was trained on (--data_path), or train a new model on "
        "the new files.",
    )
