"""The atomic-file converter: exact outputs, inputs of every kind, filters, errors, atomicity."""

import gzip
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
from recbole.data import create_dataset

from recbole_seedrec.cli.prepare import main
from recbole_seedrec.config import Config
from recbole_seedrec.prepare import output
from recbole_seedrec.prepare.convert import kcore
from tests.conftest import shared_data

SNOWBALL = ["--lemmatizer", "snowball"]  # the same sememes with or without WordNet
ALL_WORDS = "--min-df 1 --max-df 1.0"


def write(path, rows, sep="\t"):
    path.write_text("".join(sep.join(map(str, row)) + "\n" for row in rows), encoding="utf-8")
    return path


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def convert(tmp_path, capsys, options, name="toy", force=True):
    """Run the CLI with ``options`` (one string); return (exit code, stdout, stderr). ``force``:
    replace an earlier output (tests convert into one folder again and again)."""
    argv = [*shlex.split(options), "--name", name, "--out-dir", str(tmp_path / "out"), *SNOWBALL]
    argv += ["--force"] if force else []
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_of(tmp_path, capsys, options):
    """The CLI's error message, checked to be one line of text and exit code 2."""
    code, out, err = convert(tmp_path, capsys, options)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def item_rows(tmp_path, name="toy"):
    return lines(tmp_path / "out" / name / f"{name}.item")[1:]


def inter_rows(tmp_path, name="toy"):
    return lines(tmp_path / "out" / name / f"{name}.inter")[1:]


@pytest.fixture
def items_file(tmp_path):
    rows = [
        ("item_id", "title", "categories"),
        ("i1", "Red Nail Polish", "Beauty|Makeup|Nail Polish"),
        ("i2", "Red Lipstick, 2 Pack", "Beauty|Makeup|Lips"),
        ("i3", "Blue Nail File", "Beauty|Tools & Accessories"),
        ("i9", "Never Bought", "Beauty"),
    ]
    return write(tmp_path / "items.tsv", rows)


@pytest.fixture
def tables(tmp_path, items_file):
    """Options for a small plain-table input: 2 users, 3 items bought, 1 item never."""
    rows = [
        ("user_id", "item_id", "timestamp"),
        ("u2", "i3", 30),
        ("u1", "i2", 20),
        ("u1", "i1", 10),
        ("u2", "i1", 30),  # a tie with the first u2 row: input order is kept
        ("u1", "i3", 15.5),
        ("u2", "i2", 5),
    ]
    inter = write(tmp_path / "interactions.tsv", rows)
    return f"--interactions {inter} --items {items_file}"


def test_plain_tables_exact_output(tmp_path, capsys, tables):
    code, out, err = convert(tmp_path, capsys, f"{tables} --max-df 1.0")
    assert code == 0, err
    folder = tmp_path / "out" / "toy"
    assert lines(folder / "toy.inter") == [
        "user_id:token\titem_id:token\ttimestamp:float",
        "u2\ti2\t5",
        "u2\ti3\t30",
        "u2\ti1\t30",
        "u1\ti1\t10",
        "u1\ti3\t15.5",
        "u1\ti2\t20",
    ]
    assert lines(folder / "toy.item") == [
        "item_id:token\tcategory_sememes:token_seq\tword_sememes:token_seq",
        "i2\tBeauty Makeup Lips\tred",
        "i3\tBeauty Tools_&_Accessories\tnail",
        "i1\tBeauty Makeup Nail_Polish\tred nail",
    ]
    for expected in (
        "users: 2",
        "items: 3",
        "interactions: 6",
        "order: timestamp (column 'timestamp')",
        "category_sememes: 5 sememes, 2.67 per item on average, 0 items with none",
        "word_sememes: 2 sememes, 1.33 per item on average, 0 items with none",
        "mean sememes per item: 4.00",
        "items without sememes: 0 (0.0%)",
        "item rows without interactions (left out): 1",
    ):
        assert expected in out.splitlines()
    assert sorted(os.listdir(folder)) == ["toy.inter", "toy.item"]  # no temporary files
    reference = tmp_path / "reference"
    reference.write_text("")  # the permissions of an ordinary new file
    assert (folder / "toy.item").stat().st_mode == reference.stat().st_mode


