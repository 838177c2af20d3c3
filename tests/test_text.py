"""The word-sememe pipeline (tokens, stop words, lemma or stem, frequency filters, fallbacks)
and the WordNet set-up that gives it lemmas."""

import os
import warnings
from pathlib import Path

import nltk
import pytest
from nltk.corpus.reader.wordnet import WordNetCorpusReader

from recbole_seedrec.cli.wordnet import main as wordnet_main
from recbole_seedrec.data import text
from recbole_seedrec.data.text import (
    BUNDLED_STOPWORDS,
    MissingWordNetWarning,
    WordSememizer,
    load_stopwords,
    wordnet_available,
)
from recbole_seedrec.prepare.wordnet import (
    DATABASE_FILES,
    WordNetSetupError,
    install_wordnet,
    lexnames_text,
)

DEBIAN_WORDNET = Path("/usr/share/wordnet")

needs_wordnet = pytest.mark.skipif(
    not wordnet_available(),
    reason="WordNet is not installed for NLTK; set it up with "
    "`recbole-seedrec wordnet --source /usr/share/wordnet --target ~/nltk_data`",
)


@pytest.fixture
def no_nltk_data(tmp_path, monkeypatch):
    """NLTK sees only an empty data folder, as on a machine where nothing was downloaded."""
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setattr(text, "_warned_missing_wordnet", False)


def stems(*titles, **options):
    return WordSememizer(backend="snowball", **options).fit_transform(titles)


def test_bundled_stopwords_are_a_clean_list():
    lines = [w for w in BUNDLED_STOPWORDS.read_text().splitlines() if not w.startswith("#")]
    assert 150 <= len(lines) <= 200
    assert len(set(lines)) == len(lines)
    assert all(w == w.strip().lower() and w.isalpha() for w in lines)
    assert {"the", "and", "of", "with", "for", "don"} <= set(lines)


def test_stopwords_fall_back_to_the_bundled_list(no_nltk_data):
    assert load_stopwords() == frozenset(
        w for w in BUNDLED_STOPWORDS.read_text().splitlines() if w and not w.startswith("#")
    )


def test_tokens_are_lowercase_alphabetic_content_words():
    sememizer = WordSememizer(backend="snowball")
    words = sememizer.words("OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce (2 Pack) x")
    assert words == ["opi", "nail", "lacquer", "simmer", "shimmer", "fluid", "ounc", "pack"]
    assert sememizer.words("Anti-Aging Salt &amp; Pepper") == ["anti", "age", "salt", "pepper"]
    assert sememizer.words("Don't Look Now") == ["look"]
    assert sememizer.words("NaN null red") == ["red"]  # pandas would read them as missing
    assert sememizer.words("") == [] and sememizer.words(None) == []


def test_normalize_token_maps_one_raw_token():
    sememizer = WordSememizer(backend="snowball")
    assert sememizer.normalize_token("(1995)") is None
    assert sememizer.normalize_token("The") is None
    assert sememizer.normalize_token("(a.k.a.") is None
    assert sememizer.normalize_token("Toy,") == "toy"
    assert sememizer.normalize_token("Story") == "stori"  # Snowball stem
    assert sememizer.normalize_token("Jean-Luc") == "jean_luc"


@needs_wordnet
def test_wordnet_lemmas():
    sememizer = WordSememizer(backend="wordnet")
    assert sememizer.backend == "wordnet"
    assert sememizer.normalize_token("Story") == "story"
    assert sememizer.normalize_token("(1995)") is None
    assert sememizer.words("Knives and Forks, Glasses") == ["knife", "fork", "glass"]


def test_missing_wordnet_falls_back_to_stems_and_warns_once(no_nltk_data):
    with pytest.warns(MissingWordNetWarning) as record:
        first = WordSememizer()
    message = str(record[0].message)
    assert "recbole-seedrec wordnet --source /usr/share/wordnet" in message
    assert "apt-get install wordnet-base wordnet-sense-index" in message
    assert first.backend == "snowball"
    assert first.words("Knives") == ["knive"]
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert WordSememizer().backend == "snowball"
    assert not [w for w in again if issubclass(w.category, MissingWordNetWarning)]


def test_wordnet_backend_required_but_missing(no_nltk_data):
    with pytest.raises(LookupError, match="recbole-seedrec wordnet"):
        WordSememizer(backend="wordnet")


