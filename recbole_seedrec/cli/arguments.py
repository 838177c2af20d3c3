"""The command line shared by every command: model arguments, ``--key=value`` overrides,
config files, and how a usage mistake ends (one line, exit status 2).

Kept apart from :mod:`recbole_seedrec.cli.main` (which dispatches to the other commands) so that
each command reads its arguments without importing the one that calls it.
"""

import argparse
import os

from recbole_seedrec.errors import ConfigError, UserError, exit_with

# Mistakes in what the user asked for: reported in one line, without a traceback.
USER_ERRORS = (UserError, FileNotFoundError)  # ConfigError, UnknownModelError among them


def split_config_files(values):
    """Accept ``a.yaml b.yaml`` as separate arguments or as one quoted string, like RecBole."""
    files = [name for value in values or [] for name in value.split()]
    missing = [name for name in files if not os.path.isfile(name)]
    for name in missing:
        if "=" in name:  # an override without its dashes, read as a file by --config_files
            raise ConfigError(name, "is not a config file", f"Overrides take the form --{name}.")
    if missing:
        raise ConfigError(
            "--config_files", f"no such file: {', '.join(missing)}", "Check the path(s)."
        )
    return files or None


def add_model_arguments(parser):
    """``--model``, ``--dataset`` and ``--config_files``, as every command of this package reads
    them (``recbole-seedrec``, ``recbole-seedrec tune``)."""
    parser.add_argument("--model", "-m", default="SASRec", help="model name")
    parser.add_argument("--dataset", "-d", default="ml-100k", help="data set name")
    parser.add_argument("--config_files", nargs="+", help="yaml files, later ones win")
    parser.add_argument(
        "--protocol",
        help="evaluation protocol, the same for every model: recbole (default: RecBole's own "
        "defaults), paper (SeeDRec's: 999 sampled negatives, NDCG/Hit@5/10/20, GAUC) or full "
        "(every item ranked, NDCG/Hit@5/10/20); see docs/comparing.md",
    )


def parse_with_overrides(parser, argv):
    """``(args, overrides)``: every argument the parser does not know must be ``--key=value``
    (a config override, as RecBole's command line takes them)."""
    args, overrides = parser.parse_known_args(argv)
    # argparse hands an argument holding a space ("--load_col={'inter': [...]}") to the
    # preceding --config_files as a file name: it is an override
    files = getattr(args, "config_files", None) or []
    if files:
        args.config_files = [f for f in files if not (f.startswith("--") and "=" in f)]
        overrides = [f for f in files if f not in args.config_files] + overrides
    bad = [arg for arg in overrides if not (arg.startswith("--") and "=" in arg)]
    if bad:
        parser.error(f"unrecognised arguments {bad}: overrides take the form --key=value")
    if getattr(args, "protocol", None) is not None:  # an option like any other from here on
        overrides = [f"--protocol={args.protocol}", *overrides]
    return args, overrides


class CommandParser(argparse.ArgumentParser):
    """argparse whose usage mistakes end as every error here does: one line, exit status 2."""

    def error(self, message):
        exit_with(UserError(self.prog, message, f"See {self.prog} --help."))
