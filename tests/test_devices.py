"""The device-sensitive paths of a SeeDRec run, on the CPU and, where there is one, on a GPU:
the S2IDM stage, the interest cache, the prompts, sampled evaluation, and a checkpoint reloaded
on a machine without a GPU. The ``cuda`` cases skip without one (tests/conftest.py)."""

import math

import pytest
import torch
from recbole.utils import init_seed

from recbole_seedrec import build_model_and_trainer, get_trainer, load_data_and_model
from tests.seedrec_data import NAME, build_data, make_config

DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=pytest.mark.cuda)]
SAMPLED = {
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "uni10"},
    "metrics": ["NDCG", "Hit", "GAUC"],
    "valid_metric": "NDCG@10",
    "epochs": 2,
}


def _evaluate(trainer, test_data, seed, load_best_model):
    init_seed(seed, True)  # the same sampled negatives on every call
    return dict(trainer.evaluate(test_data, load_best_model=load_best_model))


@pytest.mark.parametrize("device", DEVICES)
def test_a_seedrec_run_on(device, synthetic, tmp_path, monkeypatch):
    config = make_config(
        "SeeDRecSASRec", synthetic["root"], NAME, use_gpu=device == "cuda",
        checkpoint_dir=str(tmp_path), **SAMPLED,
    )  # fmt: skip
    assert config["device"].type == device
    data = build_data(config)
    model, trainer = build_model_and_trainer(config, data["train"])
    trainer.fit(data["train"], data["valid"], verbose=False, saved=True)

    # S2IDM trained on the device, then frozen; its interests cached once, in CPU memory
    assert bool(model.s2idm_ready)
    assert {p.device.type for p in model.parameters()} == {device}
    assert model._interest_cache.values.device.type == "cpu"
    batch = next(iter(data["train"])).to(config["device"])
    prompts = model.prompts(batch)
    assert prompts.device.type == device and torch.isfinite(prompts).all()

    result = _evaluate(trainer, data["test"], config["seed"], load_best_model=True)
    assert set(result) >= {"ndcg@10", "hit@10", "gauc"}
    assert all(math.isfinite(value) for value in result.values())

    # the checkpoint on a machine without a GPU: the model comes back on the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    reloaded, model_again, _, train_again, _, test_again = load_data_and_model(
        trainer.saved_model_file
    )
    assert reloaded["device"].type == "cpu"
    assert {p.device.type for p in model_again.parameters()} == {"cpu"}
    again = get_trainer(reloaded["MODEL_TYPE"], reloaded["model"])(reloaded, model_again)
    again.eval_collector.data_collect(train_again)
    same = _evaluate(again, test_again, config["seed"], load_best_model=False)
    assert same == pytest.approx(result, abs=1e-4)  # float rounding differs across devices
