"""compare.py's epoch-level resume: a run stopped after an epoch goes on from the next one and
computes what the uninterrupted run computes."""

import json

import pytest
import torch
from comparison import cli, resume, runner, schedule
from comparison.plan import make_plan
from comparison.resume import EpochResume, resumable_epoch

from tests import test_compare

tiny = test_compare.tiny  # the same module-scoped data set and config
EPOCHS = ["--epochs=4", "--stopping_step=10"]


def _command(tiny, out, model):
    return test_compare._command(tiny, out, "--models", model, "--seeds", "1", *EPOCHS)


def _spec(command):
    args, overrides = cli.build_parser().parse_known_args(command)
    plan = make_plan(args, overrides)
    return plan, plan.spec(plan.models[0], plan.seeds[0])


def _stop_after_epoch(monkeypatch, stop_epoch):
    real_save = EpochResume.save

    def save_then_stop(self, epoch_idx):
        real_save(self, epoch_idx)
        if epoch_idx == stop_epoch:
            raise KeyboardInterrupt("stopped by the test")

    monkeypatch.setattr(EpochResume, "save", save_then_stop)


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def _stopped_after_epoch_1(spec, monkeypatch):
    """The first segment of a run, stopped after epoch 1 as a killed process would be."""
    _stop_after_epoch(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        runner.train_and_evaluate(spec)
    monkeypatch.undo()
    assert resumable_epoch(spec) == 1


@pytest.mark.parametrize("model", ["SASRec", "SeeDRecSASRec"])
def test_a_resumed_run_computes_what_the_uninterrupted_run_computes(
    tiny, tmp_path, monkeypatch, model
):
    # One process for all segments: a float kernel may differ between processes, not resumes.
    _, straight = _spec(_command(tiny, tmp_path / "straight", model))
    expected = runner.train_and_evaluate(straight)
    _, spec = _spec(_command(tiny, tmp_path / "stopped", model))
    _stopped_after_epoch_1(spec, monkeypatch)
    result = runner.train_and_evaluate(spec)

    assert result["train_loss"] == expected["train_loss"] and len(result["train_loss"]) == 4
    assert result["valid"] == expected["valid"] and result["test"] == expected["test"]
    assert result["best_epoch"] == expected["best_epoch"] and result["epochs_run"] == 4
    assert result["resumed"]["after_epoch"] == 1 and result["resumed"]["segments"] == 1
    assert result["fit_s"] > result["resumed"]["fit_s"] > 0
    assert len(result["train_epoch_s"]) == 4
    best, best_expected = _weights(result["model_file"]), _weights(expected["model_file"])
    assert all(torch.equal(best[k], best_expected[k]) for k in best_expected)
    assert resumable_epoch(spec) is None  # a finished run leaves no state to resume


def test_the_command_resumes_a_stopped_run_with_its_earlier_segment(
    tiny, tmp_path, monkeypatch, capsys
):
    command = _command(tiny, tmp_path, "SASRec")
    plan, spec = _spec(command)
    _stopped_after_epoch_1(spec, monkeypatch)
    log = plan.layout.work_dir("SASRec", 2020) / "output.log"
    log.write_text("first segment\n")
    capsys.readouterr()

    assert cli.main([*command, "--dry-run"]) == 0
    assert "SASRec seed 2020: to run (resumes after epoch 1)" in capsys.readouterr().out

    def killed(spec, work_dir, keep_checkpoints=False):
        raise runner.RunFailed("exit -15: killed", 1.0, log)

    monkeypatch.setattr(schedule, "launch", killed)
    assert cli.main(command) == 1
    assert "its state after epoch 1 is kept: rerun to resume" in capsys.readouterr().out
    monkeypatch.undo()
    assert cli.main(command) == 0
    assert "running, resuming after epoch 1" in capsys.readouterr().out
    record = json.loads(plan.layout.record("SASRec", 2020).read_text())
    assert record["resumed"]["after_epoch"] == 1 and record["epochs_run"] == 4
    assert len(record["train_loss"]) == len(record["train_epoch_s"]) == 4
    assert record["wall_s"] > record["resumed"]["wall_s"] > 0
    assert record["peak_rss_mib"] >= record["resumed"]["peak_rss_mib"] > 50
    assert log.read_text().startswith("first segment\n")  # the log goes on, not over
    assert not (resume.saved_dir(spec)).exists()  # checkpoints not kept: the state went too


def test_a_saved_state_of_other_settings_is_not_resumed(tiny, tmp_path):
    _, spec = _spec(_command(tiny, tmp_path, "SASRec"))
    folder = resume.saved_dir(spec)
    folder.mkdir(parents=True)
    (folder / resume.STATE).write_bytes(b"state")
    summary = {"epoch": 2, "identity": resume.identity(spec)}
    (folder / resume.SUMMARY).write_text(json.dumps(summary))
    assert resumable_epoch(spec) == 2
    assert resumable_epoch({**spec, "threads": 7, "few_shot_max_sememes": 3}) == 2
    assert resumable_epoch({**spec, "overrides": ["--epochs=5"]}) is None
    assert resumable_epoch({**spec, "seed": 2021}) is None
    edited = tmp_path / "edited.yaml"
    edited.write_text(tiny["config"].read_text() + "learning_rate: 0.5\n")
    assert resumable_epoch({**spec, "config_files": [str(edited)]}) is None  # by content
    (folder / resume.STATE).unlink()
    assert resumable_epoch(spec) is None  # the summary alone is not a state
