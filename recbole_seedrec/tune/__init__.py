"""Hyperparameter search with Ray Tune, selecting on validation (``recbole-seedrec tune``)."""

from recbole_seedrec.tune.search import main, plan_search, run_search
from recbole_seedrec.tune.space import SearchSpaceError, load_space

__all__ = ["SearchSpaceError", "load_space", "main", "plan_search", "run_search"]
