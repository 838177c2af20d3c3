"""Every bad input gets one clear answer: a table of cases, each run as a user types it.

Each case asserts its exit code, exactly one ``error:`` line that names the file, field or
option, no traceback, and that earlier outputs (the data, the checkpoints, the case's own
files) are byte-identical afterwards. The converter's cases live in
``tests/bad_inputs_prepare.py``, the checkpoint commands' in ``tests/bad_inputs_commands.py``,
the runs' here.
"""

import shutil
from pathlib import Path

import pytest
import yaml

from tests.bad_inputs import Case, Workspace, digest, run_command
from tests.seedrec_data import NAME, SYNTHETIC, write_atomic, write_default


def run(*options, model="SeeDRecSASRec", files=()):
    """argv of ``recbole-seedrec`` on the synthetic data set, with its settings file."""
    return lambda ws: ["--model", model, "--dataset", ws.name, f"--data_path={ws.data_path}",
                       "--config_files", str(ws.extra["settings"]),
                       *[str(ws.root / name) for name in files], *options]  # fmt: skip


def bad_yaml(ws):
    (ws.root / "bad.yaml").write_text("learning_rate: [0.1, 0.2\nepochs: 3\n", encoding="utf-8")


def no_sememes(ws):
    """A copy of the data set whose items carry no sememe at all."""
    histories = {u: rows for u, rows in ws.extra["histories"].items()}
    write_atomic(ws.root / "data", "nosem", histories, {item: [] for item in ws.extra["sememes"]})


def reconverted(ws):
    """The data set converted again with one interaction fewer: other id maps and counts."""
    folder = ws.root / "data" / ws.name
    shutil.copytree(ws.data_path / ws.name, folder)
    inter = folder / f"{ws.name}.inter"
    lines = inter.read_text(encoding="utf-8").splitlines(keepends=True)
    inter.write_text("".join(lines[:-1]), encoding="utf-8")


RUN_CASES = [
    Case("misspelled option", "run", run("--prompt_nmu=5"), "Did you mean --prompt_num?"),
    Case("unknown option", "run", run("--colour=blue"), "--colour: no option"),
    Case("learning rate not a number", "run", run("--learning_rate=fast"),
         "--learning_rate: 'fast' is not a number > 0"),
    Case("negative learning rate", "run", run("--learning_rate=-0.1"), "--learning_rate: -0.1"),
    Case("prompt_num 0", "run", run("--prompt_num=0"), "--prompt_num: 0 is not a whole number"),
    Case("prompt_num negative", "run", run("--prompt_num=-2"), "--prompt_num: -2"),
    Case("s2idm_steps 0", "run", run("--s2idm_steps=0"), "--s2idm_steps: 0"),
    Case("MAX_ITEM_LIST_LENGTH 0", "run", run("--MAX_ITEM_LIST_LENGTH=0"),
         "--MAX_ITEM_LIST_LENGTH: 0"),
    Case("epochs 0", "run", run("--epochs=0"), "--epochs: 0 is not a whole number >= 1"),
    Case("dropout above 1", "run", run("--hidden_dropout_prob=1.5"),
         "--hidden_dropout_prob: 1.5 is not a probability"),
    Case("heads do not divide hidden", "run", run("--n_heads=3"), "--n_heads: 3 heads"),
    Case("yaml syntax error", "run", run(files=["bad.yaml"]), "bad.yaml, line 2: not valid YAML",
         setup=bad_yaml),
    Case("missing config file", "run", run(files=["none.yaml"]), "none.yaml"),
    Case("load_col without the timestamp", "run",
         run("--load_col={'inter': ['user_id', 'item_id']}"), "--load_col: the inter columns"),
    Case("no item has a sememe", "run", lambda ws: ["--model", "SeeDRecSASRec", "--dataset",
         "nosem", "--config_files", str(ws.extra["settings"]), f"--data_path={ws.root / 'data'}"],
         "no item of data set 'nosem' has a sememe", setup=no_sememes),
    Case("unknown model", "run", run(model="SASrec"), "Did you mean SASRec"),
    Case("no atomic files", "run", lambda ws: ["--model", "SASRec", "--dataset", "nothing",
         f"--data_path={ws.root}"], "--dataset nothing: No atomic files for data set 'nothing'"),
    Case("override without dashes", "run", run("prompt_num=3"),
         "prompt_num=3: is not a config file. Overrides take the form --prompt_num=3."),
    Case("valid_metric not computed", "run", run("--valid_metric=NDCG@50"), "valid_metric"),
    Case("unknown train_batching", "run", run("--train_batching=fast"), "train_batching"),
    Case("unknown interest_scope", "run", run("--interest_scope=all"), "interest_scope"),
    Case("unknown eval_negatives", "run", run("--eval_negatives=some"), "eval_negatives"),
    Case("few-shot threshold negative", "run", run("--few_shot_max_sememes=-1"),
         "few_shot_max_sememes"),
    Case("init_from missing", "run", run("--init_from=/nonexistent/SASRec.pth"), "init_from"),
    Case("resume from a missing file", "run", run("--resume_checkpoint=/nonexistent/x.pth"),
         "/nonexistent/x.pth"),
    Case("resume from another model's checkpoint", "run",
         lambda ws: [*run()(ws), f"--resume_checkpoint={ws.model_file}"],
         "is a checkpoint of model SASRec, not of SeeDRecSASRec"),
    Case("resume from an S2IDM artifact", "run",
         lambda ws: [*run()(ws), f"--resume_checkpoint={ws.s2idm_file}"], "S2IDM artifact"),
    Case("checkpoint on re-converted data", "evaluate",
         lambda ws: ["--model-file", str(ws.model_file), f"--data_path={ws.root / 'data'}"],
         "was trained on other data", setup=reconverted),
]  # fmt: skip


