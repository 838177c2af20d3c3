"""Adam's betas and a per-epoch exponential learning-rate decay, as options of any trainer.

RecBole builds Adam with torch's default betas and never changes the learning rate. The
SeeDRec release trains with betas (0.9, 0.98) and multiplies the learning rate by 0.99 after
every epoch; ``adam_betas`` and ``lr_decay`` expose both (unset: RecBole's behaviour). The
decayed rate lives in the optimiser's state, so a resumed run goes on from it.
"""

import torch


class OptimizerOptionsMixin:
    """Mix in before RecBole's ``Trainer``: ``adam_betas: [b1, b2]``, ``lr_decay: gamma``."""

    def _build_optimizer(self, **kwargs):
        betas = self.config["adam_betas"]
        if betas is None or kwargs.get("learner", self.learner).lower() != "adam":
            return super()._build_optimizer(**kwargs)
        params = kwargs.pop("params", self.model.parameters())
        learning_rate = kwargs.pop("learning_rate", self.learning_rate)
        weight_decay = kwargs.pop("weight_decay", self.weight_decay)
        return torch.optim.Adam(
            params, lr=learning_rate, betas=tuple(betas), weight_decay=weight_decay
        )

    def _train_epoch(self, train_data, epoch_idx, *args, **kwargs):
        loss = super()._train_epoch(train_data, epoch_idx, *args, **kwargs)
        gamma = self.config["lr_decay"]
        if gamma is not None:
            for group in self.optimizer.param_groups:
                group["lr"] *= gamma
        return loss
