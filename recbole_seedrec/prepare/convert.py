"""Convert interaction and item data into RecBole atomic files with sememe fields.

``recbole-seedrec prepare --help`` runs it. Writes ``<out>/<name>/<name>.inter``
(``user_id``, ``item_id``, ``timestamp``; each user's rows together, in time order) and
``<name>.item`` (``item_id`` and ``category_sememes`` and/or ``word_sememes``). Everything is
read and checked before anything is written, and each file is replaced atomically, so a failed
or interrupted (SIGTERM, Ctrl-C) run leaves no partial file and keeps an earlier good output;
an earlier output is replaced only with ``--force``.
"""

from __future__ import annotations

import html
import re
import time
from collections import Counter

from recbole_seedrec.data.text import WordSememizer
from recbole_seedrec.prepare.output import (
    PANDAS_NA,
    Summary,
    check_target,
    write_atomic,
)
from recbole_seedrec.prepare.readers import (
    PrepareError,
    RawData,
)

SEMEME_KINDS = ("category", "word")
FIELD_NAMES = {"category": "category_sememes", "word": "word_sememes"}

_BAD_ID_CHARS = re.compile(r"[\t\r\n]")
_SPACES = re.compile(r"\s+")

__all__ = ["PrepareError", "Summary", "convert", "kcore", "sememe_token", "write_atomic"]


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
