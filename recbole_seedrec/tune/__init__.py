"""Hyperparameter search with Ray Tune, selecting on validation (``recbole-seedrec tune``)."""

import warnings

# Ray 2.6.3 imports pkg_resources, which setuptools 81 flags on every start; not the user's to fix.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from recbole_seedrec.tune.search import plan_search, run_search
from recbole_seedrec.tune.space import SearchSpaceError, load_space

__all__ = ["SearchSpaceError", "load_space", "plan_search", "run_search"]