def all_cases():
    cases = list(RUN_CASES)
    for module in ("tests.bad_inputs_prepare", "tests.bad_inputs_commands"):
        try:
            cases += __import__(module, fromlist=["CASES"]).CASES
        except ModuleNotFoundError:
            continue
    return cases


CASES = all_cases()


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """The synthetic data set (converted and raw), a trained SASRec and SeeDRecSASRec, and the
    latter's S2IDM artifact: what a user has on disk when a bad input comes."""
    from recbole_seedrec.quick_start import run_recbole_seedrec

    base = tmp_path_factory.mktemp("bad-inputs")
    synthetic = write_default(base / "data", NAME)
    raw = base / "raw"
    raw.mkdir()
    rows = [f"{u}\t{i}\t{int(t)}\n" for u, hist in synthetic["histories"].items() for i, t in hist]
    (raw / "interactions.tsv").write_text("user_id\titem_id\ttimestamp\n" + "".join(rows))
    items = [f"{i}\t{'|'.join(s)}\n" for i, s in synthetic["sememes"].items()]
    (raw / "items.tsv").write_text("item_id\tcategories\n" + "".join(items))
    settings = {
        **SYNTHETIC,
        "data_path": str(synthetic["root"]),
        "checkpoint_dir": str(base / "saved"),
    }
    files = {
        model: run_recbole_seedrec(model, NAME, config_dict=settings, cmd_args=[])["model_file"]
        for model in ("SASRec", "SeeDRecSASRec")
    }
    (artifact,) = (base / "saved").glob("SeeDRecSASRec-S2IDM-*.pth")
    settings_file = base / "synthetic.yaml"
    kept = {k: v for k, v in SYNTHETIC.items() if k not in ("state",)}
    settings_file.write_text(yaml.safe_dump({**kept, "checkpoint_dir": str(base / "runs")}))
    return Workspace(
        root=base, data_path=synthetic["root"], name=NAME, raw=raw,
        model_file=Path(files["SASRec"]), seedrec_file=Path(files["SeeDRecSASRec"]),
        s2idm_file=artifact,
        extra={"histories": synthetic["histories"], "sememes": synthetic["sememes"],
               "settings": settings_file},
    )  # fmt: skip


def earlier_outputs(ws):
    """What a bad input must never change, whatever the case."""
    data = sorted((ws.data_path / ws.name).glob("*")) + sorted(ws.raw.glob("*"))
    return [*data, ws.model_file, ws.seedrec_file, ws.s2idm_file]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_one_clear_error(case, workspace, tmp_path, capsys):
    ws = Workspace(**{**workspace.__dict__, "root": tmp_path})
    case.setup(ws)
    protected = [*earlier_outputs(workspace), *case.unchanged(ws)]
    before = {path: digest(path) for path in protected}
    code = run_command(case.command, case.argv(ws))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == case.code, err[-2000:]
    assert len(errors) == 1, err[-2000:]
    assert case.message in errors[0], errors[0]
    assert {path: digest(path) for path in protected} == before
