"""One trial: train with the sampled options, report validation every epoch, test once."""

import logging
import os
from dataclasses import dataclass, field
from logging import getLogger

import ray
import torch
from ray.air import session
from recbole.utils import init_logger

from recbole_seedrec.config import Config
from recbole_seedrec.run import build_run, evaluate_on_test, fit_run
from recbole_seedrec.tune.sharing import shared_s2idm, trains_s2idm

# Keys of the results a trial reports, besides the validation metric under its own name.
BEST_VALID = "best_valid"
EPOCHS_RUN = "epochs_run"
FINISHED = "finished"
MODEL_FILE = "model_file"
S2IDM_PATH = "s2idm_path"
VALID_PREFIX = "valid/"
TEST_PREFIX = "test/"


@dataclass(frozen=True)
class TrialSetup:
    """What every trial shares; plain data, so that it is saved with the search for resuming.

    Paths are absolute: Ray runs each trial in its own directory.
    """

    model: str
    dataset: str
    metric: str  # the validation metric, lower case, as RecBole names it in results
    config_files: tuple = ()
    fixed: dict = field(default_factory=dict)  # --key=value overrides and resolved paths
    share_dir: str = None  # where shared S2IDM artifacts go; None: each trial trains its own
    threads: int = 1


def run_trial(params, setup):
    """Ray Tune's function trainable: one RecBole run, whose validation score the scheduler
    sees after every evaluation, and whose test metrics are computed once, at its end."""
    torch.set_num_threads(max(1, setup.threads))
    config = trial_config(params, setup, session.get_trial_dir())

    shared = {}  # the S2IDM this trial shares with the others, if any

    def share_s2idm(config, train_data):
        if setup.share_dir and trains_s2idm(config.model_class, config):
            shared[S2IDM_PATH] = shared_s2idm(config, train_data, setup.share_dir)
            config["s2idm_path"] = shared[S2IDM_PATH]

    run = build_run(config, init_logging=_log_to_trial_dir, before_model=share_s2idm)
    trainer = run.trainer
    getLogger().info(run.model)

    epochs_run = 0

    def report_epoch(epoch_idx, valid_score):
        nonlocal epochs_run
        epochs_run = epoch_idx + 1
        session.report(
            {
                setup.metric: float(valid_score),
                BEST_VALID: float(trainer.best_valid_score),
                EPOCHS_RUN: epochs_run,
                MODEL_FILE: trainer.saved_model_file,  # its best epoch so far, if stopped
            }
        )

    best_score, best_result = fit_run(run, saved=True, callback_fn=report_epoch)
    test_result, _ = evaluate_on_test(run, load_best_model=True)
    final = {
        # The best validation score again, so that this last report ranks like the others.
        setup.metric: float(best_score),
        BEST_VALID: float(best_score),
        EPOCHS_RUN: epochs_run or config["epochs"],
        FINISHED: True,
        MODEL_FILE: trainer.saved_model_file,
        **{VALID_PREFIX + key: _number(value) for key, value in (best_result or {}).items()},
        **{TEST_PREFIX + key: _number(value) for key, value in (test_result or {}).items()},
    }
    session.report({**final, **shared})


def _number(value):
    """RecBole's value as printed: a float32 GAUC of 0.3701 stays 0.3701, not 0.37009999."""
    return float(str(value))


def trial_config(params, setup, trial_dir):
    """The run's Config: fixed options, then the sampled ones, then the tuner's own."""
    own = {
        "checkpoint_dir": os.path.join(trial_dir, "checkpoints"),
        "show_progress": False,
        # RecBole points CUDA_VISIBLE_DEVICES at gpu_id; Ray already set it to this trial's
        # GPUs ("" for none), and the default '0' would put every trial on the first GPU.
        "gpu_id": ",".join(str(gpu) for gpu in ray.get_gpu_ids()),
    }
    config_dict = {**setup.fixed, **params, **own}
    files = list(setup.config_files) or None
    return Config(setup.model, setup.dataset, files, config_dict, cmd_args=[])


def _log_to_trial_dir(config):
    """RecBole's log file (./log/ is in the trial's directory) keeps everything; only its
    warnings reach the terminal, where Ray's trial table is. Python warnings (pandas' and
    torch's FutureWarnings about RecBole's code, once per trial) go to the file only."""
    root = logging.getLogger()
    for handler in list(root.handlers):  # a reused worker still holds the last trial's
        root.removeHandler(handler)
        handler.close()
    init_logger(config)
    logging.captureWarnings(True)
    for handler in root.handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.WARNING)
            handler.addFilter(_not_python_warnings)


def _not_python_warnings(record):
    return record.name != "py.warnings"
