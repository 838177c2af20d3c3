"""What a bad-input case is, and how tests/test_bad_inputs.py runs one.

A case runs one command of the package in-process, as a user would type it, and expects:
- the exit code (2 for a usage mistake);
- exactly one ``error: ...`` line on stderr that contains ``message`` (it names the file, field
  or option), and no traceback anywhere;
- every file in ``unchanged`` byte-identical afterwards (earlier outputs are never lost).

Cases live in ``tests/bad_inputs_*.py`` modules as ``CASES = [Case(...), ...]``; ``argv`` and
``unchanged`` are functions of the :class:`Workspace` the table builds once.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class Workspace:
    """Files the cases start from (built once per test session, then copied per case)."""

    root: Path  # a folder of one's own, per case
    data_path: Path  # holds <name>/<name>.inter/.item, converted
    name: str  # the synthetic data set's name
    raw: Path  # raw TSV inputs of the converter: interactions.tsv, items.tsv
    model_file: Path  # a trained SASRec checkpoint of the synthetic data
    seedrec_file: Path  # a trained SeeDRecSASRec checkpoint
    s2idm_file: Path  # its S2IDM artifact
    extra: dict = field(default_factory=dict)


@dataclass
class Case:
    id: str
    command: str  # run | prepare | evaluate | case-study | s2idm | tune
    argv: Callable[[Workspace], list]
    message: str  # a part of the one error line
    code: int = 2
    unchanged: Callable[[Workspace], list] = lambda ws: []
    setup: Callable[[Workspace], None] = lambda ws: None


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else None


def run_command(command, argv):
    """The command's ``main`` as the console script calls it; returns its exit code."""
    if command == "prepare":
        from recbole_seedrec.cli.prepare import main

        return main(argv) or 0
    from recbole_seedrec.cli.main import main

    prefix = [] if command == "run" else [command]
    try:
        main(prefix + argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return 0
