"""The word-sememe pipeline: item titles -> normalised content words (word sememes).

Steps: HTML unescape, ``wordpunct_tokenize`` (needs no NLTK data and splits attached punctuation
and hyphens, so ``Anti-Aging`` gives two words and ``(1995)`` gives none), lower case, keep
alphabetic tokens of two or more letters, drop stop words, WordNet lemma (Snowball stem when
WordNet is absent), then a document-frequency filter and a vocabulary cap over a corpus.
``word_tokenize`` is not used even where punkt is installed: the sememes would then depend on
which NLTK data a machine happens to have.
"""

from __future__ import annotations

import html
import math
import warnings
from collections import Counter
from pathlib import Path

import nltk
from nltk.stem import SnowballStemmer, WordNetLemmatizer
from nltk.tokenize import wordpunct_tokenize

BUNDLED_STOPWORDS = Path(__file__).with_name("stopwords_en.txt")

WORDNET_SETUP = (
    "apt-get install wordnet-base wordnet-sense-index && "
    "recbole-seedrec wordnet --source /usr/share/wordnet --target ~/nltk_data "
    "(for another --target, also set NLTK_DATA to it)"
)

# Lower-case words that pandas (and so RecBole's atomic-file reader) reads as a missing value:
# a field holding only one of them would silently lose it, so they are never sememes.
PANDAS_NA_WORDS = frozenset({"nan", "null"})

BACKENDS = ("auto", "wordnet", "snowball")

_warned_missing_wordnet = False


class MissingWordNetWarning(UserWarning):
    """WordNet is not installed for NLTK, so words are stemmed instead of lemmatised."""


def wordnet_available():
    """Whether NLTK finds a WordNet that loads, on the current ``nltk.data.path``."""
    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip")
        except LookupError:
            return False
    try:
        with warnings.catch_warnings():
            # NLTK warns that Open Multilingual WordNet is absent; only English is used here.
            warnings.filterwarnings("ignore", message=".*multilingual functions.*")
            WordNetLemmatizer().lemmatize("knives")
    except (LookupError, OSError, AssertionError, ValueError):
        return False
    return True


def load_stopwords():
    """NLTK's English stop words where that corpus is installed, else the bundled list."""
    try:
        nltk.data.find("corpora/stopwords")
        from nltk.corpus import stopwords

        return frozenset(w.lower() for w in stopwords.words("english"))
    except (LookupError, OSError):
        lines = BUNDLED_STOPWORDS.read_text(encoding="utf-8").splitlines()
        return frozenset(w.strip().lower() for w in lines if w.strip() and not w.startswith("#"))


def _warn_missing_wordnet():
    """Once per process: a run over many fields or data sets needs to be told only once."""
    global _warned_missing_wordnet
    if _warned_missing_wordnet:
        return
    _warned_missing_wordnet = True
    warnings.warn(
        "WordNet is not installed for NLTK: title words are stemmed with the Snowball English "
        "stemmer instead of lemmatised (e.g. 'knives' -> 'knive'). "
        f"To get WordNet: {WORDNET_SETUP}",
        MissingWordNetWarning,
        stacklevel=4,
    )


def _check_df(name, value, allow_zero):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be an int count or a float fraction, got {value!r}")
    if isinstance(value, float) and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} as a fraction must lie in [0, 1], got {value}")
    if isinstance(value, int) and value < (0 if allow_zero else 1):
        raise ValueError(f"{name} as a count must be >= {0 if allow_zero else 1}, got {value}")
    return value


