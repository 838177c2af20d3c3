"""compare.py's epoch-level resume: a run stopped after an epoch goes on from the next one and
computes what the uninterrupted run computes."""

import json

import pytest
import torch

from benchmarks.comparison import cli, resume, runner
from benchmarks.comparison.plan import make_plan
from benchmarks.comparison.resume import EpochResume, resumable_epoch
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


@pytest.mark.parametrize("model", ["SASRec", "SeeDRecSASRec"])
def test_a_stopped_run_resumes_after_its_last_epoch_exactly(
    tiny, tmp_path, monkeypatch, capsys, model
):
    straight = _command(tiny, tmp_path / "straight", model)
    assert cli.main([*straight, "--keep-checkpoints"]) == 0
    plan, _ = _spec(straight)
    expected = json.loads(plan.layout.record(model, 2020).read_text())

    # The first segment stops after epoch 1, as a killed process would: the state is on disk.
    stopped = _command(tiny, tmp_path / "stopped", model)
    plan, spec = _spec(stopped)
    _stop_after_epoch(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        runner.train_and_evaluate(spec)
    monkeypatch.undo()
    assert resumable_epoch(spec) == 1
    log = plan.layout.work_dir(model, 2020) / "output.log"
    log.write_text("first segment\n")
    capsys.readouterr()

    assert cli.main([*stopped, "--keep-checkpoints"]) == 0
    assert "running, resuming after epoch 1" in capsys.readouterr().out
    record = json.loads(plan.layout.record(model, 2020).read_text())
    assert record["train_loss"] == expected["train_loss"] and len(record["train_loss"]) == 4
    assert record["valid"] == expected["valid"] and record["test"] == expected["test"]
    assert record["best_epoch"] == expected["best_epoch"] and record["epochs_run"] == 4
    assert record["resumed"]["after_epoch"] == 1 and record["resumed"]["segments"] == 1
    assert record["wall_s"] > record["resumed"]["wall_s"] > 0
    assert record["fit_s"] > record["resumed"]["fit_s"] > 0
    assert len(record["train_epoch_s"]) == 4
    best, best_expected = _weights(record["model_file"]), _weights(expected["model_file"])
    assert all(torch.equal(best[k], best_expected[k]) for k in best_expected)
    assert log.read_text().startswith("first segment\n")  # the log goes on, not over
    assert resumable_epoch(spec) is None  # a finished run leaves no state to resume


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
