"""Few-shot users: who is chosen, their metrics from the same evaluation, the evaluate command."""

import math
import random

import pytest
import torch
from recbole.data.dataloader import FullSortEvalDataLoader
from recbole.utils import init_seed

from recbole_seedrec.checkpoint_eval import evaluate_checkpoint
from recbole_seedrec.cli.main import main
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.data.dataset import HISTORY_POSITION_FIELD
from recbole_seedrec.data.few_shot import few_shot_users
from recbole_seedrec.quick_start import (
    build_model_and_trainer,
    prepare_data,
    run_recbole_seedrec,
)
from recbole_seedrec.trainer.subset_eval import evaluate_with_subset
from tests.seedrec_data import SYNTHETIC, tokens, write_atomic

NAME = "fewsyn"
N_ITEMS = 60
THRESHOLD = 9
SETTINGS = {
    **SYNTHETIC,
    "topk": [5, 10],
    "metrics": ["NDCG", "Hit", "MRR"],
    "metric_decimal_place": 12,
    "SEMEME_FIELD": "category_sememes",
    "s2idm_epochs": 1,
}


def _sememes(item):
    return [f"c{item % 6}", f"t{item % 10}"]  # 6 + 10 sememes, shared by many items


@pytest.fixture(scope="module")
def fewsyn(tmp_path_factory):
    """60 items, 40 users of 4 to 14 interactions (one with equal times: order = file order)."""
    root = tmp_path_factory.mktemp("few-shot")
    rng = random.Random(11)
    histories = {}
    for user in range(1, 41):
        step = 0.0 if user == 7 else 60.0
        length = rng.randint(4, 14)
        histories[f"u{user}"] = [
            (rng.randint(1, N_ITEMS), 1000.0 + step * k) for k in range(length)
        ]
    write_atomic(
        root,
        NAME,
        {u: [(f"i{i}", t) for i, t in rows] for u, rows in histories.items()},
        {f"i{i}": _sememes(i) for i in range(1, N_ITEMS + 1)},
    )
    expected = {  # leave-one-out: the history is every interaction but the last
        user: len({s for item, _ in rows[:-1] for s in _sememes(item)})
        for user, rows in histories.items()
    }
    return {"root": root, "expected": expected}


def _config(model, fewsyn, **extra):
    return Config(
        model,
        NAME,
        config_dict={**SETTINGS, "data_path": str(fewsyn["root"]), **extra},
        cmd_args=[],
    )


def _users(dataset, few):
    return dict(zip(tokens(dataset, "user_id", few.test_users), few.distinct_sememes.tolist()))


ITEM_FIELDS = {"load_col": {"inter": ["user_id", "item_id", "timestamp"],
                             "item": ["item_id", "category_sememes"]}}  # fmt: skip


# SASRec does not load the sememe field (read from the .item file), unless its config says so;
# SeeDRec's data loads it.
@pytest.mark.parametrize(
    "model, extra", [("SASRec", {}), ("SASRec", ITEM_FIELDS), ("SeeDRecSASRec", {})]
)
def test_users_are_chosen_by_distinct_sememes_before_the_test_item(fewsyn, model, extra):
    config = _config(model, fewsyn, few_shot_max_sememes=THRESHOLD, **extra)
    dataset, _, _, test_data = prepare_data(config)
    few = few_shot_users(config, dataset, test_data)
    assert _users(dataset, few) == fewsyn["expected"]  # every test user, counted by hand
    chosen = set(tokens(dataset, "user_id", few.users))
    assert chosen == {u for u, n in fewsyn["expected"].items() if n <= THRESHOLD}
    assert 5 < len(chosen) < 35  # the fixture has both kinds
    if model == "SeeDRecSASRec":  # its data knows each test target's exact position
        feat = test_data._dataset.inter_feat
        rows_before = feat[HISTORY_POSITION_FIELD]
        lengths = dataset.user_histories.offsets.diff()[feat["user_id"]]
        assert torch.equal(rows_before, lengths - 1)


def test_off_by_default_and_bad_options_name_the_option(fewsyn):
    config = _config("SASRec", fewsyn)
    dataset, _, _, test_data = prepare_data(config)
    assert few_shot_users(config, dataset, test_data) is None
    with pytest.raises(ConfigError, match="whole number >= 0"):
        _config("SASRec", fewsyn, few_shot_max_sememes=-1)
    with pytest.raises(
        ConfigError, match="--SEMEME_FIELD: is not set, but few_shot_max_sememes counts sememes"
    ):
        _config("SASRec", fewsyn, few_shot_max_sememes=3, SEMEME_FIELD=None)
    config = _config("SASRec", fewsyn, few_shot_max_sememes=3, SEMEME_FIELD="genre")
    dataset, _, _, test_data = prepare_data(config)
    with pytest.raises(ConfigError, match="^few_shot_max_sememes: field 'genre' is not a column"):
        few_shot_users(config, dataset, test_data)


