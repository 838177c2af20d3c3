"""CandidateScoringMixin gives RecBole's sampled-evaluation metrics from one encoding per row."""

import numpy as np
import pytest
import torch
from recbole.data import create_dataset, data_preparation
from recbole.data.dataloader import NegSampleEvalDataLoader
from recbole.model.sequential_recommender import GRU4Rec, SASRec
from recbole.trainer import Trainer
from recbole.utils import EvaluatorType, init_seed

import recbole_seedrec  # noqa: F401  (runtime shims)
from recbole_seedrec.config import Config
from recbole_seedrec.trainer import CandidateScoringMixin
from recbole_seedrec.trainer.sampled_eval import candidate_layout

FastTrainer = type("FastTrainer", (CandidateScoringMixin, Trainer), {})

COMMON = {
    "MAX_ITEM_LIST_LENGTH": 10,
    "train_neg_sample_args": None,
    "train_batch_size": 1024,
    "eval_batch_size": 4096,
    "epochs": 1,
    "show_progress": False,
    "seed": 2024,
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "uni100"},
    "metrics": ["NDCG", "Hit", "GAUC"],
    "topk": [5, 10, 20],
    "valid_metric": "NDCG@10",
}
MODELS = {
    "SASRec": {"hidden_size": 16, "inner_size": 32, "n_layers": 1, "n_heads": 1},
    "GRU4Rec": {"embedding_size": 16, "hidden_size": 16},
}
EVAL_SEED = 7


def build_config(model_name):
    return Config(model_name, "ml-100k", config_dict={**COMMON, **MODELS[model_name]}, cmd_args=[])


@pytest.fixture(scope="module")
def data():
    """ml-100k split once; both models are sequential, so they share the dataloaders."""
    config = build_config("SASRec")
    init_seed(config["seed"], config["reproducibility"])
    train, valid, test = data_preparation(config, create_dataset(config))
    return {"train": train, "valid": valid, "test": test}


@pytest.fixture(scope="module")
def models(data):
    """A SASRec after one tiny epoch, and an untrained GRU4Rec."""
    built = {}
    for name, model_class in (("SASRec", SASRec), ("GRU4Rec", GRU4Rec)):
        config = build_config(name)
        init_seed(config["seed"], config["reproducibility"])
        built[name] = (config, model_class(config, data["train"]._dataset))
    config, sasrec = built["SASRec"]
    Trainer(config, sasrec).fit(data["train"], saved=False, show_progress=False)
    return built


def evaluate(trainer_class, config, model, loader):
    # The loader draws its negatives with numpy on every pass: reseed so both see the same ones.
    np.random.seed(EVAL_SEED)
    return trainer_class(config, model).evaluate(loader, load_best_model=False)


def batch_scores(trainer, loader, batch):
    trainer.model.eval()
    trainer.tot_item_num = loader._dataset.item_num
    with torch.no_grad():
        return trainer._neg_sample_batch_eval(batch)[1]


def first_batch(loader):
    np.random.seed(EVAL_SEED)
    return next(iter(loader))


def test_reseeding_repeats_the_negatives(data):
    first, again = first_batch(data["valid"]), first_batch(data["valid"])
    assert torch.equal(first[0]["item_id"], again[0]["item_id"])
    assert len(first[0]) == 101 * len(first[2])  # positive + 100 negatives per evaluated row


@pytest.mark.parametrize("model_name", ["SASRec", "GRU4Rec"])
@pytest.mark.parametrize("phase", ["valid", "test"])
def test_metrics_identical_to_recbole(data, models, model_name, phase):
    config, model = models[model_name]
    stock = evaluate(Trainer, config, model, data[phase])
    fast = evaluate(FastTrainer, config, model, data[phase])
    assert dict(fast) == dict(stock)
    assert set(stock) == {f"{m}@{k}" for m in ("ndcg", "hit") for k in (5, 10, 20)} | {"gauc"}


