"""Convert interaction and item data into RecBole atomic files with sememe fields.

``python -m recbole_seedrec.data.prepare --help``. Writes ``<out>/<name>/<name>.inter``
(``user_id``, ``item_id``, ``timestamp``; each user's rows together, in time order) and
``<name>.item`` (``item_id`` and ``category_sememes`` and/or ``word_sememes``). Everything is
read and checked before anything is written, and each file is replaced atomically, so a failed
or interrupted (SIGTERM, Ctrl-C) run leaves no partial file and keeps an earlier good output;
an earlier output is replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import functools
import html
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from recbole_seedrec.data.amazon_dumps import read_amazon
from recbole_seedrec.data.output import (
    PANDAS_NA,
    Interrupted,
    Summary,
    check_target,
    interruptible,
    write_atomic,
)
from recbole_seedrec.data.readers import (
    PrepareError,
    RawData,
    check_input,
    read_plain_tables,
)
from recbole_seedrec.data.text import MissingWordNetWarning, WordSememizer

SEMEME_KINDS = ("category", "word")
FIELD_NAMES = {"category": "category_sememes", "word": "word_sememes"}

_BAD_ID_CHARS = re.compile(r"[\t\r\n]")
_SPACES = re.compile(r"\s+")

__all__ = ["PrepareError", "Summary", "convert", "kcore", "main", "sememe_token", "write_atomic"]


def sememe_token(text):
    """A category name as one RecBole token: the token_seq separator is a space, RecBole's
    reader takes a leading double quote for CSV quoting, and the 2018 Amazon dumps escape
    ``&`` as ``&amp;``."""
    return _SPACES.sub("_", html.unescape(text).replace('"', "").strip())


def kcore(interactions, k):
    """Drop users and items with fewer than ``k`` interactions, repeatedly, until none has."""
    rows = interactions
    while True:
        users = Counter(r[0] for r in rows)
        items = Counter(r[1] for r in rows)
        if min(users.values(), default=k) >= k and min(items.values(), default=k) >= k:
            return rows
        rows = [r for r in rows if users[r[0]] >= k and items[r[1]] >= k]


def _check_ids(data):
    """Ids RecBole would misread: a tab or newline breaks the file, NA strings become NaN and
    a leading double quote starts CSV quoting."""
    for kind, ids in (
        ("user", {r[0] for r in data.interactions}),
        ("item", {r[1] for r in data.interactions}),
    ):
        for value in ids:
            if value in PANDAS_NA or _BAD_ID_CHARS.search(value) or value.startswith('"'):
                raise PrepareError(
                    f"{data.sources['interactions']}: {kind} id {value!r} cannot be written: "
                    "RecBole's reader takes it for a missing value or a field break; rename it"
                )


def _choose_fields(data, sememes):
    """The sememe kinds to write: those asked for, or all that the input has."""
    available = {"category": data.category_source, "word": data.title_source}
    if sememes is None:
        return [k for k in SEMEME_KINDS if available[k]]
    chosen = []
    for kind in sememes:
        if kind not in SEMEME_KINDS:
            raise PrepareError(f"--sememes: unknown kind {kind!r}; use category, word or both")
        if not available[kind]:
            option = "--category-col" if kind == "category" else "--title-col"
            raise PrepareError(
                f"{data.sources['items']}: --sememes asks for {kind} sememes but no "
                f"{'category' if kind == 'category' else 'title'} data was found; name the "
                f"column with {option} (plain tables) or check the metadata dump"
            )
        chosen.append(kind)
    return chosen


def _group_by_user(rows):
    """Each user's rows together (users in order of first appearance), stably time-sorted."""
    per_user = {}
    for user, item, stamp in rows:
        per_user.setdefault(user, []).append((stamp, item))
    ordered = []
    for user, events in per_user.items():
        events.sort(key=lambda e: e[0])
        ordered.extend((user, item, stamp) for stamp, item in events)
    return ordered


def _stamp(value):
    return str(int(value)) if value.is_integer() else repr(value)


def _build_sememes(data, items, kinds, word_options):
    """Per sememe kind: one token list per item; plus word statistics and dropped NA tokens."""
    columns, stats, backend, dropped = {}, None, None, 0
    if "category" in kinds:
        column = []
        for item in items:
            tokens = [sememe_token(c) for c in data.categories.get(item, ())]
            kept = [t for t in dict.fromkeys(tokens) if t and t not in PANDAS_NA]
            dropped += sum(1 for t in dict.fromkeys(tokens) if t in PANDAS_NA)
            column.append(kept)
        columns["category"] = column
    if "word" in kinds:
        try:
            sememizer = WordSememizer(**word_options)
        except (TypeError, ValueError, LookupError) as exc:
            raise PrepareError(f"word sememes: {exc}") from exc
        columns["word"] = sememizer.fit_transform(data.titles.get(item, "") for item in items)
        stats, backend = sememizer.stats_, sememizer.backend
    return columns, stats, backend, dropped


