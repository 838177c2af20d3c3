"""Bad inputs of the converter (``recbole-seedrec prepare``), as a new user types
them; see tests/bad_inputs.py for what each case expects."""

from tests.bad_inputs import Case

HEADER = "user_id\titem_id\ttimestamp\n"


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _args(ws, inter=None, items=None, name="toy", out=None):
    """A conversion of the workspace's raw tables (or the given files) into ws.root/out."""
    return [
        *("--interactions", str(inter or ws.raw / "interactions.tsv")),
        *("--items", str(items or ws.raw / "items.tsv")),
        *("--name", name, "--out-dir", str(ws.root / "out" if out is None else out)),
    ]


def _earlier_output(ws):
    """A conversion's output from an earlier run, which a failed run must keep."""
    _write(ws.root / "out" / "toy" / "toy.inter", "user_id:token\titem_id:token\n")
    _write(ws.root / "out" / "toy" / "toy.item", "item_id:token\n")


def _outputs(ws):
    return [ws.root / "out" / "toy" / "toy.inter", ws.root / "out" / "toy" / "toy.item"]


def _inputs(ws):
    return [ws.raw / "interactions.tsv", ws.raw / "items.tsv"]


def _inter(text):
    """setup: an interactions file ws.root/inter.tsv holding ``text``."""
    return lambda ws: _write(ws.root / "inter.tsv", text)


def _with_inter(ws, *extra):
    return _args(ws, inter=ws.root / "inter.tsv") + list(extra)


CASES = [
    Case(
        id="prepare-existing-output-without-force",
        command="prepare",
        setup=_earlier_output,
        argv=_args,
        message="already holds toy.inter and toy.item from an earlier conversion. Add --force",
        unchanged=lambda ws: _outputs(ws) + _inputs(ws),
    ),
    Case(
        id="prepare-comma-separated-tsv",
        command="prepare",
        setup=_inter("user_id,item_id,timestamp\nu1,i1,1\n"),
        argv=_with_inter,
        message="wrong separator: split at tab, the header is one column "
        "'user_id,item_id,timestamp', which holds ','. Add --inter-sep ','",
    ),
    Case(
        id="prepare-items-with-another-separator",
        command="prepare",
        setup=lambda ws: _write(ws.root / "items.txt", "item_id;categories\ni1;A\n"),
        argv=lambda ws: _args(ws, items=ws.root / "items.txt"),
        message="which holds ';'. Add --item-sep ';'",
    ),
    Case(
        id="prepare-separator-of-two-characters",
        command="prepare",
        argv=lambda ws: _args(ws) + ["--sep", "::"],
        message="--sep '::': a field separator is one character",
    ),
    Case(
        id="prepare-missing-interactions-file",
        command="prepare",
        argv=lambda ws: _args(ws, inter=ws.root / "nope.tsv"),
        message="nope.tsv: no such file. Check the path given to --interactions",
    ),
    Case(
        id="prepare-folder-given-as-items-file",
        command="prepare",
        argv=lambda ws: _args(ws, items=ws.raw),
        message="is a folder, not a file. Give the file itself to --items",
    ),
    Case(
        id="prepare-empty-interactions-file",
        command="prepare",
        setup=_inter(""),
        argv=_with_inter,
        message="inter.tsv: the file is empty",
    ),
    Case(
        id="prepare-header-only",
        command="prepare",
        setup=_inter(HEADER),
        argv=_with_inter,
        message="the file has a header (user_id, item_id, timestamp) but no rows",
    ),
    Case(
        id="prepare-missing-column",
        command="prepare",
        argv=lambda ws: _args(ws) + ["--user-col", "uid"],
        message="no column 'uid' (columns found: user_id, item_id, timestamp)",
    ),
    Case(
        id="prepare-non-numeric-timestamp",
        command="prepare",
        setup=_inter(HEADER + "u1\ti1\t1\nu1\ti2\tyesterday\n"),
        argv=_with_inter,
        message="line 3: column 'timestamp': value 'yesterday' is not a finite number",
    ),
    Case(
        id="prepare-row-with-too-few-fields",
        command="prepare",
        setup=_inter(HEADER + "u1\ti1\t1\nu1\ti2\n"),
        argv=_with_inter,
        message="line 3: 2 fields, but the header has 3",
    ),
    Case(
        id="prepare-id-read-as-missing",
        command="prepare",
        setup=_inter(HEADER + "NA\ti1\t1\n"),
        argv=_with_inter,
        message="user id 'NA' cannot be written",
    ),
    Case(
        id="prepare-time-and-order-column",
        command="prepare",
        argv=lambda ws: _args(ws) + ["--time-col", "timestamp", "--order-col", "timestamp"],
        message="--time-col and --order-col: both given",
    ),
    Case(
        id="prepare-word-sememes-without-titles",
        command="prepare",
        setup=lambda ws: _write(ws.root / "items.tsv", "item_id\tcategories\ni1\tA\n"),
        argv=lambda ws: _args(ws, items=ws.root / "items.tsv") + ["--sememes", "word"],
        message="--sememes asks for word sememes but no title data was found",
    ),
    Case(
        id="prepare-empty-category-separator",
        command="prepare",
        argv=lambda ws: _args(ws) + ["--category-sep", ""],
        message="--category-sep '': empty",
    ),
    Case(
        id="prepare-negative-kcore",
        command="prepare",
        argv=lambda ws: _args(ws) + ["--kcore", "-1"],
        message="--kcore -1: negative",
    ),
    Case(
        id="prepare-kcore-removes-all-keeps-earlier-output",
        command="prepare",
        setup=_earlier_output,
        argv=lambda ws: _args(ws) + ["--kcore", "1000000", "--force"],
        message="--kcore 1000000: removes every interaction",
        unchanged=_outputs,
    ),
    Case(
        id="prepare-out-dir-is-a-file",
        command="prepare",
        setup=lambda ws: _write(ws.root / "afile", "keep me\n"),
        argv=lambda ws: _args(ws, out=ws.root / "afile"),
        message="afile: is a file, not a folder",
        unchanged=lambda ws: [ws.root / "afile"],
    ),
    Case(
        id="prepare-empty-out-dir",
        command="prepare",
        argv=lambda ws: _args(ws, out=""),
        message="--out-dir '': empty",
    ),
    Case(
        id="prepare-name-with-a-slash",
        command="prepare",
        argv=lambda ws: _args(ws, name="beauty/v2"),
        message="--name 'beauty/v2': not a plain data set name",
    ),
    Case(
        id="prepare-table-given-as-amazon-dump",
        command="prepare",
        argv=lambda ws: [
            *("--amazon-reviews", str(ws.raw / "interactions.tsv")),
            *("--amazon-meta", str(ws.raw / "items.tsv")),
            *("--name", "toy", "--out-dir", str(ws.root / "out")),
        ],
        message="line 1: neither JSON nor a Python literal",
    ),
    Case(
        id="prepare-table-option-with-amazon-dump",
        command="prepare",
        argv=lambda ws: [
            *("--amazon-reviews", str(ws.raw / "interactions.tsv")),
            *("--amazon-meta", str(ws.raw / "items.tsv")),
            *("--inter-sep", ",", "--name", "toy", "--out-dir", str(ws.root / "out")),
        ],
        message="--inter-sep: applies to plain tables (--interactions, --items), not to Amazon",
    ),
]
