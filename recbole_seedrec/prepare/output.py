"""Output side of the converter: the target check, atomic file replacement, signals and the
printed summary."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from recbole_seedrec.prepare.readers import PrepareError

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
    duplicate_interactions: int = 0  # same user, item and time as an earlier row
    duplicates_dropped: bool = False
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
            "duplicate interactions (same user, item and time), "
            + ("dropped" if self.duplicates_dropped else "kept"): self.duplicate_interactions,
            "interactions removed by k-core": self.kcore_removed,
            "sememes dropped as RecBole would read them as missing": self.dropped_na_tokens,
        }
        out += [f"{label}: {count}" for label, count in extra.items() if count]
        out.append(f"time: {self.seconds:.1f} s")
        return out


def check_target(out_dir, name, force=True):
    """The two output paths of ``<out_dir>/<name>``; refuses a bad name or folder, and earlier
    outputs unless ``force``."""
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise PrepareError(
            f"--name {name!r}", "not a plain data set name", "Give a name such as 'amazon-beauty'."
        )
    if not str(out_dir):
        raise PrepareError("--out-dir ''", "empty", "Give the folder to hold <name>/ (data_path).")
    target = Path(out_dir) / name
    for folder in (target, *target.parents):
        if folder.exists():
            if folder == target and not folder.is_dir():
                raise PrepareError(target, "is a file", "Move it away or choose another --name.")
            if not folder.is_dir():
                what = "is a file" if folder == Path(out_dir) else f"{folder} is a file"
                fix = "Give a folder; a missing one is created."
                raise PrepareError(f"--out-dir {out_dir}", f"{what}, not a folder", fix)
            break
    files = [target / f"{name}.inter", target / f"{name}.item"]
    found = [f.name for f in files if f.exists()]
    if found and not force:
        raise PrepareError(
            target,
            f"already holds {' and '.join(found)} from an earlier conversion",
            "Add --force to replace them, or choose another --name or --out-dir.",
        )
    return files


class Interrupted(BaseException):
    """SIGTERM or SIGINT during a conversion (a BaseException, as KeyboardInterrupt is)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum, self.name = signum, signal.Signals(signum).name


SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def interruptible():
    """Turn SIGTERM and SIGINT into ``Interrupted``, so that ``finally`` clean-ups run; a
    second signal is ignored until the clean-up is done."""

    def handler(signum, frame):
        for number in SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        raise Interrupted(signum)

    try:
        previous = {number: signal.signal(number, handler) for number in SIGNALS}
    except ValueError:  # not the main thread: signals cannot be caught here
        previous = {}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGTERM and SIGINT back (they arrive afterwards) for a step that must not be cut."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _make_folder(folder):
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = [f for f in (folder, *folder.parents) if not f.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


CHUNK = 1 << 20  # characters written at a time, so that a signal is handled promptly


def write_atomic(contents):
    """Write each ``{path: text}`` to a temporary file beside it, and only when all are written
    move each into place (``os.replace``, atomic per file); on a failure or a signal remove the
    temporary files and the folders made, so no partial file is left and an earlier output
    survives."""
    temps, created, done = {}, [], False
    umask = os.umask(0)
    os.umask(umask)
    try:
        for path, text in contents.items():
            created += _make_folder(path.parent)
            with _signals_deferred():  # a temporary file is always known to the clean-up
                handle, temp = tempfile.mkstemp(
                    dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
                )
                temps[path] = temp
            os.chmod(temp, 0o666 & ~umask)  # mkstemp's files are private; outputs are not
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
                for start in range(0, len(text), CHUNK):
                    out.write(text[start : start + CHUNK])
                out.flush()
                os.fsync(out.fileno())
        with _signals_deferred():  # no signal between the two replaces
            for path, temp in temps.items():
                os.replace(temp, path)
            done = True
    except OSError as exc:
        raise PrepareError(f"cannot write {exc.filename or 'the output'}: {exc.strerror}") from exc
    finally:
        for temp in temps.values():
            if os.path.exists(temp):
                os.remove(temp)
        for folder in [] if done else created:
            with contextlib.suppress(OSError):
                folder.rmdir()
