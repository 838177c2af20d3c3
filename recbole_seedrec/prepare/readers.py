"""Readers for the converter's plain tables (the Amazon review dumps: ``amazon_dumps.py``).

Both give a ``RawData``: interactions as (user, item, time) in input order, and per item its
category levels and title. Every defect is a ``PrepareError`` naming the file, line or field
and the fix, so the CLI can print one line instead of a traceback.
"""

from __future__ import annotations

import csv
import gzip
import math
from dataclasses import dataclass, field
from pathlib import Path

from recbole_seedrec.errors import UserError

TIME_COLUMNS = ("timestamp",)
ORDER_COLUMNS = ("position",)
CATEGORY_COLUMNS = ("categories", "category", "genres", "genre")
TITLE_COLUMNS = ("title",)


class PrepareError(UserError):
    """Input that cannot be converted; the message says where and how to fix it."""


@dataclass
class RawData:
    """What a reader found, before filtering and sememe building."""

    interactions: list  # (user, item, time) tuples in input order
    categories: dict  # item -> list of category levels (no entry: no category data)
    titles: dict  # item -> title (no entry: no title)
    item_ids: list  # items with a metadata row, in input order
    order_kind: str  # "timestamp" or "position"
    order_source: str  # column or field the order came from
    category_source: str | None  # column or field categories came from; None: no categories
    title_source: str | None  # column or field titles came from; None: no titles
    sources: dict = field(default_factory=dict)  # "interactions"/"items" -> file name
    duplicate_items: int = 0  # repeated item rows (the first one is used)
    seen_items: set = field(default_factory=set, repr=False, compare=False)

    def add_item(self, item):
        """Record an item row; False for a repeat, which is counted and skipped."""
        if item in self.seen_items:
            self.duplicate_items += 1
            return False
        self.seen_items.add(item)
        self.item_ids.append(item)
        return True


def check_input(path, flag):
    """A missing input or a folder given as one, before any reading."""
    if Path(path).is_dir():
        raise PrepareError(path, "is a folder, not a file", f"Give the file itself to {flag}.")
    if not Path(path).is_file():
        raise PrepareError(path, "no such file", f"Check the path given to {flag}.")


def open_text(path):
    """Open a UTF-8 text file, gunzipping when it starts with the gzip magic bytes."""
    path = Path(path)
    if not path.is_file():
        raise PrepareError(f"{path}: no such file")
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _bad_time(where, what, value):
    return PrepareError(
        f"{where}: {what} {value!r} is not a finite number; the order column must hold unix "
        "timestamps or positions"
    )


def parse_time(value, where, what):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad_time(where, what, value) from None
    if not math.isfinite(number):
        raise _bad_time(where, what, value)
    return number


# ---------------------------------------------------------------------------- plain tables


SEPARATORS = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}  # likely ones, and their names


def _separator(text, flag):
    """The separator given to ``flag`` (``\\t`` is a tab), or None when not given."""
    if text is None:
        return None
    value = text.encode().decode("unicode_escape") if "\\" in text else text
    if len(value) != 1:
        raise PrepareError(
            f"{flag} {text!r}", "a field separator is one character", "Give e.g. ',' or '\\t'."
        )
    return value


def _default_sep(path):
    name = Path(path).name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def _sep_name(sep):
    return SEPARATORS.get(sep, repr(sep))


def _rows(path, sep):
    """(file, csv reader) for a delimited file; a blank line comes out as [] or [""]."""
    handle = open_text(path)
    # In a TSV a quote is just a character (titles hold them); a CSV needs quoting.
    quoting = csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE
    return handle, csv.reader(handle, delimiter=sep, quoting=quoting, strict=True)


def _blank(fields):
    return not fields or fields == [""]


class Table:
    """A delimited file with a header row, read whole; line numbers are found again only for
    an error message, which keeps a million-row read fast."""

    def __init__(self, path, sep=None, flag="--sep"):
        self.path, self.flag = path, flag
        self.sep = _default_sep(path) if sep is None else sep
        try:
            handle, reader = _rows(path, self.sep)
            with handle:
                header = next((f for f in reader if not _blank(f)), None)
                self.header = None if header is None else [f.strip() for f in header]
                width = len(header or ())
                self.rows = rows = []
                for fields in reader:
                    if len(fields) != width:
                        if _blank(fields):
                            continue
                        raise PrepareError(
                            f"{path}, line {reader.line_num}: {len(fields)} fields, but the "
                            f"header has {width} ({', '.join(self.header)}); check the separator "
                            f"({self.flag}, now {_sep_name(self.sep)}) and stray separators "
                            "inside values"
                        )
                    rows.append(fields)
        except UnicodeDecodeError as exc:
            raise PrepareError(
                f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})"
            ) from exc
        except csv.Error as exc:
            raise PrepareError(f"{path}, line {reader.line_num}: malformed ({exc})") from exc
        except (OSError, EOFError) as exc:
            raise PrepareError(f"{path}: cannot be read ({exc})") from exc
        if self.header is None:
            raise PrepareError(f"{path}: the file is empty; it needs a header row and data rows")
        if not self.rows:
            raise PrepareError(
                path,
                f"the file has a header ({', '.join(self.header)}) but no rows",
                "Add data rows, or check that this is the right file.",
            )

    def where(self, k):
        """'file, line N' for data row ``k`` (0-based)."""
        handle, reader = _rows(self.path, self.sep)
        with handle:
            rows = (f for f in reader if not _blank(f))
            next(rows)
            for n, _ in enumerate(rows):
                if n == k:
                    return f"{self.path}, line {reader.line_num}"
        return str(self.path)


