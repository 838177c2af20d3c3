"""The options that reproduce the SeeDRec release (docs/reproducing-the-paper.md), each off by
default: its loss for SASRec, its negatives, optimiser, warm start, leak, prompt injection,
test selection; and the prompt generators' initialisation."""

import logging

import pytest
import torch
import torch.nn.functional as F
from recbole.model.sequential_recommender.sasrec import SASRec as RecBoleSASRec
from recbole.utils import init_seed

from recbole_seedrec.config import ConfigError
from recbole_seedrec.data.candidates import data_preparation
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.data.unseen_negatives import TrainingSetNegatives
from recbole_seedrec.errors import UserError
from recbole_seedrec.model.seedrec.ipe import InterestPromptEncoder
from recbole_seedrec.registry import get_model, get_trainer, keeps_recbole_name
from recbole_seedrec.trainer.test_audit import best_of_test
from recbole_seedrec.trainer.warm_start import warm_start
from tests.seedrec_data import (
    NAME,
    build_data,
    build_model,
    make_config,
    release_training_vector,
    split_rows,
)

BCE = {"loss_type": "BCE", "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1}}


def batch_of(data, split="train"):
    return next(iter(data[split]))


# ----- the prompt generators' initialisation -------------------------------------------------
def test_each_prompt_generator_gets_its_own_xavier_draw():
    torch.manual_seed(0)
    d, q, k = 64, 300, 3
    per_prompt = InterestPromptEncoder(q, d, k)
    joint = InterestPromptEncoder(q, d, k, init="joint")
    xavier_dd, xavier_qd = (2 / (d + d)) ** 0.5, (2 / (q + d)) ** 0.5
    for weight in per_prompt.second_weight:  # k separate Linear(d, d): std sqrt(2 / 2d)
        assert abs(weight.std().item() / xavier_dd - 1) < 0.1
    for block in per_prompt.first.weight.view(k, d, q):  # k separate Linear(q, d)
        assert abs(block.std().item() / xavier_qd - 1) < 0.1
    # The old draw over the stacked [k, d, d] tensor: fan-in d*d, ~6x too small at d = 64.
    assert joint.second_weight.std().item() < xavier_dd / 5
    with pytest.raises(ValueError, match="ipe_init"):
        InterestPromptEncoder(q, d, k, init="xavier")


# ----- SASRec under the release's loss -------------------------------------------------------
def test_sasrec_keeps_recbole_name_and_config_and_ce_is_recbole_own(synthetic, data):
    model_class = get_model("SASRec")
    assert issubclass(model_class, RecBoleSASRec) and keeps_recbole_name(model_class)
    config = make_config("SASRec", synthetic["root"], NAME)
    ours = build_model(config, data)
    torch.manual_seed(0)
    theirs = RecBoleSASRec(config, data["train"]._dataset)
    theirs.load_state_dict(ours.state_dict())
    batch = batch_of(data)
    ours.eval(), theirs.eval()
    assert torch.equal(ours.calculate_loss(batch), theirs.calculate_loss(batch))
    assert torch.equal(ours.full_sort_predict(batch), theirs.full_sort_predict(batch))


def test_sasrec_bce_is_cosine_times_temperature_on_one_negative(synthetic, data):
    config = make_config("SASRec", synthetic["root"], NAME, **BCE, bce_temperature=7.0)
    model = build_model(config, data).eval()
    batch = batch_of(make_data_bce(synthetic))
    seq = model.forward(batch["item_id_list"], batch["item_length"])
    pos = F.cosine_similarity(seq, model.item_embedding(batch["item_id"]), dim=-1) * 7.0
    neg = F.cosine_similarity(seq, model.item_embedding(batch["neg_item_id"]), dim=-1) * 7.0
    expected = (F.softplus(-pos).mean() + F.softplus(neg).mean()) / 2
    assert torch.allclose(model.calculate_loss(batch), expected, atol=1e-6)
    scores = model.full_sort_predict(batch)
    cosine = F.normalize(seq, dim=-1) @ F.normalize(model.item_embedding.weight, dim=-1).T
    assert torch.allclose(scores, cosine, atol=1e-6)
    assert scores.abs().max() <= 1 + 1e-5


def make_data_bce(synthetic, **overrides):
    """The data through this package's loaders, as the entry points build them."""
    config = make_config("SASRec", synthetic["root"], NAME, **BCE, **overrides)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    return dict(zip(("train", "valid", "test"), data_preparation(config, dataset)))


# ----- training negatives outside the user's training items ----------------------------------
def test_unseen_training_negatives_avoid_every_training_item_of_the_user(synthetic):
    data = make_data_bce(synthetic, train_negatives="unseen")
    loader = data["train"]
    assert isinstance(loader._sampler, TrainingSetNegatives)
    dataset = loader._dataset
    feat = dataset.inter_feat
    trained = {}
    for user, target, items in zip(feat["user_id"], feat["item_id"], feat["item_id_list"]):
        trained.setdefault(int(user), set()).update([int(target), *map(int, items[items > 0])])
    for _ in range(5):  # several epochs' draws
        for batch in loader:
            for user, negative in zip(batch["user_id"].tolist(), batch["neg_item_id"].tolist()):
                assert 1 <= negative < dataset.item_num and negative not in trained[user]


def test_recbole_training_negatives_can_hit_the_history(synthetic):
    """The default stays RecBole's sampler (it excludes only the target)."""
    data = make_data_bce(synthetic)
    assert not isinstance(data["train"]._sampler, TrainingSetNegatives)


# ----- the release's interest: the whole training sequence for every training row ------------
def test_release_scope_prompts_every_training_row_from_all_training_items(synthetic, data):
    """The release's vector: the user's history but its last two items (validation, test),
    targets included; a user too short for a validation row keeps its prefix."""
    config = make_config("SeeDRecSASRecIPEOnly", synthetic["root"], NAME, interest_scope="release")
    model = build_model(config, data).eval()
    feat, users, _ = split_rows(data, "train")
    vocabulary = model.sememe_table.vocabulary
    histories, sememes = synthetic["histories"], synthetic["sememes"]
    expected = torch.stack(
        [
            release_training_vector(histories[u], len(histories[u]) - 2, sememes, vocabulary)
            for u in users
        ]
    ).float()
    assert torch.allclose(model.interest(feat), expected, rtol=2e-3, atol=2e-3)
    # Validation and test rows keep their own prefix: the test item never enters.
    honest = build_model(make_config("SeeDRecSASRecIPEOnly", synthetic["root"], NAME), data).eval()
    for split in ("valid", "test"):
        rows = split_rows(data, split)[0]
        assert torch.equal(model.interest(rows), honest.interest(rows))


def test_release_scope_warns_and_needs_leave_one_out(synthetic, data, caplog):
    with caplog.at_level(logging.WARNING):
        build_model(
            make_config("SeeDRecSASRecIPEOnly", synthetic["root"], NAME, interest_scope="release"),
            data,
        )
    assert any("leak" in record.message for record in caplog.records)
    with pytest.raises(ConfigError, match="--interest_scope release: needs the leave-one-out"):
        make_config(
            "SeeDRecSASRecIPEOnly", synthetic["root"], NAME, interest_scope="release",
            eval_args={"split": {"RS": [0.8, 0.1, 0.1]}, "order": "TO", "mode": "full"},
        )  # fmt: skip


# ----- raw prompt injection ------------------------------------------------------------------
def test_raw_injection_adds_prompts_to_their_positions_without_norm_or_dropout(synthetic, data):
    config = make_config(
        "SeeDRecSASRecIPEOnly", synthetic["root"], NAME, prompt_injection="raw",
        hidden_dropout_prob=0.9, read_out_only_last_layer=False,
    )  # fmt: skip
    model = build_model(config, data).train()
    seen = {}

    def keep_input(_, args):
        seen.setdefault("hidden", args[0])

    model.trm_encoder.register_forward_pre_hook(keep_input)
    batch = batch_of(data)
    prompts = model.prompts(batch)
    model.forward(batch["item_id_list"], batch["item_length"], prompts)
    k = model.prompt_num
    expected = prompts + model.position_embedding.weight[:k]
    assert torch.allclose(seen["hidden"][:, :k], expected)
    with pytest.raises(ConfigError, match="prompt_injection"):
        build_model(
            make_config("SeeDRecSASRec", synthetic["root"], NAME, prompt_injection="sideways"),
            data,
        )


# ----- optimiser ----------------------------------------------------------------------------
def test_adam_betas_and_per_epoch_decay(synthetic, data):
    config = make_config(
        "SASRec", synthetic["root"], NAME, adam_betas=[0.9, 0.98], lr_decay=0.5, epochs=3,
        learning_rate=0.01,
    )  # fmt: skip
    model = build_model(config, data)
    trainer = get_trainer(config["MODEL_TYPE"], "SASRec")(config, model)
    assert trainer.optimizer.param_groups[0]["betas"] == (0.9, 0.98)
    trainer.fit(data["train"], data["valid"], saved=False, verbose=False)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**3)
    plain = get_trainer(config["MODEL_TYPE"], "SASRec")(
        make_config("SASRec", synthetic["root"], NAME), model
    )
    assert plain.optimizer.param_groups[0]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize(
    "option, value",
    [
        ("adam_betas", [0.9]),
        ("adam_betas", [0.9, 1.5]),
        ("lr_decay", 0),
        ("lr_decay", "fast"),
        ("interest_scope", "everything"),
        ("ipe_init", "xavier"),
        ("selection_split", "train"),
        ("train_negatives", "all"),
        ("test_audit", "yes"),
        ("init_from", "/nonexistent/SASRec-seed{seed}.pth"),
        ("init_from", "/tmp/{user}.pth"),
    ],
)
def test_bad_release_options_fail_before_data_loads(synthetic, option, value):
    with pytest.raises(ConfigError, match=option):
        make_config("SeeDRecSASRec", synthetic["root"], NAME, **{option: value})


