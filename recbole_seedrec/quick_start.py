"""The ``recbole-seedrec`` command: trains and evaluates one model, or hands its arguments to
``tune``, ``s2idm``, ``evaluate`` or ``case-study``.

The run recipe lives in :mod:`recbole_seedrec.run`, the shared argument handling in
:mod:`recbole_seedrec.arguments`; the names below stay importable from here as before.
"""

import argparse
import sys

from recbole_seedrec.arguments import (
    USER_ERRORS,
    add_model_arguments,
    parse_with_overrides,
    split_config_files,
)
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
    "USER_ERRORS",
    "add_model_arguments",
    "build_model_and_trainer",
    "load_data_and_model",
    "main",
    "parse_with_overrides",
    "prepare_data",
    "run_recbole_seedrec",
    "split_config_files",
    "switches_line",
]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tune"]:  # recbole-seedrec tune ...: the hyperparameter search
        from recbole_seedrec.tune import main as tune_main

        return tune_main(argv[1:], prog="recbole-seedrec tune")
    if argv[:1] == ["s2idm"]:  # recbole-seedrec s2idm ...: S2IDM alone, for s2idm_path
        from recbole_seedrec.s2idm_command import main as s2idm_main

        return s2idm_main(argv[1:], prog="recbole-seedrec s2idm")
    if argv[:1] in (["evaluate"], ["case-study"]):  # a saved checkpoint, evaluated or drawn
        from recbole_seedrec import case_study, evaluate

        command = {"evaluate": evaluate, "case-study": case_study}[argv[0]]
        return command.main(argv[1:], prog=f"recbole-seedrec {argv[0]}")
    parser = argparse.ArgumentParser(
        prog="recbole-seedrec",
        description="Train and evaluate a recbole-seedrec or RecBole model. Any other "
        "option is given as --key=value and overrides the config files. "
        "Hyperparameter search: recbole-seedrec tune --help; a saved checkpoint: "
        "recbole-seedrec evaluate --help, recbole-seedrec case-study --help.",
    )
    add_model_arguments(parser)
    args, overrides = parse_with_overrides(parser, argv)
    try:
        config_files = split_config_files(args.config_files)
        run_recbole_seedrec(args.model, args.dataset, config_files, cmd_args=overrides)
    except USER_ERRORS as error:
        parser.exit(2, f"error: {error}\n")


if __name__ == "__main__":
    main()
