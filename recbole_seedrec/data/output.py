"""Output side of the converter: atomic file replacement and the printed summary."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from recbole_seedrec.data.readers import PrepareError

# What pandas, and so RecBole's reader, takes for a missing value when it is a whole field.
PANDAS_NA = frozenset(
    ["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"]
    + ["<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)


@dataclass
class Summary:
    """What a conversion wrote, and what it had to drop or could not fill."""

    name: str
    files: list
    users: int
    items: int
    interactions: int
    order: str
    vocabulary: dict = field(default_factory=dict)  # sememe field -> number of sememes
    mean_per_item: dict = field(default_factory=dict)  # sememe field -> mean sememes per item
    without: dict = field(default_factory=dict)  # sememe field -> items with none of them
    items_without_sememes: int = 0
    items_without_row: int = 0
    interactions_without_row: int = 0
    rows_without_interactions: int = 0
    duplicate_item_rows: int = 0
    kcore_removed: int = 0
    dropped_na_tokens: int = 0
    word_stats: dict | None = None
    word_backend: str | None = None
    warnings: list = field(default_factory=list)
    seconds: float = 0.0

    def lines(self):
        """The summary the CLI prints."""
        out = [
            f"wrote {', '.join(map(str, self.files))}",
            f"users: {self.users}",
            f"items: {self.items}",
            f"interactions: {self.interactions}",
            f"order: {self.order}",
        ]
        for name, size in self.vocabulary.items():
            out.append(
                f"{name}: {size} sememes, {self.mean_per_item[name]:.2f} per item on average, "
                f"{self.without[name]} items with none"
            )
        total = sum(self.mean_per_item.values())
        out.append(f"mean sememes per item: {total:.2f}")
        share = self.items_without_sememes / self.items if self.items else 0.0
        out.append(f"items without sememes: {self.items_without_sememes} ({share:.1%})")
        if self.word_stats:
            s = self.word_stats
            out.append(
                f"title words ({self.word_backend}): {s['distinct_words']} distinct, "
                f"{s['below_min_df']} below min-df ({s['min_df_count']} items), "
                f"{s['above_max_df']} above max-df ({s['max_df_count']} items), "
                f"{s['over_max_vocab']} over max-vocab, {s['kept']} kept"
            )
        extra = {
            "items without an item row (kept, no sememes)": self.items_without_row,
            "item rows without interactions (left out)": self.rows_without_interactions,
            "repeated item rows (first one used)": self.duplicate_item_rows,
            "interactions removed by k-core": self.kcore_removed,
            "sememes dropped as RecBole would read them as missing": self.dropped_na_tokens,
        }
        out += [f"{label}: {count}" for label, count in extra.items() if count]
        out.append(f"time: {self.seconds:.1f} s")
        return out


def write_atomic(contents):
    """Write each ``{path: text}`` to a temporary file beside it, and only when all are written
    move each into place (``os.replace``, atomic per file); on a failure remove the temporary
    files, so no reader ever sees a partial file and an earlier output survives."""
    temps = {}
    umask = os.umask(0)
    os.umask(umask)
    try:
        for path, text in contents.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temps[path] = temp
            os.chmod(temp, 0o666 & ~umask)  # mkstemp's files are private; outputs are not
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
        for path, temp in temps.items():
            os.replace(temp, path)
    except OSError as exc:
        raise PrepareError(f"cannot write {exc.filename or 'the output'}: {exc.strerror}") from exc
    finally:
        for temp in temps.values():
            if os.path.exists(temp):
                os.remove(temp)