def _check_separator(table):
    """A header read as one column that holds another likely separator: the wrong --sep."""
    if len(table.header) != 1:
        return
    counts = {s: table.header[0].count(s) for s in SEPARATORS if s != table.sep}
    found = max(counts, key=counts.get)
    if counts[found]:
        value = "'\\t'" if found == "\t" else repr(found)
        raise PrepareError(
            table.path,
            f"wrong separator: split at {_sep_name(table.sep)}, the header is one column "
            f"{table.header[0]!r}, which holds {_sep_name(found)}",
            f"Add {table.flag} {value} (or --sep {value} for both files).",
        )


def _column(table, name, option, candidates=()):
    """Index of column ``name`` (or the first of ``candidates`` present), None if optional."""
    path, header = table.path, table.header
    if name is not None:
        if name not in header:
            _check_separator(table)
            raise PrepareError(
                f"{path}: no column {name!r} (columns found: {', '.join(header)}); "
                f"set {option} to one of them"
            )
        return header.index(name)
    for candidate in candidates:
        if candidate in header:
            return header.index(candidate)
    return None


def _order_column(table, time_col, order_col):
    """(index, kind) of the column that orders each user's interactions."""
    if time_col is not None and order_col is not None:
        raise PrepareError(
            "--time-col and --order-col", "both given", "Give --time-col or --order-col, not both."
        )
    if time_col is not None:
        return _column(table, time_col, "--time-col"), "timestamp"
    if order_col is not None:
        return _column(table, order_col, "--order-col"), "position"
    for candidates, kind in ((TIME_COLUMNS, "timestamp"), (ORDER_COLUMNS, "position")):
        index = _column(table, None, "", candidates)
        if index is not None:
            return index, kind
    _check_separator(table)
    raise PrepareError(
        f"{table.path}: no order column (columns found: {', '.join(table.header)}); name one with "
        "--time-col (timestamps) or --order-col (positions)"
    )


def read_plain_tables(
    interactions,
    items,
    user_col="user_id",
    item_col="item_id",
    time_col=None,
    order_col=None,
    title_col=None,
    category_col=None,
    category_sep="|",
    sep=None,
    inter_sep=None,
    item_sep=None,
):
    """Read an interaction table and an item table (header row, one record a row); the
    separators default to ``sep``, which defaults to tab (comma for ``.csv``)."""
    if not category_sep:
        raise PrepareError(
            "--category-sep ''", "empty", "Give the text between categories, e.g. '|'."
        )
    sep = _separator(sep, "--sep")
    inter_sep = _separator(inter_sep, "--inter-sep") or sep
    item_sep = _separator(item_sep, "--item-sep") or sep
    table = Table(interactions, inter_sep, "--inter-sep")
    header = table.header
    u = _column(table, user_col, "--user-col")
    i = _column(table, item_col, "--item-col")
    t, kind = _order_column(table, time_col, order_col)
    try:
        records = [(f[u].strip(), f[i].strip(), float(f[t])) for f in table.rows]
        bad = next((k for k, r in enumerate(records) if not math.isfinite(r[2])), None)
    except ValueError:
        bad = next(k for k, f in enumerate(table.rows) if not _is_number(f[t]))
    if bad is not None:
        raise _bad_time(table.where(bad), f"column {header[t]!r}: value", table.rows[bad][t])
    empty = next((k for k, r in enumerate(records) if not r[0] or not r[1]), None)
    if empty is not None:
        raise PrepareError(f"{table.where(empty)}: empty user or item id")
    order_source = f"column {header[t]!r}"

    table = Table(items, item_sep, "--item-sep")
    header = table.header
    ic = _column(table, item_col, "--item-col")
    cc = _column(table, category_col, "--category-col", CATEGORY_COLUMNS)
    tc = _column(table, title_col, "--title-col", TITLE_COLUMNS)
    data = RawData(
        interactions=records,
        categories={},
        titles={},
        item_ids=[],
        order_kind=kind,
        order_source=order_source,
        category_source=None if cc is None else f"column {header[cc]!r}",
        title_source=None if tc is None else f"column {header[tc]!r}",
        sources={"interactions": str(interactions), "items": str(items)},
    )
    for k, f in enumerate(table.rows):
        item = f[ic].strip()
        if not item:
            raise PrepareError(f"{table.where(k)}: empty item id in column {header[ic]!r}")
        if not data.add_item(item):
            continue
        if cc is not None:
            data.categories[item] = [c for c in f[cc].split(category_sep) if c.strip()]
        if tc is not None:
            data.titles[item] = f[tc]
    return data


def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
