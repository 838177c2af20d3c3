"""Compare models on one data set under one protocol, over seeds, with costs.

    python benchmarks/compare.py --data amazon-home --models SASRec,SeeDRec --seeds 5
    python benchmarks/compare.py --data amazon-home --models SASRec,SeeDRec --quick

Writes results/<data>/<protocol>.md and .json; see the README's "Results" section and
``python benchmarks/compare.py --help``. The work is done by the ``comparison`` package beside
this file.
"""

import sys

from comparison.cli import main
from comparison.runner import stop_on_sigterm

if __name__ == "__main__":
    stop_on_sigterm()
    sys.exit(main())
