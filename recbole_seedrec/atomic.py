"""Files that are never half-written: write beside the target, then rename onto it.

Every single-file output of the package (checkpoints, S2IDM artifacts, reports, records,
figures, JSON) goes through :func:`replacing`: a reader, a resumed run or a killed process sees
the old file or the new one, never a part. (The converter's two atomic files, replaced together,
and the WordNet folder have their own all-or-nothing steps in ``data/output.py`` and
``data/wordnet.py``.)
"""

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def replacing(path, required=True):
    """Yield a temporary path beside ``path``; when the block ends, rename it onto ``path``.

    Args:
        path: the file to write.
        required: when False, a block that wrote nothing leaves ``path`` as it was (a
            distributed run's other ranks save nothing).

    Yields:
        pathlib.Path: where to write, in the same folder (so the rename is atomic). On an
        error, or a signal that raises, the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        if partial.exists() or required:
            os.chmod(partial, 0o644)
            os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` in one step.

    Args:
        path: the file to write.
        text: its whole content.
    """
    with replacing(path) as partial, open(partial, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
