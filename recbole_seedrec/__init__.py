"""SeeDRec (sememe-based diffusion for sequential recommendation) as a RecBole extension."""

from recbole_seedrec import compat

compat.apply_all()

from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.quick_start import load_data_and_model, run_recbole_seedrec
from recbole_seedrec.registry import UnknownModelError, get_model
from recbole_seedrec.trainer import get_trainer

__version__ = "0.1.0"
__all__ = [
    "Config",
    "ConfigError",
    "UnknownModelError",
    "get_model",
    "get_trainer",
    "load_data_and_model",
    "run_recbole_seedrec",
]
