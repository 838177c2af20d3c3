"""The Python entry points, named as RecBole's ``recbole.quick_start`` names its own.

The run recipe lives in :mod:`recbole_seedrec.run`; the ``recbole-seedrec`` command in
:mod:`recbole_seedrec.cli.main`.
"""

from recbole_seedrec.run import (
    SWITCH_OPTIONS,
    build_model_and_trainer,
    load_data_and_model,
    prepare_data,
    run_recbole_seedrec,
    switches_line,
)

__all__ = [
    "SWITCH_OPTIONS",
    "build_model_and_trainer",
    "load_data_and_model",
    "prepare_data",
    "run_recbole_seedrec",
    "switches_line",
]
