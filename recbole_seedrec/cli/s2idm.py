"""``recbole-seedrec s2idm``: train S2IDM alone, on one data set or several at once, and save
the artifact that ``s2idm_path`` loads (frozen) on any data set, e.g. another domain.

Each data set gives its users' training-history vectors (the rows SeeDRec's own stage uses:
never a validation or test item), in its own sememe vocabulary; with several data sets, the
vocabularies are joined by sememe (``s2idm_artifact.union_vocabulary``) and the vectors of all
users train one S2IDM, with the same held-out early stopping as SeeDRec's stage.
"""

from argparse import RawDescriptionHelpFormatter
from logging import getLogger
from pathlib import Path

import torch
from recbole.utils import init_logger, init_seed

from recbole_seedrec.cli.arguments import (
    USER_ERRORS,
    CommandParser,
    parse_with_overrides,
    split_config_files,
)
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.data.fingerprint import data_fingerprint
from recbole_seedrec.errors import UserError, exit_with
from recbole_seedrec.model.seedrec.interest import stored_prefix_vectors
from recbole_seedrec.model.seedrec.s2idm import S2IDM
from recbole_seedrec.model.seedrec.s2idm_artifact import (
    map_columns,
    prefixed_fields,
    union_vocabulary,
    write_s2idm_artifact,
)
from recbole_seedrec.model.seedrec.sememe_interest import (
    S2IDM_OPTIONS,
    s2idm_kwargs,
    sememe_args,
    sememe_table_for,
)
from recbole_seedrec.trainer.s2idm_stage import fit_s2idm, training_history_rows

# The model whose options (S2IDM's, the sememe fields) and data class the command reads.
CONFIG_MODEL = "SeeDRecSASRec"
# Options that define the shared S2IDM: every data set must agree on them.
SHARED_OPTIONS = S2IDM_OPTIONS

EXAMPLE = """\
examples:
  recbole-seedrec s2idm --dataset amazon-beauty benchmarks/configs/amazon-beauty.yaml \\
      --out beauty-S2IDM.pth --data_path=dataset --SEMEME_FIELD=word_sememes
  recbole-seedrec s2idm --dataset amazon-beauty benchmarks/configs/amazon-beauty.yaml \\
      --dataset ml-1m benchmarks/configs/ml-1m.yaml --out beauty+ml1m-S2IDM.pth \\
      --data_path=dataset --SEMEME_FIELD=word_sememes
Any other option is --key=value and applies to every data set (after its config files)."""


