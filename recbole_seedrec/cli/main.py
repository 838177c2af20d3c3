"""The ``recbole-seedrec`` command: trains and evaluates one model, or hands its arguments to a
sub-command. Also ``python -m recbole_seedrec``.
"""

import argparse
import importlib
import sys

from recbole_seedrec.cli.arguments import (
    USER_ERRORS,
    add_model_arguments,
    parse_with_overrides,
    split_config_files,
)
from recbole_seedrec.run import run_recbole_seedrec

# recbole-seedrec NAME ...: recbole_seedrec.cli.<NAME with _ for ->.main(argv, prog), imported
# only when asked for (tune starts Ray, case-study needs matplotlib)
SUBCOMMANDS = ("tune", "s2idm", "evaluate", "case-study", "prepare", "wordnet")


def main(argv=None):
    """Run ``recbole-seedrec ARGV``.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The sub-command's exit status, or None after a training run.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in SUBCOMMANDS:
        command = importlib.import_module(f"recbole_seedrec.cli.{argv[0].replace('-', '_')}")
        return command.main(argv[1:], prog=f"recbole-seedrec {argv[0]}")
    parser = argparse.ArgumentParser(
        prog="recbole-seedrec",
        description="Train and evaluate a recbole-seedrec or RecBole model. Any other "
        "option is given as --key=value and overrides the config files. Sub-commands, each "
        f"with its own --help: {', '.join(SUBCOMMANDS)}.",
    )
    add_model_arguments(parser)
    add_distributed_arguments(parser)
    args, overrides = parse_with_overrides(parser, argv)
    try:
        config_files = split_config_files(args.config_files)
        group = {k: getattr(args, k) for k in DISTRIBUTED_OPTIONS if getattr(args, k) is not None}
        run_recbole_seedrec(args.model, args.dataset, config_files, cmd_args=overrides, **group)
    except USER_ERRORS as error:
        parser.exit(2, f"error: {error}\n")
    return None


def add_distributed_arguments(parser):
    """RecBole's ``run_recbole.py`` options for a run on several processes or machines; left
    out, ``run_recbole_seedrec``'s defaults apply (one process)."""
    group = parser.add_argument_group("distributed (as RecBole's run_recbole.py)")
    group.add_argument("--nproc", type=int, help="processes on this machine (default 1)")
    group.add_argument("--world_size", type=int, help="processes in all (default: nproc)")
    group.add_argument("--ip", help="address of the machine with rank 0 (default localhost)")
    group.add_argument("--port", help="port of rank 0 (default 5678)")
    group.add_argument("--group_offset", type=int, help="rank of this machine's first (default 0)")


DISTRIBUTED_OPTIONS = ("nproc", "world_size", "ip", "port", "group_offset")

if __name__ == "__main__":
    sys.exit(main())
