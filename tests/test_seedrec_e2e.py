"""Every SeeDRec variant through the README's entry point on ml-100k, and sampled evaluation
of a SeeDRec model by the fast path against RecBole's own."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from recbole.data import data_preparation
from recbole.trainer import Trainer
from recbole.utils import init_seed

from recbole_seedrec.config import Config
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.registry import get_model
from recbole_seedrec.trainer import SafeCheckpointMixin, SeeDRecTrainer
from tests.conftest import REDUCED_SEQUENTIAL, REPO, result_line
from tests.seedrec_data import VARIANTS

REDUCED_SEEDREC = {
    **REDUCED_SEQUENTIAL,
    "embedding_size": 16,  # GRU4Rec
    "s2idm_hidden_dims": [32],
    "s2idm_epochs": 2,
    "s2idm_learning_rate": 1e-3,
    "user_inter_num_interval": "[0,40]",  # ~300 users of ml-100k
    # Genres only; without this the word pipeline loads WordNet (~17 s) for movie_title even
    # though it is not a sememe field (see test_word_pipeline_is_built_only_for_...).
    "SEMEME_WORD_FIELDS": [],
}
EVAL_SEED = 7
StockTrainer = type("T", (SafeCheckpointMixin, Trainer), {})


@pytest.mark.parametrize("model_name", VARIANTS)
def test_variant_runs_through_the_readme_entry_point(tmp_path, model_name):
    config_file = tmp_path / "reduced.yaml"
    config_file.write_text(
        yaml.safe_dump({**REDUCED_SEEDREC, "checkpoint_dir": str(tmp_path / "saved")})
    )
    command = [
        sys.executable, str(REPO / "run_recbole_seedrec.py"), "--model", model_name,
        "--dataset", "ml-100k", "--config_files", str(config_file),
    ]  # fmt: skip
    # One thread: on a busy 2-core machine, more make a tiny model several times slower.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    result = result_line(output, "test result")
    # the README's command: RecBole's protocol, as for any model run the same way
    assert set(result) == {"recall@10", "mrr@10", "ndcg@10", "hit@10", "precision@10"}
    assert all(math.isfinite(value) and 0 <= value <= 1 for value in result.values())
    assert "protocol: recbole (leave-one-out in time order, full ranking;" in output
    artifacts = list((tmp_path / "saved").glob(f"{model_name}-S2IDM-*.pth"))
    assert len(artifacts) == int(get_model(model_name).uses_s2idm)


# ----- sampled evaluation: fast path == RecBole's path ---------------------------------------
SAMPLED = {**REDUCED_SEEDREC, "protocol": "paper", "eval_args": {"mode": "uni100"}}


@pytest.fixture(scope="module")
def ml100k():
    config = Config("SeeDRecSASRec", "ml-100k", config_dict=SAMPLED, cmd_args=[])
    init_seed(config["seed"], config["reproducibility"])
    train, valid, test = data_preparation(config, create_dataset(config))
    return {"train": train, "valid": valid, "test": test}


@pytest.mark.parametrize(
    ("model_name", "loss_type"), [("SeeDRecSASRec", "CE"), ("SeeDRecCL4SRec", "BCE")]
)
def test_sampled_metrics_equal_recbole_stock_path(
    tmp_path, ml100k, model_name, loss_type, monkeypatch
):
    settings = {**SAMPLED, "loss_type": loss_type, "checkpoint_dir": str(tmp_path)}
    config = Config(model_name, "ml-100k", config_dict=settings, cmd_args=[])
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(model_name)(config, ml100k["train"]._dataset)
    fast = SeeDRecTrainer(config, model)
    if loss_type == "CE":  # one real epoch (both stages); BCE: S2IDM as initialised
        fast.fit(ml100k["train"], None, verbose=False, saved=False)
    else:
        model.freeze_s2idm()
    stock = StockTrainer(config, model)
    pair_scores = model.predict
    calls = []
    monkeypatch.setattr(model, "predict", lambda rows: calls.append(len(rows)) or pair_scores(rows))
    for phase in ("valid", "test"):
        np.random.seed(EVAL_SEED)  # the loader draws its negatives anew on every pass
        expected = stock.evaluate(ml100k[phase], load_best_model=False)
        assert calls, "RecBole's path scores every candidate row with predict"
        calls.clear()
        np.random.seed(EVAL_SEED)
        got = fast.evaluate(ml100k[phase], load_best_model=False)
        assert calls == []  # the fast path: one full_sort_predict per evaluated row
        assert dict(got) == dict(expected)
        assert {"ndcg@10", "hit@10", "gauc"} <= set(got)