def test_snowball_backend_never_warns(no_nltk_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert WordSememizer(backend="snowball").backend == "snowball"


def test_min_df_count_and_fraction():
    titles = ["red cat", "red dog", "blue cat", "green"]
    assert stems(*titles, min_df=2, max_df=1.0) == [["red", "cat"], ["red"], ["cat"], []]
    assert stems(*titles, min_df=0.5, max_df=1.0) == [["red", "cat"], ["red"], ["cat"], []]
    assert stems(*titles, min_df=1, max_df=1.0)[3] == ["green"]


def test_max_df_drops_words_in_most_titles():
    titles = ["red cat", "red dog", "red fish", "blue cat"]
    sememizer = WordSememizer(backend="snowball", min_df=1, max_df=0.5)
    assert sememizer.fit_transform(titles) == [["cat"], ["dog"], ["fish"], ["blue", "cat"]]
    assert sememizer.stats_["above_max_df"] == 1  # red: 3 of 4 titles
    assert WordSememizer(backend="snowball", min_df=1, max_df=3).fit(titles).df_["red"] == 3


def test_vocabulary_cap_keeps_the_most_frequent_then_alphabetical():
    titles = ["red cat", "red dog", "red fish", "cat blue"]
    sememizer = WordSememizer(backend="snowball", min_df=1, max_df=1.0, max_vocab=3)
    assert sememizer.fit_transform(titles) == [["red", "cat"], ["red"], ["red"], ["cat", "blue"]]
    assert sememizer.vocabulary_ == ["red", "cat", "blue"]
    assert sememizer.stats_ == {
        "documents": 4,
        "distinct_words": 5,
        "below_min_df": 0,
        "above_max_df": 0,
        "over_max_vocab": 2,
        "kept": 3,
        "min_df_count": 1,
        "max_df_count": 4,
    }


def test_repeated_words_count_once_per_title():
    sememizer = WordSememizer(backend="snowball", min_df=2, max_df=1.0)
    assert sememizer.fit_transform(["cat cat cat", "dog"]) == [[], []]
    assert sememizer.stats_["below_min_df"] == 2


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"min_df": -1}, ValueError),
        ({"min_df": 1.5}, ValueError),
        ({"max_df": 0}, ValueError),
        ({"min_df": "2"}, TypeError),
        ({"max_vocab": 0}, ValueError),
        ({"backend": "porter"}, ValueError),
    ],
)
def test_bad_options(options, error):
    with pytest.raises(error):
        WordSememizer(**options)


def test_transform_needs_fit():
    with pytest.raises(RuntimeError, match="fit"):
        WordSememizer(backend="snowball").transform(["red"])


def test_lexnames_list_the_lexicographer_files_in_standard_order():
    rows = [line.split("\t") for line in lexnames_text().splitlines()]
    assert len(rows) == 45
    assert [int(number) for number, _, _ in rows] == list(range(45))
    assert rows[:4] == [
        ["00", "adj.all", "3"],
        ["01", "adj.pert", "3"],
        ["02", "adv.all", "4"],
        ["03", "noun.Tops", "1"],
    ]
    assert rows[28:30] == [["28", "noun.time", "1"], ["29", "verb.body", "2"]]
    assert rows[43:] == [["43", "verb.weather", "2"], ["44", "adj.ppl", "3"]]


def test_wordnet_setup_without_the_database(tmp_path, capsys):
    with pytest.raises(WordNetSetupError, match="apt-get install wordnet-base wordnet-sense-index"):
        install_wordnet(tmp_path / "absent", tmp_path / "nltk_data")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "data.noun").write_text("x")
    args = ["--source", str(partial), "--target", str(tmp_path / "nltk_data")]
    assert wordnet_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {partial} lacks index.adj") and "apt-get install" in err
    assert not (tmp_path / "nltk_data").exists()


def test_wordnet_setup_copies_real_files_and_replaces_an_old_corpus(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in DATABASE_FILES:
        (source / name).write_text(name)
    (source / "adj.exc").unlink()
    (source / "adj.exc").symlink_to(source / "adv.exc")  # a link in the source becomes a file
    old = tmp_path / "nltk_data" / "corpora" / "wordnet"
    old.mkdir(parents=True)
    (old / "stale").write_text("from an earlier install")

    corpus = install_wordnet(source, tmp_path / "nltk_data")
    assert corpus == old
    assert sorted(os.listdir(corpus)) == sorted([*DATABASE_FILES, "lexnames"])
    assert not any((corpus / name).is_symlink() for name in os.listdir(corpus))
    assert (corpus / "adj.exc").read_text() == "adv.exc"
    assert (corpus / "lexnames").read_text() == lexnames_text()
    assert os.listdir(corpus.parent) == ["wordnet"]  # no staging or old folder left


@pytest.mark.skipif(
    not (DEBIAN_WORDNET / "data.noun").is_file(),
    reason="/usr/share/wordnet is absent: apt-get install wordnet-base wordnet-sense-index",
)
def test_wordnet_setup_from_debian_packages_reads_in_nltk(tmp_path, monkeypatch):
    corpus = install_wordnet(DEBIAN_WORDNET, tmp_path)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])  # NLTK reads only its data roots
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*multilingual functions.*")
        reader = WordNetCorpusReader(nltk.data.find("corpora/wordnet"), None)
    assert Path(nltk.data.find("corpora/wordnet").path) == corpus
    assert reader.morphy("knives", "n") == "knife"