class WordSememizer:
    """Turns titles into word sememes, the same way for a corpus and for single raw tokens.

    ``min_df`` / ``max_df``: an int is a number of documents, a float a fraction of them (as in
    scikit-learn). ``max_vocab`` keeps the words in most documents (ties: alphabetical), so the
    sememe space stays bounded. ``backend``: ``auto`` (WordNet when installed, else Snowball with
    a warning), ``wordnet`` (error when absent) or ``snowball`` (reproducible anywhere).
    After ``fit``: ``vocabulary_`` (by document frequency, then alphabetical), ``df_`` and
    ``stats_`` (how many words each filter removed).
    """

    def __init__(self, min_df=2, max_df=0.5, max_vocab=None, backend="auto", stopwords=None):
        self.min_df = _check_df("min_df", min_df, allow_zero=True)
        self.max_df = _check_df("max_df", max_df, allow_zero=False)
        if max_vocab is not None and (isinstance(max_vocab, bool) or int(max_vocab) < 1):
            raise ValueError(f"max_vocab must be a positive int or None, got {max_vocab!r}")
        self.max_vocab = None if max_vocab is None else int(max_vocab)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.stopwords = load_stopwords() if stopwords is None else frozenset(stopwords)
        self.backend = self._pick_backend(backend)
        if self.backend == "wordnet":
            self._base_form = WordNetLemmatizer().lemmatize
        else:
            self._base_form = SnowballStemmer("english").stem
        self._cache = {}
        self.vocabulary_ = None
        self.df_ = None
        self.stats_ = None

    @staticmethod
    def _pick_backend(backend):
        if backend == "snowball":
            return "snowball"
        if wordnet_available():
            return "wordnet"
        if backend == "wordnet":
            raise LookupError(f"WordNet is not installed for NLTK. To get it: {WORDNET_SETUP}")
        _warn_missing_wordnet()
        return "snowball"

    def _word(self, token):
        """One lower-cased token -> its sememe, or None; cached since titles repeat words."""
        if token in self._cache:
            return self._cache[token]
        word = None
        if token.isalpha() and len(token) >= 2 and token not in self.stopwords:
            base = self._base_form(token)
            if len(base) >= 2 and base not in self.stopwords and base not in PANDAS_NA_WORDS:
                word = base
        self._cache[token] = word
        return word

    def words(self, text):
        """Normalised words of one text in order, repeats kept, no frequency filter."""
        if not text:
            return []
        tokens = wordpunct_tokenize(html.unescape(str(text)).lower())
        return [w for w in map(self._word, tokens) if w is not None]

    def normalize_token(self, token):
        """One raw token (e.g. ml-100k's ``Story`` or ``(1995)``) -> a sememe or None.

        A token that holds several words (``Jean-Luc``) stays one sememe, joined with ``_``, as
        it was one token in its source. No frequency filter applies: that needs a corpus.
        """
        found = self.words(token)
        return "_".join(found) if found else None

    def fit(self, titles):
        """Learn the vocabulary: words kept by the document-frequency filters and the cap."""
        docs = [dict.fromkeys(self.words(t)) for t in titles]
        df = Counter(w for doc in docs for w in doc)
        n_docs = len(docs)
        low = self.min_df if isinstance(self.min_df, int) else self.min_df * n_docs
        high = self.max_df if isinstance(self.max_df, int) else self.max_df * n_docs
        rare = {w for w, c in df.items() if c < low}
        common = {w for w, c in df.items() if c > high and w not in rare}
        kept = sorted(
            (w for w in df if w not in rare and w not in common), key=lambda w: (-df[w], w)
        )
        capped = kept[self.max_vocab :] if self.max_vocab is not None else []
        kept = kept[: self.max_vocab] if self.max_vocab is not None else kept
        self.vocabulary_ = kept
        self.df_ = {w: df[w] for w in kept}
        self.stats_ = {
            "documents": n_docs,
            "distinct_words": len(df),
            "below_min_df": len(rare),
            "above_max_df": len(common),
            "over_max_vocab": len(capped),
            "kept": len(kept),
            "min_df_count": math.ceil(low) if low else 0,
            "max_df_count": math.floor(high),
        }
        return self

    def transform(self, titles):
        """Each title's distinct vocabulary words, in order of first appearance."""
        if self.vocabulary_ is None:
            raise RuntimeError("call fit() or fit_transform() before transform()")
        vocab = set(self.vocabulary_)
        return [[w for w in dict.fromkeys(self.words(t)) if w in vocab] for t in titles]

    def fit_transform(self, titles):
        """``fit`` then ``transform`` on the same titles: one sememe list per title."""
        titles = list(titles)
        return self.fit(titles).transform(titles)
