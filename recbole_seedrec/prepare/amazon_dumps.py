"""The converter's reader of Amazon review dumps (JSON lines, or the 2014 Python literals).

Gives a ``RawData`` as the plain-table reader does; every defect is a ``PrepareError`` naming
the file, line and field.
"""

from __future__ import annotations

import ast
import json

from recbole_seedrec.prepare.readers import PrepareError, RawData, open_text, parse_time


def iter_records(path):
    """(line number, dict) per line of a JSON-lines file; Python-literal lines (the 2014 meta
    dumps use single quotes) are read with ``ast.literal_eval``."""
    count = 0
    try:
        with open_text(path) as handle:
            for n, line in enumerate(handle, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    try:
                        record = ast.literal_eval(line)
                    except (ValueError, SyntaxError, MemoryError, RecursionError):
                        raise PrepareError(
                            f"{path}, line {n}: neither JSON nor a Python literal; the Amazon "
                            "dumps hold one record ({...}) a line"
                        ) from None
                if not isinstance(record, dict):
                    raise PrepareError(
                        f"{path}, line {n}: a {type(record).__name__}, not a record ({{...}})"
                    )
                count += 1
                yield n, record
    except UnicodeDecodeError as exc:
        raise PrepareError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except (OSError, EOFError) as exc:
        raise PrepareError(f"{path}: cannot be read ({exc}); a truncated .gz?") from exc
    if count == 0:
        raise PrepareError(f"{path}: the file is empty; it needs one JSON record a line")


def _require(path, n, record, key, schema):
    if key not in record:
        raise PrepareError(
            f"{path}, line {n}: no field {key!r} (fields found: {', '.join(map(str, record))}); "
            f"expected the Amazon {schema} schema"
        )
    return record[key]


def _id(path, n, record, key, schema):
    value = _require(path, n, record, key, schema)
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise PrepareError(f"{path}, line {n}: field {key!r} is {value!r}, not an id string")
    return str(value).strip()


def _string_list(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _meta_categories(path, n, record):
    """Category levels of one meta record, or None when it has no category field."""
    if "category" in record:  # 2018: one path, a list of strings
        value = record["category"]
        if not _string_list(value):
            raise PrepareError(
                f"{path}, line {n}: field 'category' is {type(value).__name__} {value!r:.80}; "
                "the 2018 schema has a list of strings (a category path)"
            )
        return list(value)
    if "categories" in record:  # 2014: several paths, a list of lists of strings
        value = record["categories"]
        if not isinstance(value, list) or not all(_string_list(path_) for path_ in value):
            raise PrepareError(
                f"{path}, line {n}: field 'categories' is {type(value).__name__} "
                f"{value!r:.80}; the 2014 schema has a list of lists of strings (category paths)"
            )
        return [level for path_ in value for level in path_]
    return None


def read_amazon(reviews, meta):
    """Read an Amazon review dump (2014 or 2018) and its metadata dump."""
    records = []
    for n, record in iter_records(reviews):
        user = _id(reviews, n, record, "reviewerID", "review")
        item = _id(reviews, n, record, "asin", "review")
        value = _require(reviews, n, record, "unixReviewTime", "review")
        where = f"{reviews}, line {n}"
        records.append((user, item, parse_time(value, where, "'unixReviewTime' value")))

    data = RawData(
        interactions=records,
        categories={},
        titles={},
        item_ids=[],
        order_kind="timestamp",
        order_source="field 'unixReviewTime'",
        category_source=None,
        title_source=None,
        sources={"interactions": str(reviews), "items": str(meta)},
    )
    category_fields, title_seen = set(), False
    for n, record in iter_records(meta):
        item = _id(meta, n, record, "asin", "metadata")
        levels = _meta_categories(meta, n, record)
        title = record.get("title")
        if title is not None and not isinstance(title, str):
            raise PrepareError(
                f"{meta}, line {n}: field 'title' is {type(title).__name__} {title!r:.80}, "
                "not a string"
            )
        if not data.add_item(item):
            continue
        if levels is not None:
            category_fields.update(k for k in ("category", "categories") if k in record)
            data.categories[item] = levels
        if "title" in record:
            title_seen = True
            data.titles[item] = title or ""
    if category_fields:
        data.category_source = "field " + " / ".join(repr(k) for k in sorted(category_fields))
    if title_seen:
        data.title_source = "field 'title'"
    return data
