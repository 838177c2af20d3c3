"""Checkpoint names that never collide, and checkpoint files that are never half-written."""

import os
import uuid

from recbole.utils import get_local_time


def unique_checkpoint_path(checkpoint_dir, model_name):
    """RecBole's names have one-second resolution; parallel runs (Ray Tune) collide."""
    stamp = f"{get_local_time()}-{uuid.uuid4().hex[:8]}"
    return os.path.join(checkpoint_dir, f"{model_name}-{stamp}.pth")


class SafeCheckpointMixin:
    """Unique checkpoint name per run; each save goes to a temp file, then a rename."""

    def __init__(self, config, model):
        super().__init__(config, model)
        self.saved_model_file = unique_checkpoint_path(self.checkpoint_dir, config["model"])

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        target = kwargs.pop("saved_model_file", self.saved_model_file)
        partial = f"{target}.{os.getpid()}.partial"
        super()._save_checkpoint(epoch, verbose=False, saved_model_file=partial, **kwargs)
        if not os.path.exists(partial):  # a non-zero rank of a distributed run saves nothing
            return
        os.replace(partial, target)
        if verbose:
            self.logger.info(f"Saving current: {target}")
