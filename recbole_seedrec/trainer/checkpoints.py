"""Checkpoint names that never collide, and checkpoint files that are never half-written."""

import os
import uuid

from recbole.utils import get_local_time

from recbole_seedrec.atomic import replacing


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
        # not required: a non-zero rank of a distributed run saves nothing
        with replacing(target, required=False) as partial:
            super()._save_checkpoint(epoch, verbose=False, saved_model_file=str(partial), **kwargs)
        if verbose and os.path.exists(target):
            self.logger.info(f"Saving current: {target}")


def resume_run(trainer, path):
    """Continue a killed run from its checkpoint (``--resume_checkpoint=PATH``).

    The checkpoint is written at every improvement and, for a SeeDRec model, at every better
    S2IDM epoch (epoch -1): the run goes on from there, in the S2IDM stage or in the second
    one, and keeps writing to the same file. Refused, in one line, for a file that is not a
    checkpoint, one of another model or data set, or one trained on other data files.

    Args:
        trainer: the new run's trainer, its model built from the same options.
        path: the checkpoint (``model_file``) of the run to continue.
    """
    from recbole_seedrec.compat import load_checkpoint_file
    from recbole_seedrec.data.fingerprint import OPTION, check_same_data
    from recbole_seedrec.errors import ConfigError

    saved = load_checkpoint_file(path)["config"]
    config = trainer.config
    for key in ("model", "dataset"):
        if saved[key] != config[key]:
            raise ConfigError(
                f"--resume_checkpoint {path}",
                f"is a checkpoint of {key} {saved[key]}, not of {config[key]}",
                f"Resume it with --{key}={saved[key]}.",
            )
    check_same_data(saved[OPTION], config["data_path"], config["dataset"], path)
    trainer.resume_checkpoint(path)
