"""Trainers of this package. ``<Model>Trainer`` defined here is found by model name."""

from recbole.utils import get_trainer as recbole_get_trainer

from recbole_seedrec.trainer.checkpoints import SafeCheckpointMixin, unique_checkpoint_path
from recbole_seedrec.trainer.compose import complete_trainer
from recbole_seedrec.trainer.diffsasrec import DiffSASRecTrainer
from recbole_seedrec.trainer.sampled_eval import CandidateScoringMixin
from recbole_seedrec.trainer.seedrec import SeeDRecTrainer

# Every SeeDRec model trains in two stages (S2IDM, then backbone + IPE).
SeeDRecSASRecTrainer = SeeDRecTrainer
SeeDRecCL4SRecTrainer = SeeDRecTrainer
SeeDRecGRU4RecTrainer = SeeDRecTrainer
SeeDRecSASRecIPEOnlyTrainer = SeeDRecTrainer
SeeDRecSASRecS2IDMOnlyTrainer = SeeDRecTrainer


def get_trainer(model_type, model_name: str) -> type:
    """``<Model>Trainer`` from this package, else RecBole's choice for that model.

    Args:
        model_type: the model's ``recbole.utils.ModelType`` (``config["MODEL_TYPE"]``).
        model_name: the model's class name (``config["model"]``).

    Returns:
        type: the trainer class, completed with this package's checkpointing and fast sampled
        evaluation.
    """
    trainer_class = globals().get(model_name + "Trainer")
    if trainer_class is None:
        trainer_class = recbole_get_trainer(model_type, model_name)
    return complete_trainer(trainer_class, model_type)


__all__ = [
    "CandidateScoringMixin",
    "DiffSASRecTrainer",
    "SafeCheckpointMixin",
    "SeeDRecTrainer",
    "complete_trainer",
    "get_trainer",
    "unique_checkpoint_path",
]
