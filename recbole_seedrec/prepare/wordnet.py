"""Install WordNet 3.0 for NLTK from Debian's packages, where ``nltk.download`` cannot reach.

``recbole-seedrec wordnet --source /usr/share/wordnet --target ~/nltk_data``

Debian's ``wordnet-base`` and ``wordnet-sense-index`` hold the WordNet 3.0 database files. NLTK's
reader takes them from ``<target>/corpora/wordnet/`` when they are real files (it refuses
symlinks) and a ``lexnames`` file, which Debian does not ship, lists the lexicographer files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

from recbole_seedrec.errors import UserError

INSTALL_HINT = "apt-get install wordnet-base wordnet-sense-index"

# The database files NLTK's WordNetCorpusReader opens, besides lexnames.
DATABASE_FILES = tuple(
    [f"{kind}.{pos}" for kind in ("index", "data") for pos in ("adj", "adv", "noun", "verb")]
    + [f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")]
    + ["index.sense", "cntlist.rev"]
)

# WordNet 3.0's lexicographer files in their standard order (lexnames(5WN)), with the number of
# their part of speech: 1 noun, 2 verb, 3 adjective, 4 adverb. NLTK checks the numbering.
_NOUNS = [
    "Tops", "act", "animal", "artifact", "attribute", "body", "cognition", "communication",
    "event", "feeling", "food", "group", "location", "motive", "object", "person", "phenomenon",
    "plant", "possession", "process", "quantity", "relation", "shape", "state", "substance",
    "time",
]  # fmt: skip
_VERBS = [
    "body", "change", "cognition", "communication", "competition", "consumption", "contact",
    "creation", "emotion", "motion", "perception", "possession", "social", "stative", "weather",
]  # fmt: skip
LEXNAMES = (
    [("adj.all", 3), ("adj.pert", 3), ("adv.all", 4)]
    + [(f"noun.{n}", 1) for n in _NOUNS]
    + [(f"verb.{v}", 2) for v in _VERBS]
    + [("adj.ppl", 3)]
)


class WordNetSetupError(UserError):
    """The source or the target cannot give a working WordNet; the message says what to do."""


def lexnames_text():
    """The ``lexnames`` file: ``NN<TAB>name<TAB>pos-number`` a line, 45 lines."""
    return "".join(f"{i:02d}\t{name}\t{pos}\n" for i, (name, pos) in enumerate(LEXNAMES))


def install_wordnet(source, target):
    """Copy the database into ``<target>/corpora/wordnet`` (built aside, then moved into place).

    Returns the corpus folder. An existing one is replaced only once the new one is complete.
    """
    source, target = Path(source).expanduser(), Path(target).expanduser()
    missing = [name for name in DATABASE_FILES if not (source / name).is_file()]
    if not source.is_dir() or missing:
        what = "does not exist" if not source.is_dir() else f"lacks {', '.join(missing)}"
        raise WordNetSetupError(
            f"{source} {what}: it must hold the WordNet 3.0 database. On Debian or Ubuntu run "
            f"`{INSTALL_HINT}` (it fills /usr/share/wordnet) and pass --source /usr/share/wordnet"
        )
    corpora = target / "corpora"
    final = corpora / "wordnet"
    try:
        corpora.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=corpora, prefix=".wordnet-"))
        staging.chmod(0o755)  # mkdtemp makes it private; the corpus is for every user
        try:
            for name in DATABASE_FILES:
                shutil.copyfile(source / name, staging / name)  # real files, never links
            (staging / "lexnames").write_text(lexnames_text(), encoding="ascii")
            old = None
            if final.exists() or final.is_symlink():
                old = corpora / f".wordnet-old-{os.getpid()}"
                os.replace(final, old)
            os.replace(staging, final)
            if old is not None:
                if old.is_dir() and not old.is_symlink():
                    shutil.rmtree(old)
                else:
                    old.unlink()
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    except OSError as exc:
        raise WordNetSetupError(f"cannot write {exc.filename or target}: {exc.strerror}") from exc
    return final


def verify(target):
    """Lemmatise through NLTK with ``target`` searched first; raise if WordNet does not work."""
    import nltk
    from nltk.stem import WordNetLemmatizer

    nltk.data.path.insert(0, str(Path(target).expanduser()))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*multilingual functions.*")
            lemma = WordNetLemmatizer().lemmatize("knives")
    except (LookupError, OSError, AssertionError, ValueError) as exc:
        raise WordNetSetupError(f"NLTK cannot read the installed WordNet: {exc}") from exc
    if lemma != "knife":
        raise WordNetSetupError(f"WordNet loaded but lemmatize('knives') gave {lemma!r}")
    return lemma


def on_default_path(target):
    """Whether NLTK finds ``target`` without NLTK_DATA (it is one of its default folders)."""
    import nltk

    resolved = Path(target).expanduser().resolve()
    return any(Path(p).expanduser().resolve() == resolved for p in nltk.data.path)
