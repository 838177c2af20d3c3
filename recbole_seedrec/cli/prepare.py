"""``recbole-seedrec prepare``: the converter's command line (see :mod:`recbole_seedrec.prepare`).

Checks the options and the input files before the long read, converts, prints a summary, and
ends a mistake or an interruption with one ``error:`` line and no partial file.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from pathlib import Path

from recbole_seedrec.data.text import MissingWordNetWarning
from recbole_seedrec.prepare.amazon_dumps import read_amazon
from recbole_seedrec.prepare.convert import SEMEME_KINDS, convert
from recbole_seedrec.prepare.output import Interrupted, check_target, interruptible
from recbole_seedrec.prepare.readers import PrepareError, check_input, read_plain_tables


def _df_value(text):
    """``2`` is a number of items, ``0.01`` a fraction of them (as scikit-learn reads them)."""
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither an int count nor a fraction")


def _kinds(text):
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in SEMEME_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"{text!r}: give category, word or category,word")
    return kinds


def build_parser(prog):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Convert interactions and item data into RecBole atomic files "
        "(<out-dir>/<name>/<name>.inter and .item) with category and word sememes.",
    )
    src = parser.add_argument_group("input: plain tables (header row; .tsv tab, .csv comma)")
    src.add_argument("--interactions", help="table of user, item and time or position")
    src.add_argument("--items", help="table of items with categories and/or titles")
    src.add_argument("--user-col", default="user_id")
    src.add_argument("--item-col", default="item_id")
    src.add_argument("--time-col", help="timestamp column (default: 'timestamp' if present)")
    src.add_argument(
        "--order-col",
        help="position column (default: 'position' if present and no timestamp); "
        "written as timestamp:float so that RecBole orders by it",
    )
    src.add_argument("--title-col", help="default: 'title' if present")
    src.add_argument("--category-col", help="default: categories, category, genres or genre")
    src.add_argument("--category-sep", default="|", help="between categories (default: |)")
    src.add_argument("--sep", help=r"field separator of both files (default: \t, or , for .csv)")
    src.add_argument("--inter-sep", help="separator of --interactions (default: --sep)")
    src.add_argument("--item-sep", help="separator of --items (default: --sep)")
    amz = parser.add_argument_group("input: Amazon dumps (JSON lines, 2014 or 2018, .gz or not)")
    amz.add_argument("--amazon-reviews", help="reviews: reviewerID, asin, unixReviewTime")
    amz.add_argument("--amazon-meta", help="metadata: asin, title, category or categories")
    out = parser.add_argument_group("output")
    out.add_argument("--name", required=True, help="data set name (RecBole's `dataset`)")
    out.add_argument("--out-dir", required=True, help="folder to hold <name>/ (`data_path`)")
    out.add_argument(
        "--sememes", type=_kinds, help="category, word or category,word (default: all found)"
    )
    out.add_argument(
        "--force", action="store_true", help="replace earlier outputs (default: refuse)"
    )
    out.add_argument("--kcore", type=int, help="keep users and items with >= K interactions")
    out.add_argument(
        "--drop-duplicates",
        action="store_true",
        help="drop repeated (user, item, time) rows (default: keep them, with a warning)",
    )
    out.add_argument("--warn-no-sememe-fraction", type=float, default=0.05)
    words = parser.add_argument_group("word sememes from titles")
    words.add_argument("--min-df", type=_df_value, default=2, help="int items or fraction")
    words.add_argument("--max-df", type=_df_value, default=0.5, help="fraction or int items")
    words.add_argument("--max-vocab", type=int, default=5000, help="0: no cap (default 5000)")
    words.add_argument(
        "--lemmatizer",
        choices=("auto", "wordnet", "snowball"),
        default="auto",
        help="auto: WordNet when installed, else the Snowball stemmer with a warning",
    )
    return parser


def _reader(args):
    """Check the input options and files; return the function that reads them."""
    plain = args.interactions is not None or args.items is not None
    amazon = args.amazon_reviews is not None or args.amazon_meta is not None
    if plain == amazon:
        raise PrepareError(
            "give either --interactions and --items, or --amazon-reviews and --amazon-meta"
        )
    if plain:
        if args.interactions is None or args.items is None:
            raise PrepareError("plain tables need both --interactions FILE and --items FILE")
        check_input(args.interactions, "--interactions")
        check_input(args.items, "--items")
        return functools.partial(
            read_plain_tables,
            args.interactions,
            args.items,
            user_col=args.user_col,
            item_col=args.item_col,
            time_col=args.time_col,
            order_col=args.order_col,
            title_col=args.title_col,
            category_col=args.category_col,
            category_sep=args.category_sep,
            sep=args.sep,
            inter_sep=args.inter_sep,
            item_sep=args.item_sep,
        )
    if args.amazon_reviews is None or args.amazon_meta is None:
        raise PrepareError("Amazon dumps need both --amazon-reviews FILE and --amazon-meta FILE")
    table_only = ("time_col", "order_col", "title_col", "category_col", "sep", "inter_sep")
    table_only += ("item_sep",)
    given = [f"--{o.replace('_', '-')}" for o in table_only if getattr(args, o) is not None]
    if given:
        raise PrepareError(
            ", ".join(given),
            "applies to plain tables (--interactions, --items), not to Amazon dumps",
            "Leave it out.",
        )
    check_input(args.amazon_reviews, "--amazon-reviews")
    check_input(args.amazon_meta, "--amazon-meta")
    return functools.partial(read_amazon, args.amazon_reviews, args.amazon_meta)


def main(argv=None, prog="recbole-seedrec prepare"):
    args = build_parser(prog).parse_args(argv)
    started = time.perf_counter()
    try:
        with interruptible(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MissingWordNetWarning)
            read = _reader(args)
            check_target(args.out_dir, args.name, args.force)  # before the long read
            data = read()
            summary = convert(
                data,
                args.name,
                args.out_dir,
                sememes=args.sememes,
                kcore_k=args.kcore,
                min_df=args.min_df,
                max_df=args.max_df,
                max_vocab=args.max_vocab or None,
                backend=args.lemmatizer,
                warn_no_sememe_fraction=args.warn_no_sememe_fraction,
                drop_duplicates=args.drop_duplicates,
                force=args.force,
            )
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        where = Path(args.out_dir) / args.name
        print(
            f"error: {where}: interrupted by {stop.name}; no partial file is left. "
            "Run the command again to convert.",
            file=sys.stderr,
        )
        return 128 + stop.signum
    summary.seconds = time.perf_counter() - started  # reading included
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    for message in summary.warnings:
        print(f"warning: {message}", file=sys.stderr)
    print("\n".join(summary.lines()))
    return 0
