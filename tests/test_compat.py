"""Each RecBole 1.2.1 shim is needed: the same call fails once the shim is taken away."""

import pickle
import subprocess
import sys

import pytest
import torch
from recbole.data import create_dataset, data_preparation
from recbole.evaluator.collector import Collector

import recbole_seedrec  # noqa: F401  (applies the shims)
from recbole_seedrec.compat import quiet_known_warnings
from recbole_seedrec.config import Config
from recbole_seedrec.quick_start import build_model_and_trainer
from tests.conftest import REDUCED_SEQUENTIAL


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    config = Config(
        "SASRec",
        "ml-100k",
        config_dict={**REDUCED_SEQUENTIAL, "checkpoint_dir": str(tmp_path_factory.mktemp("ck"))},
        cmd_args=[],
    )
    train_data, _, _ = data_preparation(config, create_dataset(config))
    return build_model_and_trainer(config, train_data)[1]


def test_checkpoint_reload_needs_shim(trainer, monkeypatch):
    import recbole.trainer.trainer as recbole_trainer

    trainer._save_checkpoint(0, verbose=False)
    trainer.resume_checkpoint(trainer.saved_model_file)  # the shimmed path works
    assert trainer.start_epoch == 1

    monkeypatch.setattr(recbole_trainer, "torch", torch)  # RecBole as shipped
    with pytest.raises(pickle.UnpicklingError):
        trainer.resume_checkpoint(trainer.saved_model_file)


def test_numpy_aliases_set_on_import_not_only_on_config_build():
    probe = "import numpy as np; {imports}; print(hasattr(np, 'float') and np.float is np.float_)"
    without = probe.format(imports="import recbole.evaluator, recbole.trainer")
    with_shim = probe.format(imports="import recbole_seedrec")
    run = [sys.executable, "-W", "ignore", "-c"]
    assert (
        subprocess.run(run + [without], capture_output=True, text=True, check=False).stdout.strip()
        == "False"
    )
    assert (
        subprocess.run(
            run + [with_shim], capture_output=True, text=True, check=False
        ).stdout.strip()
        == "True"
    )


def test_collector_keeps_int_entries(trainer):
    collector = Collector(trainer.config)
    collector.data_struct.set("data.num_items", 1683)
    collector.data_struct.set("rec.topk", torch.zeros(2, 3))
    struct = collector.get_data_struct()
    assert struct.get("data.num_items") == 1683
    assert "rec.topk" in struct and "rec.topk" not in collector.data_struct  # reset as RecBole does
    assert collector.data_struct.get("data.num_items") == 1683

    with pytest.raises(AttributeError, match="cpu"):
        Collector.get_data_struct.__wrapped__(collector)


def test_recbole_leaves_anomaly_detection_on_unless_shimmed():
    probe = "import torch; {imports}; print(torch.is_anomaly_enabled())"
    without = probe.format(imports="import recbole.model.sequential_recommender")
    with_shim = probe.format(
        imports="import recbole_seedrec; from recbole_seedrec import get_model"
    )
    with_shim += "; get_model('SINE'); print(torch.is_anomaly_enabled())"
    run = [sys.executable, "-W", "ignore", "-c"]
    done = subprocess.run(run + [without], capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["True"]
    done = subprocess.run(run + [with_shim], capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["False", "False"]


def test_only_recbole_s_known_future_warnings_are_hidden():
    import warnings

    gradscaler = "`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use ..."
    chained = "A value is trying to be set on a copy of a DataFrame or Series through chained "
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()  # not pytest's filters (they ignore every FutureWarning)...
        quiet_known_warnings()  # ...only the package's
        warnings.warn_explicit(gradscaler, FutureWarning, "t.py", 1, "recbole.trainer.trainer")
        warnings.warn_explicit(chained, FutureWarning, "d.py", 1, "recbole.data.dataset.dataset")
        agg = "using <built-in function len> in Series.agg cannot aggregate and has been ..."
        warnings.warn_explicit(agg, FutureWarning, "d.py", 2, "recbole.data.dataset.dataset")
        warnings.warn_explicit(gradscaler, FutureWarning, "m.py", 1, "my_project.train")
    assert [(str(w.message), w.filename) for w in caught] == [(gradscaler, "m.py")]


def test_two_runs_creating_one_log_folder_at_once_both_go_on(tmp_path, monkeypatch):
    """The race: both see no folder, both create it. RecBole's own ensure_dir fails the second."""
    from recbole.utils import logger, utils

    folder = tmp_path / "log"
    folder.mkdir()  # made by the other run between this run's check and its makedirs
    monkeypatch.setattr(utils.os.path, "exists", lambda path: False)
    with pytest.raises(FileExistsError):
        logger.ensure_dir.__wrapped__(str(folder))
    logger.ensure_dir(str(folder))
    assert folder.is_dir()