def test_sememe_fields_can_be_chosen(tmp_path, capsys, tables):
    code, _, err = convert(tmp_path, capsys, f"{tables} --sememes word --max-df 1.0")
    assert code == 0, err
    assert lines(tmp_path / "out" / "toy" / "toy.item")[:2] == [
        "item_id:token\tword_sememes:token_seq",
        "i2\tred",
    ]


def test_position_only_input(tmp_path, capsys):
    rows = [("user_id", "item_id", "position"), ("7", "m2", 1), ("7", "m1", 0), ("8", "m1", 0)]
    inter = write(tmp_path / "inter.tsv", rows)
    rows = [
        ("item_id", "title", "genres"),
        ("m1", "Toy Story (1995)", "Animation|Children's"),
        ("m2", "Heat (1995)", "Action|Crime"),
    ]
    items = write(tmp_path / "items.tsv", rows)
    code, out, err = convert(
        tmp_path, capsys, f"--interactions {inter} --items {items} {ALL_WORDS}"
    )
    assert code == 0, err
    assert inter_rows(tmp_path) == ["7\tm1\t0", "7\tm2\t1", "8\tm1\t0"]
    assert item_rows(tmp_path) == ["m1\tAnimation Children's\ttoy stori", "m2\tAction Crime\theat"]
    assert "order: position (column 'position')" in out


def test_named_columns_and_csv(tmp_path, capsys):
    inter = write(
        tmp_path / "log.csv", [("who", "what", "step"), ("a", "x", 2), ("a", "y", 1)], ","
    )
    rows = [("what", "name", "tags"), ("x", '"Red, Blue Pen"', "office;pens"), ("y", "Desk", "")]
    items = write(tmp_path / "meta.csv", rows, ",")
    code, _, err = convert(
        tmp_path,
        capsys,
        f"--interactions {inter} --items {items} --user-col who --item-col what --order-col step "
        f"--title-col name --category-col tags --category-sep ';' {ALL_WORDS}",
    )
    assert code == 0, err
    assert inter_rows(tmp_path) == ["a\ty\t1", "a\tx\t2"]
    assert item_rows(tmp_path) == ["y\t\tdesk", "x\toffice pens\tred blue pen"]


AMAZON_REVIEWS = [
    {"reviewerID": "A1", "asin": "B2", "unixReviewTime": 200, "overall": 5.0},
    {"reviewerID": "A1", "asin": "B1", "unixReviewTime": 100},
    {"reviewerID": "A2", "asin": "B1", "unixReviewTime": 300},
    {"reviewerID": "A2", "asin": "B3", "unixReviewTime": 50},  # no metadata row
]
META_2018 = [
    {"asin": "B1", "title": "Ceramic Coffee Mug", "category": ["Home & Kitchen", "Kitchen"]},
    {"asin": "B2", "title": "Steel Coffee Pot", "category": []},
]
META_2014 = [  # python literals, one list per category path
    "{'asin': 'B1', 'title': \"Men's Coffee Mug\", 'categories': [['Home', 'Kitchen'], ['Gifts']]}",
    "{'asin': 'B2', 'categories': [['Home', 'Kitchen', 'Pots']]}",
]


def dump(path, records, gz=False):
    """A JSON-lines file; records that are strings are written as they are."""
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    if not gz:
        path.write_text(text, encoding="utf-8")
        return path
    path = path.with_name(path.name + ".gz")
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("schema", ["2018", "2014"])
def test_amazon_dumps(tmp_path, capsys, schema, gz):
    reviews = dump(tmp_path / "reviews.json", AMAZON_REVIEWS, gz)
    meta = dump(tmp_path / "meta.json", META_2018 if schema == "2018" else META_2014, gz)
    options = f"--amazon-reviews {reviews} --amazon-meta {meta} {ALL_WORDS}"
    code, out, err = convert(tmp_path, capsys, options)
    assert code == 0, err
    assert inter_rows(tmp_path) == ["A1\tB1\t100", "A1\tB2\t200", "A2\tB3\t50", "A2\tB1\t300"]
    assert (
        item_rows(tmp_path)
        == {
            "2018": [
                "B1\tHome_&_Kitchen Kitchen\tceram coffe mug",
                "B2\t\tsteel coffe pot",
                "B3\t\t",
            ],
            "2014": ["B1\tHome Kitchen Gifts\tmen coffe mug", "B2\tHome Kitchen Pots\t", "B3\t\t"],
        }[schema]
    )
    assert "items without an item row (kept, no sememes): 1" in out
    assert "1 items (1 interactions)" in err and "kept, with no sememes" in err
    assert "items without sememes: 1 (33.3%)" in out
    assert "above --warn-no-sememe-fraction 0.05" in err


