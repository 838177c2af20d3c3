"""The comparison command behind ``benchmarks/compare.py``: models x seeds on one data set
under one protocol, with mean +- std, paired t-tests, costs and the published figures.

Modules by concern: ``protocols`` (what every run is given), ``records`` (one JSON record per
finished run, resuming, atomic writes), ``runner`` (one run in a subprocess), ``results``
(aggregation and tests), ``report`` (the .md and .json), ``tables`` (the reports' table
helpers), ``costs`` (the cost table), ``paper`` (published figures, protocol differences,
targets), ``cli`` (the command).

Kept free of heavy imports: a run's subprocess imports ``comparison.runner`` first.
"""

from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parents[1]
REPO = BENCHMARKS_DIR.parent
DATA_CONFIGS = BENCHMARKS_DIR / "configs"