def test_many_rows_per_user_map_to_their_own_history(data, models):
    """Each candidate is scored from the row it was copied from, not merely from its user."""
    config, model = models["SASRec"]
    train_set = data["train"]._dataset
    part = train_set.copy(train_set.inter_feat[:3000])  # leave the training split's order alone
    loader = NegSampleEvalDataLoader(config, part, data["valid"]._sampler)
    np.random.seed(EVAL_SEED)
    trainer = FastTrainer(config, model)
    model.eval()
    for _, batch in zip(range(3), loader):
        interaction, row_idx, positive_u, _ = batch
        assert (torch.bincount(positive_u) > 1).any()
        distinct, source, rank = candidate_layout(row_idx, positive_u, len(interaction))
        history = interaction["item_id_list"]
        assert torch.equal(history[distinct][source], history)
        assert torch.equal(interaction["label"], (rank == 0).float())
        with torch.no_grad():
            expected = model.predict(interaction)
            got = trainer._score_candidates(interaction, (distinct, source, rank))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_model_without_full_sort_takes_recbole_path(data, models):
    config, trained = models["SASRec"]

    class NoFullSort(SASRec):
        def full_sort_predict(self, interaction):
            raise NotImplementedError

    model = NoFullSort(config, data["train"]._dataset)
    model.load_state_dict(trained.state_dict())
    batch = first_batch(data["valid"])
    fast = FastTrainer(config, model)
    assert torch.equal(
        batch_scores(fast, data["valid"], batch),
        batch_scores(Trainer(config, model), data["valid"], batch),
    )
    assert fast._full_sort_unsupported


def test_predict_candidates_hook_replaces_full_rows(data, models):
    config, trained = models["SASRec"]

    class OnlyCandidates(SASRec):
        def full_sort_predict(self, interaction):
            raise AssertionError("the hook should be used instead")

        def predict_candidates(self, interaction, candidate_items):
            seq = self.forward(interaction["item_id_list"], interaction["item_length"])
            return (seq.unsqueeze(1) * self.item_embedding(candidate_items)).sum(-1)

    model = OnlyCandidates(config, data["train"]._dataset)
    model.load_state_dict(trained.state_dict())
    batch = first_batch(data["valid"])
    got = batch_scores(FastTrainer(config, model), data["valid"], batch)
    expected = batch_scores(Trainer(config, model), data["valid"], batch)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_value_evaluation_takes_recbole_path(data, models, monkeypatch):
    config, model = models["SASRec"]
    monkeypatch.setitem(config.final_config_dict, "eval_type", EvaluatorType.VALUE)
    batch = first_batch(data["valid"])
    got = batch_scores(FastTrainer(config, model), data["valid"], batch)
    assert torch.equal(got, batch_scores(Trainer(config, model), data["valid"], batch))
    assert got.shape == (len(batch[0]),)  # one score per candidate, as RecBole gives


@pytest.mark.parametrize("mode", ["uni100", "uni999"])
def test_package_pipeline_equals_recbole_stock_path(mode):
    """What a user gets through this package (candidate loader + fast trainer) against
    RecBole's own loader and trainer: identical metrics on ml-100k."""
    from recbole_seedrec.data.candidates import CandidateEvalDataLoader
    from recbole_seedrec.data.candidates import data_preparation as package_preparation
    from recbole_seedrec.registry import get_trainer

    config = build_config("SASRec")
    config["eval_args"]["mode"] = {"valid": mode, "test": mode}
    config._set_eval_neg_sample_args("valid")
    config._set_eval_neg_sample_args("test")
    train, *stock_loaders = data_preparation(config, create_dataset(config))
    _, *package_loaders = package_preparation(config, create_dataset(config))
    assert all(type(loader) is CandidateEvalDataLoader for loader in package_loaders)
    init_seed(config["seed"], config["reproducibility"])
    model = SASRec(config, train._dataset)
    stock = Trainer(config, model)
    package = get_trainer(config["MODEL_TYPE"], "SASRec")(config, model)
    for stock_loader, package_loader in zip(stock_loaders, package_loaders):
        np.random.seed(EVAL_SEED)
        expected = stock.evaluate(stock_loader, load_best_model=False)
        np.random.seed(EVAL_SEED)
        assert package.evaluate(package_loader, load_best_model=False) == expected


