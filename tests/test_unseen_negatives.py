"""``eval_negatives: unseen``: distinct sampled negatives, none from the user's interactions."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data import create_dataset
from recbole.model.sequential_recommender import SASRec
from recbole.trainer import Trainer

import recbole_seedrec  # noqa: F401  (runtime shims)
from recbole_seedrec.checkpoint_eval import evaluate_checkpoint
from recbole_seedrec.cli.main import main
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.data.candidates import CANDIDATE_FIELD, data_preparation
from recbole_seedrec.data.unseen_negatives import UnseenNegativeSampler
from recbole_seedrec.quick_start import run_recbole_seedrec
from recbole_seedrec.trainer import CandidateScoringMixin
from tests.conftest import REDUCED_SEQUENTIAL

LEAVE_ONE_OUT = {"split": {"LS": "valid_and_test"}, "order": "TO"}
SETTINGS = {
    **REDUCED_SEQUENTIAL,
    "train_neg_sample_args": None,
    "eval_args": {**LEAVE_ONE_OUT, "mode": "uni100"},
    "metrics": ["NDCG", "Hit", "GAUC"],
    "valid_metric": "NDCG@10",
    "eval_batch_size": 300,  # several batches per pass
}


def build_config(**overrides):
    return Config("SASRec", "ml-100k", config_dict={**SETTINGS, **overrides}, cmd_args=[])


class _Table:
    """The two fields the sampler reads from a RecBole data set."""

    def __init__(self, users, items):
        self.interaction = {"user_id": torch.tensor(users), "item_id": torch.tensor(items)}

    def __getitem__(self, field):
        return self.interaction[field]


class _Dataset:
    uid_field, iid_field = "user_id", "item_id"

    def __init__(self, users, items, n_users, n_items):
        self.inter_feat = _Table(users, items)
        self.user_num, self.item_num = n_users, n_items


def test_draws_are_distinct_unseen_and_repeat_after_reset():
    rng = np.random.default_rng(0)
    users = rng.integers(1, 50, 2000)
    items = rng.integers(1, 300, 2000)
    sampler = UnseenNegativeSampler(_Dataset(users, items, 50, 300), num=200, seed=3)
    seen = {(u, i) for u, i in zip(users, items)}
    batch = np.arange(1, 50)

    def check(negatives):
        assert negatives.shape == (49, 200)
        assert negatives.min() >= 1 and negatives.max() < 300
        assert all(len(set(row)) == 200 for row in negatives)
        assert not any((u, i) in seen for u, row in zip(batch, negatives) for i in row)

    first = sampler.sample(batch)
    check(first)
    assert not np.array_equal(sampler.sample(batch), first)  # the stream moves on
    sampler.reset()
    assert np.array_equal(sampler.sample(batch), first)
    sampler._block_rows = 7  # a large catalogue: the seen-mask is built a few rows at a time
    check(sampler.sample(batch))


def test_draws_are_uniform_over_the_unseen_items():
    """User 1 has seen items 1 and 2 of 1..10: each of the other 8 is drawn 3 / 8 of the time."""
    sampler = UnseenNegativeSampler(_Dataset([1, 1], [1, 2], 2, 11), num=3, seed=0)
    draws = sampler.sample(np.ones(40_000, dtype=np.int64))
    counts = np.bincount(draws.ravel(), minlength=11)
    assert counts[:3].sum() == 0
    expected = 40_000 * 3 / 8
    assert np.abs(counts[3:] - expected).max() < 0.03 * expected


def test_too_few_unseen_items_names_the_options():
    with pytest.raises(ConfigError, match="uniN.*eval_negatives: recbole"):
        UnseenNegativeSampler(_Dataset([1] * 8, list(range(1, 9)), 2, 11), num=3, seed=0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"eval_negatives": "seen"}, "--eval_negatives: 'seen' is not recbole or unseen"),
        ({"eval_negatives": "unseen", "eval_args": {**LEAVE_ONE_OUT, "mode": "full"}}, "full"),
        ({"eval_negatives": "unseen", "eval_args": {**LEAVE_ONE_OUT, "mode": "pop100"}}, "pop100"),
    ],
)
def test_config_refuses_what_cannot_work(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config(**overrides)


@pytest.fixture(scope="module")
def unseen_run():
    config = build_config(eval_negatives="unseen")
    dataset = create_dataset(config)
    return config, dataset, data_preparation(config, dataset)


def test_loader_gives_the_target_then_unseen_negatives(unseen_run):
    _, dataset, (_, valid, test) = unseen_run
    seen = set(zip(dataset.inter_feat["user_id"].tolist(), dataset.inter_feat["item_id"].tolist()))
    for loader in (valid, test):
        passes = [list(loader), list(loader)]
        for (data, *_), (again, *_) in zip(*passes):
            candidates = data[CANDIDATE_FIELD]
            assert torch.equal(candidates, again[CANDIDATE_FIELD])  # every pass alike
            assert torch.equal(candidates[:, 0], data["item_id"])
            negatives = candidates[:, 1:]
            assert negatives.shape[1] == 100
            assert all(len(set(row)) == 100 for row in negatives.tolist())
            users = data["user_id"].tolist()
            assert not any((u, i) in seen for u, row in zip(users, negatives.tolist()) for i in row)
    first_valid, first_test = next(iter(valid))[0], next(iter(test))[0]
    assert not torch.equal(first_valid[CANDIDATE_FIELD][:, 1:], first_test[CANDIDATE_FIELD][:, 1:])


def test_evaluation_reads_the_unseen_candidates(unseen_run):
    """The rank of the target among its own 101 candidates gives the reported Hit@10."""
    config, _, (train, _, test) = unseen_run
    model = SASRec(config, train._dataset).eval()
    trainer = type("T", (CandidateScoringMixin, Trainer), {})(config, model)
    result = trainer.evaluate(test, load_best_model=False)
    hits = []
    with torch.no_grad():
        for data, *_ in test:
            scores = model.full_sort_predict(data).gather(1, data[CANDIDATE_FIELD])
            higher = (scores[:, 1:] > scores[:, :1]).sum(1)
            hits.append(higher < 10)
    assert result["hit@10"] == pytest.approx(torch.cat(hits).float().mean().item(), abs=1e-4)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    saved = tmp_path_factory.mktemp("saved")
    settings = {**SETTINGS, "checkpoint_dir": str(saved)}
    return run_recbole_seedrec("SASRec", "ml-100k", config_dict=settings, cmd_args=[])["model_file"]


def test_evaluate_command_rereads_a_checkpoint_with_unseen_negatives(checkpoint, capsys):
    unseen = evaluate_checkpoint(checkpoint, {"eval_negatives": "unseen"})
    assert evaluate_checkpoint(checkpoint, {"eval_negatives": "unseen"}) == unseen
    assert unseen["test_result"] != evaluate_checkpoint(checkpoint)["test_result"]
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--model-file", checkpoint, "--eval_negatives=distinct"])
    assert (
        stop.value.code == 2
        and "--eval_negatives: 'distinct' is not recbole or unseen" in capsys.readouterr().err
    )


def test_negatives_benchmark_reads_both_samplers_as_the_evaluate_command(
    checkpoint, monkeypatch, tmp_path
):
    from negatives_effect import main as negatives_effect

    saved = Path(checkpoint)
    monkeypatch.chdir(saved.parent)
    assert negatives_effect([saved.name, "--json", str(tmp_path / "rows.json")]) == 0
    (both,) = json.loads((tmp_path / "rows.json").read_text())
    assert both["checkpoint"] == saved.name  # as given, not the machine's absolute path
    recbole = evaluate_checkpoint(checkpoint)["test_result"]
    unseen = evaluate_checkpoint(checkpoint, {"eval_negatives": "unseen"})["test_result"]
    assert both["recbole"] == {k: recbole[k] for k in both["recbole"]}
    assert both["unseen"] == {k: unseen[k] for k in both["unseen"]}
    defects = both["recbole_candidates"]
    # ml-100k users rated 106 of 1,682 items on average: 100 uniform draws often hit one.
    assert defects["users"] == 943 and 0.5 < defects["history"] < 1 and 0 < defects["repeat"] < 1