# ----- the test audit and test selection -----------------------------------------------------
def fitted(synthetic, **options):
    """A fit from fresh loaders (a loader's generator state carries over between fits)."""
    config = make_config(
        "SASRec", synthetic["root"], NAME, epochs=3, valid_metric="NDCG@10", **options
    )
    data = build_data(config)
    model = build_model(config, data)
    trainer = get_trainer(config["MODEL_TYPE"], "SASRec")(config, model)
    trainer.audit_with(data["test"])
    score, result = trainer.fit(data["train"], data["valid"], saved=False, verbose=False)
    return trainer, model, score, result


def test_the_audit_records_test_at_every_validation_and_changes_nothing(synthetic):
    audited, audited_model, score, _ = fitted(synthetic, test_audit=True)
    plain, plain_model, plain_score, _ = fitted(synthetic)
    assert plain.test_audit == [] and [e["epoch"] for e in audited.test_audit] == [0, 1, 2]
    assert score == plain_score
    for a, b in zip(audited_model.state_dict().values(), plain_model.state_dict().values()):
        assert torch.equal(a, b)
    best = best_of_test(audited.test_audit)
    assert best["test"]["ndcg@10"] == max(e["test"]["ndcg@10"] for e in audited.test_audit)


def test_test_selection_selects_on_test_and_warns(synthetic, caplog):
    with caplog.at_level(logging.WARNING):
        trainer, _, score, result = fitted(synthetic, selection_split="test")
    assert any("TEST figures" in record.message for record in caplog.records)
    best = best_of_test(trainer.test_audit)
    assert score == pytest.approx(best["test"]["ndcg@10"]) and result == pytest.approx(best["test"])


