"""Give any RecBole trainer this package's behaviour, by composition rather than copies."""

from recbole.trainer import Trainer
from recbole.utils import ModelType

from recbole_seedrec.trainer.checkpoints import SafeCheckpointMixin
from recbole_seedrec.trainer.distributed import DistributedMixin
from recbole_seedrec.trainer.memory import MemoryTrimMixin
from recbole_seedrec.trainer.optimizer_options import OptimizerOptionsMixin
from recbole_seedrec.trainer.sampled_eval import CandidateScoringMixin
from recbole_seedrec.trainer.test_audit import TestAuditMixin

_COMPOSED = {}


def complete_trainer(trainer_class, model_type):
    """``trainer_class`` with unique, atomic checkpoints, the optimiser options, the test
    audit, distributed runs on CPUs, memory trims and, for sequential models, sampled
    evaluation from one encoding per row. Trainers outside RecBole's ``Trainer`` (decision
    trees) are returned as they are."""
    if not issubclass(trainer_class, Trainer):
        return trainer_class
    wanted = [
        DistributedMixin, TestAuditMixin, OptimizerOptionsMixin, MemoryTrimMixin,
        SafeCheckpointMixin,
    ]  # fmt: skip
    if model_type == ModelType.SEQUENTIAL:
        wanted.insert(0, CandidateScoringMixin)
    missing = tuple(mixin for mixin in wanted if not issubclass(trainer_class, mixin))
    if not missing:
        return trainer_class
    key = (trainer_class, missing)
    if key not in _COMPOSED:
        _COMPOSED[key] = type(trainer_class.__name__, (*missing, trainer_class), {})
    return _COMPOSED[key]