def build_parser(prog):
    parser = CommandParser(
        prog=prog,
        description="Train S2IDM alone on one or several data sets (one shared sememe "
        "vocabulary, joined by token) and write the artifact s2idm_path loads.",
        epilog=EXAMPLE,
        formatter_class=RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--dataset",
        "-d",
        nargs="+",
        action="append",
        required=True,
        metavar=("NAME", "CONFIG"),
        help="a data set and its own yaml files (optional); repeat for several data sets",
    )
    parser.add_argument(
        "--config_files", nargs="+", help="yaml files for every data set, before their own"
    )
    parser.add_argument("--out", required=True, help="where the artifact goes (.pth)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    return parser


def parse(argv, prog="recbole-seedrec s2idm"):
    """(parser, args, overrides); overrides must be --key=value."""
    parser = build_parser(prog)
    args, overrides = parse_with_overrides(parser, argv)
    names = [group[0] for group in args.dataset]
    if len(set(names)) != len(names):
        parser.error(f"--dataset: {names} names a data set twice")
    return parser, args, overrides


def check_out(out, force=False):
    """Before training: ``out`` names a file that may be written (a new one, or with
    ``force`` an existing one), never a folder."""
    path, where = Path(out), f"--out {out}"
    if path.is_dir():
        fix = f"Give the artifact's file name, e.g. --out {path / 'S2IDM.pth'}."
        raise UserError(where, "is a folder", fix)
    blocked = next((p for p in path.absolute().parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise UserError(where, f"cannot be written: {blocked} is a file", "Give another path.")
    if path.exists() and not force:
        raise UserError(where, "exists", "Give --force to replace it, or another file name.")


def sources_of(args):
    """[(data set, [its yaml files, after the common ones])], each file checked."""
    common = split_config_files(args.config_files) or []
    return [(group[0], common + (split_config_files(group[1:]) or [])) for group in args.dataset]


def source_vectors(config):
    """One data set's training-history vectors (float16-rounded as SeeDRec's cache stores
    them), its sememe vocabulary and the fields that prefix its tokens."""
    dataset = create_dataset(config)
    train, _, _ = dataset.build()
    table = sememe_table_for(config, train)
    histories = train.user_histories
    rows = training_history_rows(histories, train, config["USER_ID_FIELD"])
    return stored_prefix_vectors(histories, table, rows, **sememe_args(config)), table


def check_shared_options(configs):
    first_name, first = next(iter(configs.items()))
    for name, config in configs.items():
        for key in SHARED_OPTIONS:
            if config[key] != first[key]:
                raise ConfigError(
                    f"{key} is {first[key]!r} for {first_name} but {config[key]!r} for {name}: "
                    "one S2IDM is trained on all data sets, so set it once (--config_files or "
                    f"--{key}=...)."
                )


def train_s2idm_on(sources, out, overrides, logging=True):
    """Train and save; returns a summary dict (users, vocabularies, held-out loss, path)."""
    configs = {
        name: Config(CONFIG_MODEL, name, files or None, cmd_args=list(overrides))
        for name, files in sources
    }
    check_shared_options(configs)
    first = next(iter(configs.values()))
    if logging:
        init_logger(first)
    logger = getLogger()
    parts = {}
    for name, config in configs.items():
        init_seed(config["seed"], config["reproducibility"])
        parts[name] = source_vectors(config)
        vectors, table = parts[name]
        logger.info(f"S2IDM source {name}: {len(vectors):,} users, {table.q:,} sememes")
    union, fields, mappings = union_vocabulary(
        [(table.vocabulary, prefixed_fields(table.fields)) for _, table in parts.values()]
    )
    vectors = torch.cat([map_columns(v, m) for (v, _), m in zip(parts.values(), mappings)])
    init_seed(first["seed"], first["reproducibility"])
    device = first["device"]
    s2idm = S2IDM(**s2idm_kwargs(first, len(union))).to(device)
    best = fit_s2idm(
        s2idm, vectors, first, device, log=logger.info, show_progress=first["show_progress"]
    )
    prints = {name: data_fingerprint(c["data_path"], name) for name, c in configs.items()}
    write_s2idm_artifact(out, s2idm.cpu(), union, fields, list(configs), prints)
    reach = torch.zeros(len(union), dtype=torch.long)
    for mapping in mappings:
        reach[torch.tensor(sorted(set(mapping.source)), dtype=torch.long)] += 1
    summary = {
        "out": out,
        "sources": {name: {"users": len(v), "sememes": t.q} for name, (v, t) in parts.items()},
        "vocabulary": len(union),
        "shared_by_several": int((reach > 1).sum()),
        "users": len(vectors),
        "held_out_loss": best,
    }
    joined = f" (union by sememe, {summary['shared_by_several']:,} in several data sets)"
    logger.info(
        f"S2IDM on {' + '.join(configs)}: {len(vectors):,} users, {len(union):,} sememes"
        f"{joined if len(configs) > 1 else ''}, best held-out loss {best:.4f}; saved to {out} "
        "(load it with s2idm_path)"
    )
    return summary


def main(argv=None, prog="recbole-seedrec s2idm"):
    import sys

    argv = sys.argv[1:] if argv is None else argv
    _, args, overrides = parse(argv, prog)
    try:
        check_out(args.out, args.force)
        train_s2idm_on(sources_of(args), args.out, overrides)
    except (*USER_ERRORS, UserError) as error:
        exit_with(error)


if __name__ == "__main__":
    main()