def _restricted_loader(config, test_data, users):
    """A full-ranking test loader over ``users`` only: a direct evaluation of the subset."""
    test = test_data._dataset
    keep = torch.isin(test.inter_feat["user_id"], users)
    return FullSortEvalDataLoader(
        config, test.copy(test.inter_feat[keep]), test_data._sampler, shuffle=False
    )


@pytest.mark.parametrize("mode", ["full", "uni10"])
def test_subset_metrics_come_from_the_same_evaluation(fewsyn, mode):
    eval_args = {**SETTINGS["eval_args"], "group_by": "user", "mode": mode}
    config = _config("SASRec", fewsyn, few_shot_max_sememes=THRESHOLD, eval_args=eval_args)
    dataset, train_data, _, test_data = prepare_data(config)
    few = few_shot_users(config, dataset, test_data)
    _, trainer = build_model_and_trainer(config, train_data)  # untrained: scores are scores

    init_seed(5, True)
    full, subset, rows = evaluate_with_subset(trainer, test_data, few.users, load_best_model=False)
    init_seed(5, True)
    assert full == trainer.evaluate(test_data, load_best_model=False)  # the full set unchanged
    assert rows == len(few.users)
    others = few.test_users[~torch.isin(few.test_users, few.users)]
    init_seed(5, True)
    _, rest, rest_rows = evaluate_with_subset(trainer, test_data, others, load_best_model=False)
    n = len(few.test_users)
    for key, value in full.items():  # each metric is a mean over users: the parts add up
        assert math.isclose(value * n, subset[key] * rows + rest[key] * rest_rows, abs_tol=1e-9)
    assert subset != full
    if mode == "full":  # ranking every item: a direct evaluation of the subset agrees exactly
        direct = trainer.evaluate(
            _restricted_loader(config, test_data, few.users), load_best_model=False
        )
        assert direct == subset


@pytest.fixture(scope="module")
def sasrec_run(fewsyn, tmp_path_factory):
    saved = tmp_path_factory.mktemp("saved")
    settings = {**SETTINGS, "data_path": str(fewsyn["root"]), "checkpoint_dir": str(saved)}
    plain = run_recbole_seedrec("SASRec", NAME, config_dict=settings, cmd_args=[])
    with_few = run_recbole_seedrec(
        "SASRec", NAME, config_dict={**settings, "few_shot_max_sememes": THRESHOLD}, cmd_args=[]
    )
    return plain, with_few


def test_a_run_reports_the_few_shot_users_beside_the_same_full_set(fewsyn, sasrec_run):
    plain, with_few = sasrec_run
    assert "test_result_few_shot" not in plain
    assert with_few["test_result"] == plain["test_result"]  # full ranking: deterministic
    chosen = [n for n in fewsyn["expected"].values() if n <= THRESHOLD]
    assert with_few["few_shot_users"] == len(chosen) and with_few["test_users"] == 40
    assert with_few["few_shot_max_sememes"] == THRESHOLD
    assert set(with_few["test_result_few_shot"]) == set(plain["test_result"])


def test_evaluate_command_reloads_a_checkpoint(fewsyn, sasrec_run, tmp_path, capsys):
    _, run = sasrec_run
    updates = {"few_shot_max_sememes": THRESHOLD}
    again = evaluate_checkpoint(run["model_file"], updates)
    assert again["model"] == "SASRec" and again["seed"] == SETTINGS["seed"]
    assert again["test_result"] == dict(run["test_result"])
    assert again["test_result_few_shot"] == dict(run["test_result_few_shot"])

    out = tmp_path / "result.json"
    code = main(["evaluate", "--model-file", run["model_file"], "--few_shot_max_sememes=3",
                 "--json", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "test, few-shot users (<= 3 distinct sememes" in printed
    assert out.read_text().startswith("{") and '"few_shot_max_sememes": 3' in out.read_text()

    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--model-file", run["model_file"], "--epochs=3"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "evaluate cannot change epochs" in err
    with pytest.raises(SystemExit):
        main(["evaluate", "--model-file", str(tmp_path / "none.pth")])
    assert "none.pth: does not exist" in capsys.readouterr().err
