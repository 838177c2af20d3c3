"""``python -m recbole_seedrec ...`` is ``recbole-seedrec ...``."""

import sys

from recbole_seedrec.cli.main import main

sys.exit(main())
