"""``recbole-seedrec case-study``: the figures, what they are drawn from, and its errors."""

import sys
from pathlib import Path

import pytest
import torch

from recbole_seedrec import run as quick_start  # where load_data_and_model finds prepare_data
from recbole_seedrec.cli.case_study import case_study, distributions, sememe_names
from recbole_seedrec.cli.main import main
from recbole_seedrec.quick_start import load_data_and_model, run_recbole_seedrec
from tests.seedrec_data import SYNTHETIC, time_weighted_vector

pytest.importorskip("matplotlib")  # the `plot` extra; CI installs it with `test`


@pytest.fixture(scope="module")
def checkpoints(synthetic, tmp_path_factory):
    """A SeeDRecSASRec (with S2IDM) and an IPE-only one (without), one epoch each."""
    saved = tmp_path_factory.mktemp("saved")
    settings = {**SYNTHETIC, "data_path": str(synthetic["root"]), "checkpoint_dir": str(saved)}
    return {
        model: run_recbole_seedrec(model, synthetic["name"], config_dict=settings, cmd_args=[])[
            "model_file"
        ]
        for model in ("SeeDRecSASRec", "SeeDRecSASRecIPEOnly")
    }


def test_draws_png_and_svg_for_sampled_and_named_users(checkpoints, tmp_path, capsys):
    code = main(["case-study", "--model-file", checkpoints["SeeDRecSASRec"], "--sample", "2",
                 "--top", "5", "--out-dir", str(tmp_path / "sampled")])  # fmt: skip
    written = capsys.readouterr().out.split()
    assert code == 0 and len(written) == 4
    pngs = sorted((tmp_path / "sampled").glob("case-study-seedsyn-user-*.png"))
    svgs = sorted((tmp_path / "sampled").glob("case-study-seedsyn-user-*.svg"))
    assert len(pngs) == len(svgs) == 2 and not list((tmp_path / "sampled").glob(".*"))
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    for svg in svgs:
        assert "<svg" in svg.read_text()[:1000] and svg.stat().st_size > 5_000

    paths = case_study(checkpoints["SeeDRecSASRec"], tmp_path / "named", users=["u5"], top=3)
    assert [p.name for p in paths] == [
        "case-study-seedsyn-user-u5.png",
        "case-study-seedsyn-user-u5.svg",
    ]


def test_data_path_takes_both_spellings(checkpoints, synthetic, tmp_path, capsys):
    for spelling in ("--data-path", "--data_path"):
        out = tmp_path / spelling
        code = main(["case-study", "--model-file", checkpoints["SeeDRecSASRec"], "--users", "u5",
                     "--out-dir", str(out), f"{spelling}={synthetic['root']}"])  # fmt: skip
        assert code == 0 and len(list(out.glob("*.png"))) == 1
    capsys.readouterr()


def test_distributions_use_only_the_items_before_the_test_item(checkpoints, synthetic):
    _, model, dataset, *_ = load_data_and_model(checkpoints["SeeDRecSASRec"])
    user = dataset.field2token_id["user_id"]["u8"]
    rows = synthetic["histories"]["u8"]
    raw, generalised = distributions(model, user, len(rows) - 1)  # the test item: the last
    vocabulary = model.sememe_table.vocabulary
    expected = time_weighted_vector(rows[:-1], synthetic["sememes"], vocabulary)
    assert torch.allclose(raw.double(), expected, atol=1e-5)
    assert torch.allclose(generalised, model.generalise(raw.unsqueeze(0))[0])
    assert not torch.equal(generalised, raw)  # S2IDM changed it


def test_sememe_names_drop_the_field_prefix_unless_two_fields_share_a_name():
    names = sememe_names(["category:Lipstick", "word:lipstick", "category:red", "word:red"])
    assert names == ["Lipstick", "lipstick", "red (category)", "red (word)"]
    assert sememe_names(["Drama", "Comedy"]) == ["Drama", "Comedy"]


def test_clear_errors(checkpoints, tmp_path, capsys, monkeypatch):
    def fails(*args):
        with pytest.raises(SystemExit) as stop:
            main(["case-study", *args, "--out-dir", str(tmp_path)])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and "Traceback" not in err
        return err

    with monkeypatch.context() as before_the_data:
        before_the_data.setattr(quick_start, "prepare_data", None)  # refused without loading
        err = fails("--model-file", checkpoints["SeeDRecSASRecIPEOnly"])
    assert "SeeDRecSASRecIPEOnly has no S2IDM" in err
    err = fails("--model-file", checkpoints["SeeDRecSASRec"], "--users", "u5,nobody")
    assert "--users: unknown user(s) nobody (test users are e.g. " in err
    assert "--top 0" in fails("--model-file", checkpoints["SeeDRecSASRec"], "--top", "0")
    assert "none.pth: does not exist" in fails("--model-file", str(tmp_path / "none.pth"))
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if not installed
    err = fails("--model-file", checkpoints["SeeDRecSASRec"])
    assert 'pip install "recbole-seedrec[plot]"' in err
    assert not list(tmp_path.iterdir())  # nothing written on any error


def test_files_it_cannot_use_are_named_in_one_line(checkpoints, tmp_path, capsys):
    """An --out-dir that is a file, an S2IDM artifact or a cut-short checkpoint as --model-file:
    one line naming the file, before the data loads; the file is left as it was."""
    model_file = checkpoints["SeeDRecSASRec"]

    def fails(*args):
        with pytest.raises(SystemExit) as stop:
            main(["case-study", *args])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
        return err

    taken = tmp_path / "figures"
    taken.write_text("notes\n")
    err = fails("--model-file", model_file, "--out-dir", str(taken))
    assert err.startswith(f"error: --out-dir {taken}: is a file, not a folder. ")
    assert taken.read_text() == "notes\n"
    err = fails("--model-file", str(tmp_path), "--out-dir", str(tmp_path / "x" / "y"))
    assert "is a folder, not a model checkpoint" in err  # a folder as --model-file
    artifact = next(Path(model_file).parent.glob("SeeDRecSASRec-S2IDM-*.pth"))
    err = fails("--model-file", str(artifact), "--out-dir", str(tmp_path / "out"))
    assert err.startswith(f"error: {artifact}: is an S2IDM artifact, not a model checkpoint. ")
    assert f"--s2idm_path={artifact}" in err
    cut = tmp_path / "cut.pth"
    cut.write_bytes(Path(model_file).read_bytes()[:5000])
    err = fails("--model-file", str(cut), "--out-dir", str(tmp_path / "out"))
    assert err.startswith(f"error: {cut}: is truncated or damaged")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.pth", "figures"]