# ----- warm start ---------------------------------------------------------------------------
def test_warm_start_copies_the_backbone_and_shifts_positions_past_the_prompts(
    synthetic, data, tmp_path
):
    config = make_config("SASRec", synthetic["root"], NAME)
    sasrec = build_model(config, data)
    path = tmp_path / "sasrec.pth"
    torch.save({"config": config, "state_dict": sasrec.state_dict()}, path)
    seedrec = build_model(make_config("SeeDRecSASRec", synthetic["root"], NAME), data)
    fresh_prompts = seedrec.prompt_encoder.first.weight.clone()
    report = warm_start(seedrec, str(path))
    state = seedrec.state_dict()
    assert torch.equal(state["item_embedding.weight"], sasrec.item_embedding.weight)
    assert report["adapted"] == ["position_embedding.weight"]
    k = seedrec.prompt_num
    assert torch.equal(state["position_embedding.weight"][k:], sasrec.position_embedding.weight)
    assert torch.equal(seedrec.prompt_encoder.first.weight, fresh_prompts)
    assert "prompt_encoder.first.weight" in report["fresh"]


def test_warm_start_from_an_unrelated_checkpoint_is_refused(synthetic, data, tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"config": {}, "state_dict": {"embedding.weight": torch.zeros(3, 3)}}, path)
    model = build_model(make_config("SASRec", synthetic["root"], NAME), data)
    with pytest.raises(ConfigError, match="no parameter of"):
        warm_start(model, str(path))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a file torch.save wrote"):
        warm_start(model, str(tmp_path / "junk.pth"))