def test_kcore_is_iterative():
    rows = [("a", "x", 1), ("a", "y", 2), ("b", "x", 1), ("b", "y", 2)]
    rows += [("c", "x", 1), ("c", "z", 2), ("d", "z", 1)]
    # k=2: d goes (1 row), then z has 1 row, then c has 1 row; a and b stay.
    assert kcore(rows, 2) == rows[:4]
    assert kcore(rows, 1) == rows
    assert kcore(rows, 3) == []


def test_kcore_option(tmp_path, capsys, items_file):
    rows = [("user_id", "item_id", "timestamp"), ("a", "i1", 1), ("a", "i2", 2), ("b", "i1", 1)]
    rows += [("b", "i2", 2), ("c", "i1", 3), ("c", "i3", 4), ("d", "i3", 5)]
    inter = write(tmp_path / "inter.tsv", rows)
    code, out, err = convert(
        tmp_path, capsys, f"--interactions {inter} --items {items_file} --kcore 2"
    )
    assert code == 0, err
    assert inter_rows(tmp_path) == ["a\ti1\t1", "a\ti2\t2", "b\ti1\t1", "b\ti2\t2"]
    assert "interactions removed by k-core: 3" in out
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items_file} --kcore 3")
    assert "error: --kcore 3: removes every interaction. Use a smaller K." in err


def test_word_filters_and_cap_from_the_command_line(tmp_path, capsys, tables):
    code, out, _ = convert(tmp_path, capsys, f"{tables} --sememes word --min-df 1 --max-df 0.5")
    assert code == 0
    assert item_rows(tmp_path) == ["i2\tlipstick pack", "i3\tblue file", "i1\tpolish"]
    assert "2 above max-df (1 items)" in out  # red and nail: in 2 of 3 titles each
    code, out, _ = convert(tmp_path, capsys, f"{tables} --sememes word {ALL_WORDS} --max-vocab 2")
    assert item_rows(tmp_path) == ["i2\tred", "i3\tnail", "i1\tred nail"]
    assert "5 over max-vocab, 2 kept" in out
    code, out, _ = convert(tmp_path, capsys, f"{tables} --sememes word --max-df 1.0")
    assert "5 below min-df (2 items)" in out  # min-df 2 by default: only red and nail


def test_failure_keeps_the_previous_output(tmp_path, capsys, tables, items_file, monkeypatch):
    assert convert(tmp_path, capsys, tables)[0] == 0
    folder = tmp_path / "out" / "toy"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    bad = write(tmp_path / "bad.tsv", [("user_id", "item_id", "timestamp"), ("u1", "i1", "x")])
    assert convert(tmp_path, capsys, f"--interactions {bad} --items {items_file}")[0] == 2

    calls = []

    def failing_fsync(fd):  # the second file cannot be written: disk full
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", "toy.item")

    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    err = error_of(tmp_path, capsys, f"{tables} --sememes word")
    assert "error: cannot write toy.item: No space left on device" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no temp files either


def test_failure_on_first_run_writes_nothing(tmp_path, capsys, items_file):
    bad = write(tmp_path / "bad.tsv", [("user_id", "item_id", "timestamp"), ("u1", "i1", "")])
    error_of(tmp_path, capsys, f"--interactions {bad} --items {items_file}")
    assert not (tmp_path / "out").exists()


def test_items_without_sememes_warned_above_the_threshold(tmp_path, capsys, tables):
    options = f"{tables} --sememes word --max-df 1.0 --max-vocab 1"  # keeps 'nail' only
    code, out, err = convert(tmp_path, capsys, f"{options} --warn-no-sememe-fraction 0.5")
    assert code == 0
    assert "items without sememes: 1 (33.3%)" in out  # i2: red lipstick pack
    assert "have no sememes" not in err
    code, out, err = convert(tmp_path, capsys, f"{options} --warn-no-sememe-fraction 0.2")
    assert "1 of 3 items (33.3%) have no sememes, above --warn-no-sememe-fraction 0.2" in err


def inter_with(tmp_path, *rows, header=("user_id", "item_id", "timestamp")):
    return write(tmp_path / "i.tsv", [header, *rows])


