"""DiffSASRec in two stages: masked-diffusion pre-training, then optional next-item fine-tuning."""

import os

from recbole.trainer import Trainer

from recbole_seedrec.compat import load_trusted_checkpoint
from recbole_seedrec.trainer.checkpoints import SafeCheckpointMixin
from recbole_seedrec.trainer.sampled_eval import CandidateScoringMixin


class DiffSASRecTrainer(CandidateScoringMixin, SafeCheckpointMixin, Trainer):
    """RecBole's training loop, run a second time for fine-tuning when ``finetune_epochs`` > 0.

    The second stage starts from the best pre-trained weights (the checkpoint, when one was
    saved) with a fresh optimiser (``finetune_learning_rate``), its own epochs and patience
    (``finetune_stopping_step``), and the pre-training's best validation score as the bar to
    beat: selection spans both stages, and the checkpoint keeps whichever weights were best.
    The model's ``finetuning`` flag is part of its state, so a checkpoint of the second stage
    resumes in that stage (with its own optimiser state).
    """

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False,
            callback_fn=None):  # fmt: skip
        stages = (train_data, valid_data, verbose, saved, show_progress, callback_fn)
        if bool(self.model.finetuning):  # resumed from a checkpoint of the fine-tuning stage
            self._finetuning_schedule()
            return super().fit(*stages)
        result = super().fit(*stages)
        if not self.config["finetune_epochs"]:
            return result
        self.start_finetuning(saved, verbose)
        return super().fit(*stages)

    def start_finetuning(self, saved=True, verbose=True):
        """Best pre-trained weights, next-item objective, fresh optimiser, epochs from 0."""
        if saved and os.path.isfile(self.saved_model_file):
            checkpoint = load_trusted_checkpoint(self.saved_model_file, map_location=self.device)
            self.model.load_state_dict(checkpoint["state_dict"])
            self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self.model.start_finetuning()
        learning_rate = self.config["finetune_learning_rate"]
        self.optimizer = self._build_optimizer(
            learning_rate=self.learning_rate if learning_rate is None else learning_rate
        )
        self.start_epoch, self.cur_step = 0, 0
        self._finetuning_schedule()
        if verbose:
            self.logger.info(
                f"fine-tuning on next-item prediction: up to {self.epochs} epochs, "
                f"lr {self.optimizer.param_groups[0]['lr']}, bar {self.best_valid_score}"
            )

    def _finetuning_schedule(self):
        self.epochs = self.config["finetune_epochs"]
        self.eval_step = min(self.config["eval_step"], self.epochs)
        patience = self.config["finetune_stopping_step"]
        self.stopping_step = self.config["stopping_step"] if patience is None else patience
