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

# sub-command -> the module under recbole_seedrec.cli whose main(argv, prog) runs it; imported
# only when asked for (tune starts Ray, case-study needs matplotlib)
SUBCOMMANDS = {
    "tune": "tune",
    "s2idm": "s2idm",
    "evaluate": "evaluate",
    "case-study": "case_study",
    "prepare": "prepare",
    "wordnet": "wordnet",
}


def main(argv=None):
    """Run ``recbole-seedrec ARGV``.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The sub-command's exit status, or None after a training run.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in SUBCOMMANDS:
        command = importlib.import_module(f"recbole_seedrec.cli.{SUBCOMMANDS[argv[0]]}")
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
        run_recbole_seedrec(
            args.model,
            args.dataset,
            config_files,
            cmd_args=overrides,
            nproc=args.nproc,
            world_size=args.world_size,
            ip=args.ip,
            port=args.port,
            group_offset=args.group_offset,
        )
    except USER_ERRORS as error:
        parser.exit(2, f"error: {error}\n")
    return None


def add_distributed_arguments(parser):
    """RecBole's ``run_recbole.py`` options for a run on several processes or machines."""
    group = parser.add_argument_group("distributed (as RecBole's run_recbole.py)")
    group.add_argument("--nproc", type=int, default=1, help="processes on this machine")
    group.add_argument("--world_size", type=int, default=-1, help="processes in all (-1: nproc)")
    group.add_argument("--ip", default="localhost", help="address of the machine with rank 0")
    group.add_argument("--port", default="5678", help="port of rank 0")
    group.add_argument("--group_offset", type=int, default=0, help="rank of this machine's first")


if __name__ == "__main__":
    sys.exit(main())