def test_error_missing_column(tmp_path, capsys, items_file):
    inter = inter_with(tmp_path, ("u", "i1", 1), header=("user", "item_id", "timestamp"))
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items_file}")
    assert f"{inter}: no column 'user_id' (columns found: user, item_id, timestamp)" in err
    assert "set --user-col" in err


def test_error_no_order_column(tmp_path, capsys, items_file):
    inter = inter_with(tmp_path, ("u", "i1", 1), header=("user_id", "item_id", "when"))
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items_file}")
    assert "no order column (columns found: user_id, item_id, when)" in err
    assert "--time-col" in err and "--order-col" in err
    err = error_of(
        tmp_path,
        capsys,
        f"--interactions {inter} --items {items_file} --time-col when --order-col when",
    )
    assert "--time-col or --order-col, not both" in err


def test_error_malformed_row(tmp_path, capsys, items_file):
    inter = inter_with(tmp_path, ("u", "i1", 1), ("", "", ""), ("u", "i2"))
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items_file}")
    assert f"{inter}, line 4: 2 fields, but the header has 3" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty; it needs a header row and data rows"),
        ("user_id\titem_id\ttimestamp\n\n", "the file has a header (user_id, item_id, timestamp)"),
    ],
)
def test_error_empty_file(tmp_path, capsys, items_file, content, message):
    inter = tmp_path / "i.tsv"
    inter.write_text(content)
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items_file}")
    assert f"{inter}: {message}" in err


def test_error_non_numeric_timestamp(tmp_path, capsys, items_file):
    inter = inter_with(tmp_path, ("u", "i1", 1), ("u", "i2", 2), ("u", "i3", "yesterday"))
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items_file}")
    assert f"{inter}, line 4: column 'timestamp': value 'yesterday' is not a finite number" in err


def test_error_sememe_kind_not_in_input(tmp_path, capsys, tables):
    items = write(tmp_path / "items.tsv", [("item_id", "categories"), ("i1", "A")])  # no titles
    err = error_of(tmp_path, capsys, f"{tables} --sememes category,word")  # reads that items.tsv
    assert f"{items}: --sememes asks for word sememes" in err and "--title-col" in err


def test_error_id_that_recbole_reads_as_missing(tmp_path, capsys, items_file):
    inter = inter_with(tmp_path, ("NA", "i1", 1))
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items_file}")
    assert "user id 'NA' cannot be written" in err and "rename it" in err


@pytest.mark.parametrize(
    ("meta_line", "message"),
    [
        ('{"asin": "B1", "category": "Kitchen"}', "line 2: field 'category' is str"),
        ('{"asin": "B1", "category": ["Home", 3]}', "line 2: field 'category' is list"),
        ("{'asin': 'B1', 'categories': ['Home']}", "line 2: field 'categories' is list"),
        ('{"asin": "B1", "title": 7}', "line 2: field 'title' is int"),
        ('{"title": "x"}', "line 2: no field 'asin' (fields found: title)"),
        ("{asin: B1", "line 2: neither JSON nor a Python literal"),
        ('["B1"]', "line 2: a list, not a record"),
    ],
)
def test_error_bad_metadata(tmp_path, capsys, meta_line, message):
    reviews = dump(tmp_path / "r.json", AMAZON_REVIEWS)
    meta = dump(tmp_path / "m.json", [META_2018[1], meta_line])
    err = error_of(tmp_path, capsys, f"--amazon-reviews {reviews} --amazon-meta {meta}")
    assert f"{meta}, {message}" in err


@pytest.mark.parametrize(
    ("review", "message"),
    [
        ({"asin": "B1", "unixReviewTime": 1}, "no field 'reviewerID'"),
        ({"reviewerID": "A", "asin": "B1", "unixReviewTime": "May 1"}, "value 'May 1' is not"),
    ],
)
def test_error_bad_review(tmp_path, capsys, review, message):
    reviews = dump(tmp_path / "r.json", [AMAZON_REVIEWS[0], review])
    meta = dump(tmp_path / "m.json", META_2018)
    err = error_of(tmp_path, capsys, f"--amazon-reviews {reviews} --amazon-meta {meta}")
    assert f"{reviews}, line 2: " in err and message in err


def test_error_empty_dump(tmp_path, capsys):
    reviews, meta = dump(tmp_path / "r.json", [""], gz=True), dump(tmp_path / "m.json", META_2018)
    err = error_of(tmp_path, capsys, f"--amazon-reviews {reviews} --amazon-meta {meta}")
    assert f"{reviews}: the file is empty" in err


