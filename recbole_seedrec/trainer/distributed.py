"""What RecBole 1.2.1's trainer lacks for a distributed run on CPUs, and for one that reloads
its best epoch.

- RecBole wraps the model in ``DistributedDataParallel`` for CUDA device ``local_rank``; a CPU
  rank gets the CPU wrapper (no ``device_ids``), which averages the gradients with ``gloo``.
- Every rank must read the same checkpoint: rank 0 names it (names here are unique per run),
  and the others take that name.
- Rank 0 evaluates every user, as one process does, and the other ranks take its result
  (:mod:`recbole_seedrec.distributed`): the same metrics as one process, and the same epoch
  to stop at on every rank.
- A SeeDRec model's S2IDM stays out of ``DistributedDataParallel``: rank 0 trains it, the
  others take its weights, and it is frozen from then on.
"""

import torch
from torch.nn.parallel import DistributedDataParallel

from recbole_seedrec.distributed import as_one_process, ignore_in_ddp, rank_and_size


class DistributedMixin:
    """Mix in before RecBole's ``Trainer`` and :class:`SafeCheckpointMixin`."""

    def __init__(self, config, model):
        if not config["single_spec"] and getattr(model, "s2idm", None) is not None:
            ignore_in_ddp(model, "s2idm.")  # frozen after rank 0 trains it (SeeDRecTrainer)
        on_cpu = not config["single_spec"] and config["device"].type == "cpu"
        if not on_cpu:
            super().__init__(config, model)
        else:
            with as_one_process(config):  # RecBole would pin the wrapper to CUDA device local_rank
                super().__init__(config, model)
            self.distributed_model = DistributedDataParallel(self.model)
        if not config["single_spec"]:
            names = [self.saved_model_file]
            torch.distributed.broadcast_object_list(names, src=0)
            self.saved_model_file = names[0]

    def evaluate(self, eval_data, load_best_model=True, *args, **kwargs):
        if self.config["single_spec"]:
            return super().evaluate(eval_data, load_best_model, *args, **kwargs)
        result = [None]
        if rank_and_size(self.config)[0] == 0:
            with as_one_process(self.config):
                result[0] = super().evaluate(eval_data, load_best_model, *args, **kwargs)
        torch.distributed.broadcast_object_list(result, src=0)
        return result[0]
