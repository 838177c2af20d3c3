"""What a run changes or keeps without failing is said in its log: negatives drawn with
replacement, and an S2IDM stage in which no epoch beat the weights it started from."""

import logging

import torch
from recbole.utils import init_seed

from recbole_seedrec.data.candidates import data_preparation
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.model.seedrec.s2idm import S2IDM
from recbole_seedrec.trainer.s2idm_stage import fit_s2idm
from tests.seedrec_data import NAME, make_config


def test_more_sampled_negatives_than_items_are_reported(synthetic, caplog):
    config = make_config(
        "SASRec", synthetic["root"], NAME,
        eval_args={"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "uni20"},
    )  # fmt: skip
    init_seed(config["seed"], config["reproducibility"])
    with caplog.at_level(logging.WARNING):
        data_preparation(config, create_dataset(config))
    lines = [r.message for r in caplog.records if "repeats items" in r.message]
    assert len(lines) == 2 and "20 negatives per target" in lines[0]  # valid and test
    assert "only 14 other items" in lines[0]  # 15 items but the target


def test_an_s2idm_stage_that_never_improves_says_it_kept_its_start(synthetic):
    config = make_config(
        "SeeDRecSASRec", synthetic["root"], NAME, s2idm_learning_rate=1e-30, s2idm_epochs=2,
        s2idm_stopping_step=5,
    )  # fmt: skip
    torch.manual_seed(0)
    s2idm = S2IDM(q=6, hidden_dims=[8], time_emb_dim=4, dropout=0.0, steps=5)
    lines = []
    fit_s2idm(s2idm, torch.rand(40, 6), config, "cpu", log=lines.append)
    assert lines[0].startswith("S2IDM before epoch 0: held-out loss")
    assert "no epoch beat the held-out loss of the weights it started from" in lines[-1]
    last_epoch = lines[-2].rsplit("held-out loss: ", 1)[1].split("]")[0]
    assert f"the last epoch's weights are kept (held-out loss {last_epoch})" in lines[-1]


def test_a_resumed_s2idm_stage_with_no_epoch_left_keeps_its_weights(synthetic):
    """A run killed after the S2IDM stage's last epoch was saved resumes with nothing to train."""
    config = make_config("SeeDRecSASRec", synthetic["root"], NAME, s2idm_epochs=3)
    torch.manual_seed(0)
    s2idm = S2IDM(q=6, hidden_dims=[8], time_emb_dim=4, dropout=0.0, steps=5)
    before = {name: value.clone() for name, value in s2idm.state_dict().items()}
    lines = []
    fit_s2idm(s2idm, torch.rand(40, 6), config, "cpu", first_epoch=3, log=lines.append)
    assert lines[-1].startswith("S2IDM: no epoch left to run (resumed at epoch 3 of 3)")
    assert all(torch.equal(before[name], value) for name, value in s2idm.state_dict().items())