def test_error_inputs_of_both_kinds(tmp_path, capsys, items_file):
    err = error_of(tmp_path, capsys, f"--interactions {items_file} --amazon-meta m.json")
    assert "either --interactions and --items, or --amazon-reviews and --amazon-meta" in err


def test_real_beauty_sample_loads_in_recbole(tmp_path, capsys):
    source = shared_data("amazon-beauty")
    with open(source / "interactions.tsv", encoding="utf-8") as handle:
        head = [next(handle) for _ in range(3001)]
    inter = tmp_path / "interactions.tsv"
    inter.write_text("".join(head), encoding="utf-8")
    options = f"--interactions {inter} --items {source / 'items.tsv'}"
    code, out, err = convert(tmp_path, capsys, options, name="beauty_sample")
    assert code == 0, err
    assert "interactions: 3000" in out
    vocab = {"category_sememes": set(), "word_sememes": set()}
    for row in item_rows(tmp_path, "beauty_sample"):
        _, categories, words = row.split("\t")
        vocab["category_sememes"].update(categories.split())
        vocab["word_sememes"].update(words.split())
    for field, tokens in vocab.items():
        assert f"{field}: {len(tokens)} sememes" in out

    config_dict = {"data_path": str(tmp_path / "out"), "load_col": None}
    config_dict.update(train_neg_sample_args=None, show_progress=False)
    config = Config("SASRec", "beauty_sample", config_dict=config_dict, cmd_args=[])
    dataset = create_dataset(config)
    assert dataset.inter_num == 3000
    for field, tokens in vocab.items():
        assert field in dataset.item_feat.columns
        assert dataset.num(field) == len(tokens) + 1  # + RecBole's [PAD]


def test_refuses_to_replace_earlier_output_without_force(tmp_path, capsys, tables):
    assert convert(tmp_path, capsys, tables)[0] == 0
    folder = tmp_path / "out" / "toy"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    other = write(tmp_path / "other.tsv", [("user_id", "item_id", "timestamp"), ("u9", "i1", 1)])
    items = tmp_path / "items.tsv"
    code, out, err = convert(
        tmp_path, capsys, f"--interactions {other} --items {items}", force=False
    )
    assert code == 2 and out == ""
    assert err == (
        f"error: {folder}: already holds toy.inter and toy.item from an earlier conversion. "
        "Add --force to replace them, or choose another --name or --out-dir.\n"
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # and no temp file
    code, _, err = convert(tmp_path, capsys, f"--interactions {other} --items {items}")
    assert code == 0, err  # --force
    assert inter_rows(tmp_path) == ["u9\ti1\t1"]


def test_one_existing_output_file_is_refused_too(tmp_path, capsys, tables):
    folder = tmp_path / "out" / "toy"
    folder.mkdir(parents=True)
    (folder / "toy.item").write_text("mine\n")
    code, _, err = convert(tmp_path, capsys, tables, force=False)
    assert code == 2 and "already holds toy.item from an earlier conversion" in err
    assert sorted(os.listdir(folder)) == ["toy.item"]
    assert (folder / "toy.item").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("found", "flag_value", "shown"),
    [(",", "','", "','"), (";", "';'", "';'"), ("|", "'|'", "'|'")],
)
def test_wrong_separator_names_the_fix(tmp_path, capsys, items_file, found, flag_value, shown):
    rows = [("user_id", "item_id", "timestamp"), ("u1", "i1", 1), ("u1", "i2", 2)]
    inter = write(tmp_path / "inter.tsv", rows, found)
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items_file}")
    assert err == (
        f"error: {inter}: wrong separator: split at tab, the header is one column "
        f"{found.join(rows[0])!r}, which holds {shown}. Add --inter-sep {flag_value} "
        f"(or --sep {flag_value} for both files).\n"
    )
    code, _, err = convert(
        tmp_path, capsys, f"--interactions {inter} --items {items_file} --inter-sep '{found}'"
    )
    assert code == 0, err
    assert inter_rows(tmp_path) == ["u1\ti1\t1", "u1\ti2\t2"]


