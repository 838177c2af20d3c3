"""``recbole-seedrec wordnet``: installs WordNet for NLTK (see :mod:`recbole_seedrec.prepare.wordnet`)."""

import argparse
import sys
from pathlib import Path

from recbole_seedrec.prepare.wordnet import (
    INSTALL_HINT,
    WordNetSetupError,
    install_wordnet,
    on_default_path,
    verify,
)


def main(argv=None, prog="recbole-seedrec wordnet"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Install WordNet 3.0 for NLTK from a WordNet database folder "
        f"(Debian: `{INSTALL_HINT}` puts it in /usr/share/wordnet).",
    )
    parser.add_argument("--source", default="/usr/share/wordnet", help="WordNet database folder")
    parser.add_argument(
        "--target", default="~/nltk_data", help="an NLTK data folder (default ~/nltk_data)"
    )
    args = parser.parse_args(argv)
    try:
        on_path = on_default_path(args.target)
        corpus = install_wordnet(args.source, args.target)
        verify(args.target)
    except WordNetSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"installed WordNet 3.0 in {corpus}; lemmatize('knives') -> 'knife'")
    if not on_path:
        target = Path(args.target).expanduser()
        print(f"NLTK does not search {target} by default: export NLTK_DATA={target}")
    return 0
