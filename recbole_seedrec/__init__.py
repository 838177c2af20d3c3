"""SeeDRec (sememe-based diffusion for sequential recommendation) as a RecBole extension."""

from recbole_seedrec import compat

compat.apply_all()

from recbole_seedrec.checkpoint_eval import evaluate_checkpoint, evaluate_checkpoint_report
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.protocol import describe_protocol
from recbole_seedrec.registry import UnknownModelError, get_model
from recbole_seedrec.run import (
    Run,
    build_model_and_trainer,
    build_run,
    evaluate_on_test,
    fit_run,
    load_data_and_model,
    prepare_data,
    run_recbole_seedrec,
)
from recbole_seedrec.trainer import get_trainer

__version__ = "0.1.0"
__all__ = [
    "Config",
    "ConfigError",
    "Run",
    "UnknownModelError",
    "build_model_and_trainer",
    "build_run",
    "describe_protocol",
    "evaluate_checkpoint",
    "evaluate_checkpoint_report",
    "evaluate_on_test",
    "fit_run",
    "get_model",
    "get_trainer",
    "load_data_and_model",
    "prepare_data",
    "run_recbole_seedrec",
]
