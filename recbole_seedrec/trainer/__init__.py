"""Trainers of this package. ``<Model>Trainer`` defined here is found by model name."""

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

__all__ = [
    "CandidateScoringMixin",
    "DiffSASRecTrainer",
    "SafeCheckpointMixin",
    "SeeDRecTrainer",
    "complete_trainer",
    "unique_checkpoint_path",
]
