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
        optimizer = super()._build_optimizer(**kwargs)  # RecBole's choice of optimiser
        betas = self.config["adam_betas"]
        if betas is not None and type(optimizer) is torch.optim.Adam:
            for group in optimizer.param_groups:  # Adam reads them from here at every step
                group["betas"] = tuple(betas)
        return optimizer

    def _train_epoch(self, train_data, epoch_idx, *args, **kwargs):
        loss = super()._train_epoch(train_data, epoch_idx, *args, **kwargs)
        gamma = self.config["lr_decay"]
        if gamma is not None:
            for group in self.optimizer.param_groups:
                group["lr"] *= gamma
        return loss
