"""The README's ways in: the script, the console command and the Python functions."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from recbole.data import create_dataset, data_preparation

from recbole_seedrec.cli.main import main
from recbole_seedrec.config import Config
from recbole_seedrec.quick_start import build_model_and_trainer
from tests.conftest import REDUCED_SEQUENTIAL, REPO, result_line

METRICS = ["NDCG", "Hit", "ItemCoverage", "GiniIndex"]  # the last two need the collector shim


def test_cli_rejects_arguments_that_are_not_overrides(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--model", "SASRec", "stray", "--epochs=1"])
    assert stop.value.code == 2
    assert "--key=value" in capsys.readouterr().err


def test_cli_reports_user_errors_in_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--model", "SASrec", "--dataset", "ml-100k"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: --model SASrec: Unknown model 'SASrec'")
    assert "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["--model", "SASRec", "--config_files", "no-such.yaml"])
    assert "--config_files: no such file: no-such.yaml" in capsys.readouterr().err


def test_console_script_is_installed():
    done = subprocess.run(
        ["recbole-seedrec", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "--config_files" in done.stdout


def test_checkpoint_names_are_unique_and_saves_atomic(tmp_path):
    settings = {**REDUCED_SEQUENTIAL, "checkpoint_dir": str(tmp_path)}
    config = Config("SASRec", "ml-100k", config_dict=settings, cmd_args=[])
    train_data, _, _ = data_preparation(config, create_dataset(config))
    trainers = [build_model_and_trainer(config, train_data)[1] for _ in range(3)]
    names = {trainer.saved_model_file for trainer in trainers}
    assert len(names) == 3 and all(name.startswith(str(tmp_path)) for name in names)
    trainers[0]._save_checkpoint(0, verbose=False)
    assert [p.name for p in tmp_path.iterdir()] == [trainers[0].saved_model_file.split("/")[-1]]
    state = torch.load(trainers[0].saved_model_file, weights_only=False)
    assert state["epoch"] == 0 and "state_dict" in state


@pytest.fixture(scope="module")
def script_run(tmp_path_factory):
    """One reduced SASRec run through run_recbole_seedrec.py, as the README runs it."""
    workdir = tmp_path_factory.mktemp("script_run")
    config_file = workdir / "reduced.yaml"
    config_file.write_text(yaml.safe_dump(REDUCED_SEQUENTIAL))
    command = [
        sys.executable,
        str(REPO / "run_recbole_seedrec.py"),
        "--model",
        "SASRec",
        "--dataset",
        "ml-100k",
        "--config_files",
        str(config_file),
        f"--checkpoint_dir={workdir / 'ck'}",
        f"--metrics={METRICS}",
        "--valid_metric=NDCG@10",
    ]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir, done.stdout + done.stderr


def test_script_trains_selects_on_validation_and_tests(script_run):
    workdir, output = script_run
    test_result = result_line(output, "test result")
    assert set(test_result) == {"ndcg@10", "hit@10", "itemcoverage@10", "giniindex@10"}
    assert 0 < test_result["hit@10"] <= 1 and 0 < test_result["itemcoverage@10"] <= 1
    assert (workdir / "log").is_dir()  # RecBole's place for logs, under the working directory
    checkpoints = list((workdir / "ck").iterdir())
    assert len(checkpoints) == 1 and checkpoints[0].name.startswith("SASRec-")


def test_checkpoint_reloads_in_a_fresh_process_with_same_metrics(script_run):
    """load_data_and_model + evaluate in a new interpreter: needs all three shims."""
    workdir, output = script_run
    checkpoint = next((workdir / "ck").iterdir())
    probe = (
        "import json, recbole_seedrec\n"
        "from recbole_seedrec import load_data_and_model, get_trainer\n"
        f"config, model, _, train, _, test_data = load_data_and_model({str(checkpoint)!r})\n"
        "trainer = get_trainer(config['MODEL_TYPE'], config['model'])(config, model)\n"
        "trainer.eval_collector.data_collect(train)  # coverage metrics count the catalogue\n"
        "result = trainer.evaluate(test_data, load_best_model=False)\n"
        "print('RESULT', json.dumps(dict(result)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reloaded = json.loads(done.stdout.split("RESULT", 1)[1])
    assert reloaded == result_line(output, "test result")


def test_load_data_and_model_names_a_missing_file(tmp_path):
    from recbole_seedrec import load_data_and_model
    from recbole_seedrec.errors import UserError

    with pytest.raises(UserError, match="nope.pth: does not exist.*checkpoint_dir"):
        load_data_and_model(str(tmp_path / "nope.pth"))


def test_checked_checkpoint_loader_says_what_a_file_is(tmp_path):
    """One line naming the file: missing, a folder, empty, not torch's, cut short, an S2IDM
    artifact, another torch file; a checkpoint loads."""
    from recbole_seedrec.compat import load_checkpoint_file
    from recbole_seedrec.errors import UserError

    checkpoint = tmp_path / "model.pth"
    torch.save({"config": {"model": "SASRec"}, "state_dict": {"w": torch.ones(2)}}, checkpoint)
    assert load_checkpoint_file(checkpoint)["config"] == {"model": "SASRec"}
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("best model\n")
    (tmp_path / "cut.pth").write_bytes(checkpoint.read_bytes()[:600])
    torch.save({"hyperparameters": {}, "state_dict": {}, "vocabulary": []}, tmp_path / "s.pth")
    torch.save({"epoch": 3}, tmp_path / "other.pth")
    expected = {
        "none.pth": "does not exist. Give the .pth a run wrote to checkpoint_dir",
        "": "is a folder, not a model checkpoint",
        "empty.pth": "is empty",
        "notes.txt": "is not a file torch.save wrote, so not a model checkpoint",
        "cut.pth": "is truncated or damaged: torch cannot read its archive",
        "s.pth": "is an S2IDM artifact, not a model checkpoint. Give it to a SeeDRec run as "
        f"--s2idm_path={tmp_path / 's.pth'}.",
        "other.pth": "is not a model checkpoint (it holds a dict of ['epoch']",
    }
    for name, what in expected.items():
        path = tmp_path / name if name else tmp_path
        with pytest.raises(UserError) as error:
            load_checkpoint_file(path)
        assert str(error.value).startswith(f"{path}: {what}") and "\n" not in str(error.value)


@pytest.fixture(scope="module")
def seedrec_checkpoint(synthetic, tmp_path_factory):
    """A SeeDRecSASRec of the synthetic data, under the paper's protocol: its metrics include
    GAUC (a numpy float32)."""
    from recbole_seedrec.quick_start import run_recbole_seedrec
    from tests.seedrec_data import SYNTHETIC

    saved = tmp_path_factory.mktemp("saved")
    settings = {
        **SYNTHETIC, "protocol": "paper", "data_path": str(synthetic["root"]),
        "checkpoint_dir": str(saved),
    }  # fmt: skip
    run = run_recbole_seedrec("SeeDRecSASRec", synthetic["name"], config_dict=settings, cmd_args=[])
    return run["model_file"]


def test_evaluate_writes_plain_json_and_replaces_a_file_only_with_force(
    seedrec_checkpoint, tmp_path, capsys
):
    out = tmp_path / "result.json"
    assert main(["evaluate", "--model-file", seedrec_checkpoint, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert isinstance(written["test_result"]["gauc"], float)
    assert f"gauc {written['test_result']['gauc']:.4f}" in printed
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary file left

    out.write_text("earlier\n")
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--model-file", seedrec_checkpoint, "--json", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and out.read_text() == "earlier\n"
    assert (
        err == f"error: --json {out}: exists. Give --force to replace it, or another file name.\n"
    )
    assert (
        main(["evaluate", "--model-file", seedrec_checkpoint, "--json", str(out), "--force"]) == 0
    )
    assert json.loads(out.read_text()) == written
    capsys.readouterr()


def test_evaluate_usage_mistakes_are_one_line(seedrec_checkpoint, tmp_path, capsys):
    def fails(*args):
        with pytest.raises(SystemExit) as stop:
            main(["evaluate", *args])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")
        return err

    assert "the following arguments are required: --model-file" in fails()
    missing = tmp_path / "results" / "r.json"
    err = fails("--model-file", seedrec_checkpoint, "--json", str(missing))
    assert err.startswith(f"error: --json {missing}: its folder does not exist. ")
    err = fails("--model-file", seedrec_checkpoint, "--json", str(tmp_path))
    assert err.startswith(f"error: --json {tmp_path}: is a folder. ")
    artifact = next(Path(seedrec_checkpoint).parent.glob("SeeDRecSASRec-S2IDM-*.pth"))
    err = fails("--model-file", str(artifact))
    assert err.startswith(f"error: {artifact}: is an S2IDM artifact, not a model checkpoint.")
    assert not list(tmp_path.iterdir())