def test_init_from_reads_the_seed_placeholder_through_the_entry_point(synthetic, data, tmp_path):
    from recbole_seedrec.quick_start import build_model_and_trainer

    sasrec_config = make_config("SASRec", synthetic["root"], NAME)
    sasrec = build_model(sasrec_config, data)
    torch.save(
        {"config": sasrec_config, "state_dict": sasrec.state_dict()},
        tmp_path / "SASRec-seed2024.pth",
    )
    config = make_config(
        "SASRec", synthetic["root"], NAME, init_from=str(tmp_path / "SASRec-seed{seed}.pth")
    )
    model, _ = build_model_and_trainer(config, data["train"])
    assert torch.equal(model.item_embedding.weight, sasrec.item_embedding.weight)


# ----- the reports label the release's runs ---------------------------------------------------
def test_compare_labels_runs_with_release_defects():
    from comparison.protocols import release_labels

    assert release_labels({"interest_scope": "prefix", "selection_split": None}) == []
    labels = release_labels({"interest_scope": "release", "selection_split": "test"})
    assert any("leaky" in text for text in labels) and any("TEST" in text for text in labels)


def test_the_ladder_reads_best_test_for_rung_one_and_the_selected_epoch_after(tmp_path):
    import json

    from reproduce import parse_args, runs_dir, write_report

    def record(folder, model, seed, test, audit):
        path = runs_dir(tmp_path, folder) / f"{model}-seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        entries = [{"epoch": e, "valid": {}, "test": {"ndcg@10": v, "hit@10": v}} for e, v in audit]
        body = {"model": model, "seed": seed, "test": {"ndcg@10": test, "hit@10": test},
                "test_audit": entries}  # fmt: skip
        path.write_text(json.dumps(body))

    for seed, shift in ((2020, 0.0), (2021, 0.001), (2022, 0.003)):
        record("sasrec-bce", "SASRec", seed, 0.090 + shift, [(4, 0.088), (9, 0.093 + shift)])
        record("seedrec-release", "SeeDRecSASRec", seed, 0.091 + shift,
               [(4, 0.099 + shift), (9, 0.097)])  # fmt: skip
    report = write_report(parse_args(["--out", str(tmp_path)])).read_text()
    rows = {}
    for line in report.splitlines():
        if line.startswith("| "):
            rows.setdefault(line.split(" | ")[0], line)  # the first table's
    rung1, rung2 = rows["| 1. release protocol (leaky)"], rows["| 2. validation selection (leaky)"]
    assert "| 3 | 0.0943 ± 0.0015 | 0.1003 ± 0.0015 | +6.4% |" in rung1  # the best test epochs
    assert "| 3 | 0.0913 ± 0.0015 | 0.0923 ± 0.0015 | +1.1% |" in rung2  # the selected epochs
    assert "SASRec: 0.0943 against the paper's 0.0962 (-1.9%): hit" in report
    assert "SeeDRecSASRec: 0.1003 against the paper's 0.1036 (-3.2%): hit" in report
    assert "| 3. from scratch (leaky) | warm start -> from scratch | 0 |" in report
    assert "| 2. validation selection (leaky) | -3.2% | -8.0% |" in report  # vs rung 1