def test_batch_collation_equals_recbole_per_user_collation():
    """The vectorised batch holds what RecBole's per-user loop builds, negatives included."""
    from recbole.data.dataloader import NegSampleEvalDataLoader

    from recbole_seedrec.data.candidates import data_preparation as package_preparation

    config = build_config("SASRec")
    config["eval_args"]["mode"] = {"valid": "uni100", "test": "uni100"}
    config._set_eval_neg_sample_args("valid")
    _, valid, _ = package_preparation(config, create_dataset(config))
    index = list(range(0, valid.sample_size, 3))  # a spread of users, not only the first
    np.random.seed(EVAL_SEED)
    got = valid.collate_fn(index)
    np.random.seed(EVAL_SEED)
    expected = NegSampleEvalDataLoader.collate_fn(valid, index)
    assert got[0].interaction.keys() == expected[0].interaction.keys()
    for field in expected[0].interaction:
        assert torch.equal(got[0][field], expected[0][field]), field
    for got_part, expected_part in zip(got[1:], expected[1:]):
        assert torch.equal(got_part, expected_part)


def test_compact_scores_give_the_metrics_of_the_full_matrix():
    """Repeated negatives, tied negatives and fewer candidates than top-k: RecBole's collector
    and evaluator give the same NDCG, Hit and GAUC on both matrices. (A negative scoring exactly
    the positive's score is left out: torch.topk orders such a tie arbitrarily, in RecBole's
    matrix as in ours, so NDCG may then differ; GAUC averages ties and stays equal.)"""
    from recbole.evaluator import Collector, Evaluator

    from recbole_seedrec.trainer.sampled_eval import compact_candidate_scores

    config = build_config("SASRec")
    n_items, generator = 40, torch.Generator().manual_seed(0)
    candidates = torch.stack(
        [torch.randperm(n_items - 1, generator=generator)[:8] + 1 for _ in range(5)]
    )
    candidates[0, 5] = candidates[0, 3]  # a negative drawn twice
    item_scores = torch.randn(5, n_items, generator=generator)
    item_scores[1, candidates[1, 2]] = item_scores[1, candidates[1, 4]]  # two negatives tie
    row_scores = item_scores.gather(1, candidates)
    full = torch.full((5, n_items), -np.inf)
    full.scatter_(1, candidates, row_scores)
    users = torch.arange(5)

    def metrics(scores, positive_u, positive_i):
        collector = Collector(config)
        collector.eval_batch_collect(scores, None, positive_u, positive_i)
        return Evaluator(config).evaluate(collector.get_data_struct())

    compact = compact_candidate_scores(row_scores, candidates, max(config["topk"]))
    assert compact[0].shape == (5, max(config["topk"]))  # padded to the largest k
    assert metrics(*compact) == metrics(full, users, candidates[:, 0])


def test_rows_sorted_on_the_cpu_match_torch_sort():
    """NumPy's argsort (the CPU path) gives torch's sorted rows and a permutation onto them."""
    from recbole_seedrec.trainer.sampled_eval import sort_rows

    items = torch.randint(1, 30, (7, 50), generator=torch.Generator().manual_seed(1))
    sorted_items, order = sort_rows(items)
    assert torch.equal(sorted_items, items.sort(dim=1).values)
    assert torch.equal(items.gather(1, order), sorted_items)
    assert torch.equal(order.sort(dim=1).values, torch.arange(50).expand(7, 50))