def test_separator_per_file(tmp_path, capsys, tables):
    inter = tables.split()[1]
    items = write(tmp_path / "meta.txt", [("item_id", "categories"), ("i1", "A"), ("i2", "B")], ";")
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items}")
    assert "holds ';'. Add --item-sep ';'" in err
    code, _, err = convert(
        tmp_path, capsys, f"--interactions {inter} --items {items} --item-sep ';'"
    )
    assert code == 0, err
    assert item_rows(tmp_path)[:2] == ["i2\tB", "i3\t"]
    err = error_of(tmp_path, capsys, f"--interactions {inter} --items {items} --sep ';'")
    assert f"error: {inter}: wrong separator: split at ';'" in err and "holds tab" in err
    assert "Add --inter-sep '\\t'" in err
    err = error_of(tmp_path, capsys, f"{tables} --sep ab")
    assert err == "error: --sep 'ab': a field separator is one character. Give e.g. ',' or '\\t'.\n"


def test_duplicate_interactions_warned_or_dropped(tmp_path, capsys, items_file):
    rows = [("user_id", "item_id", "timestamp"), ("u1", "i1", 1), ("u1", "i1", 1)]
    rows += [("u1", "i1", 2), ("u2", "i1", 1), ("u1", "i1", 1)]  # 2 repeats of the first row
    inter = write(tmp_path / "inter.tsv", rows)
    code, out, err = convert(tmp_path, capsys, f"--interactions {inter} --items {items_file}")
    assert code == 0, err
    assert inter_rows(tmp_path) == ["u1\ti1\t1"] * 3 + ["u1\ti1\t2", "u2\ti1\t1"]
    assert (
        f"warning: {inter}: 2 duplicate interactions (same user, item and timestamp as an earlier "
        "row), kept; add --drop-duplicates to drop them\n"
    ) in err
    assert "duplicate interactions (same user, item and time), kept: 2" in out
    assert "interactions: 5" in out
    options = f"--interactions {inter} --items {items_file} --drop-duplicates"
    code, out, err = convert(tmp_path, capsys, options)
    assert code == 0, err
    assert inter_rows(tmp_path) == ["u1\ti1\t1", "u1\ti1\t2", "u2\ti1\t1"]
    assert "duplicate" not in err
    assert "duplicate interactions (same user, item and time), dropped: 2" in out
    assert "interactions: 3" in out


def test_ctrl_c_while_writing_leaves_nothing(tmp_path, capsys, tables, monkeypatch):
    def interrupted_fsync(fd):  # Ctrl-C while the first temporary file is being written
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(output.os, "fsync", interrupted_fsync)
    handler = signal.getsignal(signal.SIGINT)
    code, out, err = convert(tmp_path, capsys, tables)
    assert code == 130 and out == ""
    folder = tmp_path / "out" / "toy"
    assert err == (
        f"error: {folder}: interrupted by SIGINT; no partial file is left. "
        "Run the command again to convert.\n"
    )
    assert not (tmp_path / "out").exists()  # nor the folders it made
    assert signal.getsignal(signal.SIGINT) is handler  # restored


def test_sigterm_during_conversion_leaves_no_partial_file(tmp_path, capsys, items_file):
    """A real process, SIGTERM as soon as its first temporary output file exists."""
    small = write(tmp_path / "small.tsv", [("user_id", "item_id", "timestamp"), ("u", "i1", 1)])
    assert convert(tmp_path, capsys, f"--interactions {small} --items {items_file}", "big")[0] == 0
    folder = tmp_path / "out" / "big"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    pad = "x" * 100  # long ids: a big output, written for a few tenths of a second
    big = tmp_path / "big.tsv"
    with open(big, "w", encoding="utf-8") as handle:
        handle.write("user_id\titem_id\ttimestamp\n")
        handle.writelines(f"u{k % 5000}-{pad}\ti{k % 3 + 1}\t{k}\n" for k in range(150_000))
    command = [sys.executable, "-m", "recbole_seedrec", "prepare", "--interactions", str(big)]
    command += ["--items", str(items_file), "--name", "big", "--out-dir", str(tmp_path / "out")]
    process = subprocess.Popen(
        [*command, *SNOWBALL, "--force"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = False
    while process.poll() is None and not seen:
        seen = any(name.endswith(".tmp") for name in os.listdir(folder))
        time.sleep(0.001)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert seen, f"the conversion ended before a temporary file was seen: {err}"
    assert process.returncode == 128 + signal.SIGTERM, err
    assert err == (
        f"error: {folder}: interrupted by SIGTERM; no partial file is left. "
        "Run the command again to convert.\n"
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no .tmp either
