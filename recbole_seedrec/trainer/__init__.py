"""Trainers of this package. ``<Model>Trainer`` defined here is found by model name."""

from recbole_seedrec.trainer.checkpoints import (
    SafeCheckpointMixin,
    unique_checkpoint_path,
    with_safe_checkpoints,
)

__all__ = ["SafeCheckpointMixin", "unique_checkpoint_path", "with_safe_checkpoints"]
