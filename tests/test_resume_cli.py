"""``--resume_checkpoint``: a run killed for real (SIGKILL) goes on from its checkpoint, in the
S2IDM stage or in the second one, from the command line."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.seedrec_data import NAME, SYNTHETIC, write_default


@pytest.fixture()
def run_files(tmp_path):
    synthetic = write_default(tmp_path / "data", NAME)
    settings = {
        **SYNTHETIC, "data_path": str(synthetic["root"]), "checkpoint_dir": str(tmp_path / "saved"),
        "state": "INFO", "epochs": 100000, "stopping_step": 100000, "s2idm_epochs": 3,
    }  # fmt: skip
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return tmp_path


def command(folder, *options):
    return [sys.executable, "-m", "recbole_seedrec", "--model", "SeeDRecSASRec",
            "--dataset", NAME, "--config_files", str(folder / "run.yaml"), *options]  # fmt: skip


def run_until(folder, line, *options, timeout=240):
    """Start a run, SIGKILL it once its log shows ``line``; return the log."""
    log_path = folder / "killed.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log_path, "w", encoding="utf-8") as log:
        child = subprocess.Popen(command(folder, *options), stdout=log, stderr=subprocess.STDOUT,
                                 cwd=folder, env=env)  # fmt: skip
        deadline = time.monotonic() + timeout
        while line not in log_path.read_text(encoding="utf-8"):
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                pytest.fail(f"the run ended or stalled before '{line}':\n{log_path.read_text()}")
            time.sleep(0.2)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    return log_path.read_text(encoding="utf-8")


def checkpoint_in(folder):
    (path,) = [p for p in (folder / "saved").glob("SeeDRecSASRec-*.pth") if "S2IDM" not in p.name]
    return path


def resume(folder, *options):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command(folder, *options), capture_output=True, text=True, cwd=folder, check=False,
                          env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout + done.stderr


def test_a_run_killed_in_the_second_stage_goes_on_without_retraining_s2idm(run_files):
    killed = run_until(run_files, "epoch 4 evaluating")
    assert "S2IDM epoch 0" in killed
    path = checkpoint_in(run_files)
    log = resume(run_files, "--epochs=8", f"--resume_checkpoint={path}")
    started = [line for line in log.splitlines() if "Resume training from epoch" in line]
    assert started and int(started[0].rsplit(" ", 1)[1]) >= 1
    assert "S2IDM epoch" not in log  # the frozen S2IDM came with the checkpoint
    assert "epoch 0 training" not in log and "test result" in log


def test_a_run_killed_in_the_s2idm_stage_goes_on_from_its_best_s2idm_epoch(run_files):
    options = ("--s2idm_epochs=100000", "--s2idm_stopping_step=100000")
    run_until(run_files, "S2IDM epoch 3 ", *options)
    path = checkpoint_in(run_files)
    log = resume(run_files, "--epochs=1", "--s2idm_epochs=6", f"--resume_checkpoint={path}")
    assert "Resume training from epoch 0" in log
    assert "S2IDM epoch 0 " not in log and "S2IDM before epoch " in log
    assert "test result" in log


def test_a_checkpoint_of_another_model_is_refused(run_files):
    run_until(run_files, "epoch 1 evaluating")
    path = checkpoint_in(run_files)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    other = [*command(run_files, f"--resume_checkpoint={path}")]
    other[other.index("SeeDRecSASRec")] = "SASRec"
    done = subprocess.run(
        other, capture_output=True, text=True, cwd=run_files, env=env, check=False
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is a checkpoint of model SeeDRecSASRec, not of SASRec" in done.stderr
    assert Path(path).is_file()