def convert(
    data: RawData,
    name,
    out_dir,
    sememes=None,
    kcore_k=None,
    min_df=2,
    max_df=0.5,
    max_vocab=5000,
    backend="auto",
    warn_no_sememe_fraction=0.05,
    drop_duplicates=False,
    force=True,
):
    """Filter, build sememes and write ``<out_dir>/<name>/<name>.{inter,item}``; ``force=False``
    refuses to replace earlier outputs."""
    started = time.perf_counter()
    files = check_target(out_dir, name, force)
    if kcore_k is not None and kcore_k < 0:
        raise PrepareError(f"--kcore {kcore_k}", "negative", "Give K >= 1, or leave --kcore out.")
    _check_ids(data)
    kinds = _choose_fields(data, sememes)
    rows = data.interactions
    duplicates = len(rows) - len(set(rows))
    if duplicates and drop_duplicates:
        rows = list(dict.fromkeys(rows))  # the first of each
    read = len(rows)
    if kcore_k:
        rows = kcore(rows, kcore_k)
        if not rows:
            raise PrepareError(
                f"--kcore {kcore_k}", "removes every interaction", "Use a smaller K."
            )
    rows = _group_by_user(rows)
    items = list(dict.fromkeys(item for _, item, _ in rows))
    known = set(data.item_ids)
    missing = {item for item in items if item not in known}
    word_options = {"min_df": min_df, "max_df": max_df, "max_vocab": max_vocab, "backend": backend}
    columns, stats, word_backend, dropped = _build_sememes(data, items, kinds, word_options)

    inter = ["user_id:token\titem_id:token\ttimestamp:float"]
    inter += [f"{u}\t{i}\t{_stamp(t)}" for u, i, t in rows]
    fields = [FIELD_NAMES[k] for k in kinds]
    item_lines = ["\t".join(["item_id:token"] + [f"{f}:token_seq" for f in fields])]
    for n, item in enumerate(items):
        item_lines.append("\t".join([item] + [" ".join(columns[k][n]) for k in kinds]))
    write_atomic({files[0]: "\n".join(inter) + "\n", files[1]: "\n".join(item_lines) + "\n"})

    without = [not any(columns[k][n] for k in kinds) for n in range(len(items))]
    summary = Summary(
        name=name,
        files=files,
        users=len({u for u, _, _ in rows}),
        items=len(items),
        interactions=len(rows),
        order=f"{data.order_kind} ({data.order_source})",
        items_without_sememes=sum(without),
        items_without_row=len(missing),
        interactions_without_row=sum(1 for _, i, _ in rows if i in missing),
        rows_without_interactions=len(known - set(items)),
        duplicate_item_rows=data.duplicate_items,
        duplicate_interactions=duplicates,
        duplicates_dropped=drop_duplicates,
        kcore_removed=read - len(rows),
        dropped_na_tokens=dropped,
        word_stats=stats,
        word_backend=word_backend,
    )
    for kind in kinds:
        column = columns[kind]
        summary.vocabulary[FIELD_NAMES[kind]] = len({t for tokens in column for t in tokens})
        summary.mean_per_item[FIELD_NAMES[kind]] = sum(map(len, column)) / len(items)
        summary.without[FIELD_NAMES[kind]] = sum(1 for tokens in column if not tokens)
    if missing:
        summary.warnings.append(
            f"{len(missing)} items ({summary.interactions_without_row} interactions) of "
            f"{data.sources['interactions']} have no row in {data.sources['items']}: kept, "
            "with no sememes"
        )
    if duplicates and not drop_duplicates:
        summary.warnings.append(
            f"{data.sources['interactions']}: {duplicates} duplicate interactions (same user, "
            f"item and {data.order_kind} as an earlier row), kept; add --drop-duplicates to "
            "drop them"
        )
    if not kinds:
        summary.warnings.append(
            "no sememe field written: the item data has no categories or titles"
        )
    elif summary.items_without_sememes > warn_no_sememe_fraction * len(items):
        summary.warnings.append(
            f"{summary.items_without_sememes} of {len(items)} items "
            f"({summary.items_without_sememes / len(items):.1%}) have no sememes, above "
            f"--warn-no-sememe-fraction {warn_no_sememe_fraction}"
        )
    summary.seconds = time.perf_counter() - started
    return summary


# ---------------------------------------------------------------------------- command line


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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recbole_seedrec.data.prepare",
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


def main(argv=None):
    args = build_parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
