"""Cross-domain transfer of S2IDM (the SeeDRec paper's section 4.4) on a source -> target pair.

    python benchmarks/transfer.py --source ml-1m --target amazon-beauty --data-path DIR
    python benchmarks/transfer.py --source amazon-beauty --target ml-1m --quick

Trains (or reuses, ``--source-s2idm``) S2IDM on the source's word sememes, then runs SASRec,
w/ S2IDM, w/ IPE and SeeDRec on the target with the source S2IDM frozen, and writes
results/transfer/<source>-to-<target>[-quick].md and .json. See the README's "Cross-domain
transfer" section and ``python benchmarks/transfer.py --help``.
"""

import sys

from comparison.runner import stop_on_sigterm
from comparison.transfer import main

if __name__ == "__main__":
    stop_on_sigterm()
    sys.exit(main())
