"""SeeDRec models on a tiny synthetic data set: no leak, prompt layout, losses, the cache."""

import pytest
import torch
import torch.nn.functional as F
from recbole.model.sequential_recommender.gru4rec import GRU4Rec
from recbole.model.sequential_recommender.sasrec import SASRec

from recbole_seedrec.config import ConfigError
from recbole_seedrec.data.dataset import HISTORY_POSITION_FIELD
from recbole_seedrec.data.sememes import ItemSememeTable
from tests.seedrec_data import (
    NAME,
    VARIANTS,
    build_data,
    build_model,
    default_histories,
    default_sememes,
    leak_violations,
    make_config,
    release_training_vector,
    split_rows,
    tokens,
    train_seedrec,
    training_lengths,
    write_atomic,
)

SPLITS = ("train", "valid", "test")


def ready_model(synthetic, data, model_name="SeeDRecSASRec", **overrides):
    """A model in eval mode whose (untrained) S2IDM counts as trained: a fixed function."""
    config = make_config(model_name, synthetic["root"], NAME, **overrides)
    model = build_model(config, data)
    if model.s2idm is not None:
        model.freeze_s2idm()
    return config, model.eval()


def own_violations(model, synthetic, data, split):
    feat, users, items = split_rows(data, split)
    positions = feat[HISTORY_POSITION_FIELD].tolist()
    with torch.no_grad():
        vectors = model.interest(feat)
    return leak_violations(
        vectors, users, positions, items, synthetic["histories"], synthetic["sememes"],
        model.sememe_table.vocabulary,
    )  # fmt: skip


# ----- 1. no leak ----------------------------------------------------------------------------
@pytest.mark.parametrize("split", SPLITS)
def test_rows_carry_the_position_of_their_target(synthetic, data, split):
    feat, users, items = split_rows(data, split)
    dataset = data[split]._dataset
    for row, (user, position, item) in enumerate(
        zip(users, feat[HISTORY_POSITION_FIELD].tolist(), items)
    ):
        history = synthetic["histories"][user]
        assert history[position][0] == item
        length = int(feat["item_length"][row])
        earlier = [token for token, _ in history[:position]][-length:]
        listed = tokens(dataset, "item_id", feat["item_id_list"][row, :length])
        assert listed == earlier and length == min(position, 10)


@pytest.mark.parametrize("split", SPLITS)
def test_interest_is_the_time_weighted_vector_of_strictly_earlier_items(synthetic, data, split):
    _, model = ready_model(synthetic, data, "SeeDRecSASRecIPEOnly")
    assert own_violations(model, synthetic, data, split) == []


def test_the_check_catches_the_release_vector_of_the_whole_training_sequence(synthetic, data):
    """The release conditions every training row on the user's whole training sequence,
    targets included: the same check flags it, so passing it means the leak is gone."""
    _, model = ready_model(synthetic, data, "SeeDRecSASRecIPEOnly")
    feat, users, items = split_rows(data, "train")
    positions = feat[HISTORY_POSITION_FIELD].tolist()
    vocabulary = model.sememe_table.vocabulary
    histories, sememes = synthetic["histories"], synthetic["sememes"]
    train_length = training_lengths(users, positions)
    release = torch.stack(
        [release_training_vector(histories[u], train_length[u], sememes, vocabulary) for u in users]
    )
    flagged = leak_violations(release, users, positions, items, histories, sememes, vocabulary)
    mass_on_target = [row for row, why in flagged if "own sememe" in why]
    new_targets = [
        row for row, (u, p, i) in enumerate(zip(users, positions, items))
        if i not in {item for item, _ in histories[u][:p]}
    ]  # fmt: skip
    assert new_targets and mass_on_target == new_targets
    assert not torch.allclose(model.interest(feat).double(), release, atol=1e-2)
    assert own_violations(model, synthetic, data, "train") == []


def test_time_weights_keep_the_precision_of_unix_seconds(tmp_path):
    """Timestamps in Unix seconds (~1e9), as the converter writes them (no normalize_all):
    RecBole's float32 spaces them 64-128 s apart; seconds apart must keep distinct weights."""
    base = 881250949.0
    histories = {
        "u1": [("i1", base), ("i2", base + 10), ("i3", base + 30), ("i4", base + 100),
               ("i5", base + 150), ("i6", base + 250)],
        "u2": [("i3", 1.4e9), ("i1", 1.4e9 + 3), ("i2", 1.4e9 + 40), ("i6", 1.4e9 + 41),
               ("i5", 1.4e9 + 300)],
    }  # fmt: skip
    sememes = default_sememes()
    write_atomic(tmp_path, "unixtime", histories, sememes)
    config = make_config("SeeDRecSASRecIPEOnly", tmp_path, "unixtime")
    data = build_data(config)
    model = build_model(config, data)
    for split in SPLITS:
        feat, users, items = split_rows(data, split)
        vectors = model.interest(feat)
        positions = feat[HISTORY_POSITION_FIELD].tolist()
        vocabulary = model.sememe_table.vocabulary
        assert (
            leak_violations(vectors, users, positions, items, histories, sememes, vocabulary) == []
        )


def test_sememes_of_the_target_and_later_items_do_not_reach_the_row(synthetic, data):
    """Per row: give the target and every later item (not seen before it) other sememes and
    rebuild the cache: the row's interest, prompts and scores stay; later rows do change."""
    _, model = ready_model(synthetic, data)
    table, histories = model.sememe_table, synthetic["histories"]
    vocabulary = table.vocabulary
    base_cache = model.build_interest_cache()
    train_feat, train_users, _ = split_rows(data, "train")
    train_length = training_lengths(train_users, train_feat[HISTORY_POSITION_FIELD].tolist())
    changed_later = 0
    for split in SPLITS:
        feat, users, items = split_rows(data, split)
        dataset = data[split]._dataset
        with torch.no_grad():
            base = (model.interest(feat), model.prompts(feat), model.full_sort_predict(feat))
        for row, user in enumerate(users):
            position = int(feat[HISTORY_POSITION_FIELD][row])
            earlier = {item for item, _ in histories[user][:position]}
            later = sorted({item for item, _ in histories[user][position:]} - earlier)
            ids = torch.as_tensor(dataset.token2id("item_id", later), dtype=torch.long)
            index = table.index.clone()
            index[ids] = 0
            index[ids, 0] = table.index[ids, 0] % table.q + 1  # another sememe
            model.sememe_table = ItemSememeTable(index, vocabulary, table.fields)
            model._interest_cache = None
            one = feat[[row]]
            with torch.no_grad():
                now = (model.interest(one), model.prompts(one), model.full_sort_predict(one))
            for before, after in zip(base, now):
                torch.testing.assert_close(after, before[row : row + 1], rtol=1e-4, atol=1e-4)
            # Later prefixes of the same user do see the change.
            user_id = int(feat["user_id"][row])
            start, end = model.histories.offsets[user_id : user_id + 2].tolist()
            rows = slice(start + position + 1, end)
            changed_later += not torch.equal(
                model._interest_cache.values[rows], base_cache.values[rows]
            )
            model.sememe_table, model._interest_cache = table, base_cache
            # So does the release's vector of the same user (train rows).
            if split == "train" and items[row] not in earlier:
                moved = dict(synthetic["sememes"])
                for item, sememe in zip(later, index[ids, 0].tolist()):
                    moved[item] = [vocabulary[sememe - 1]]
                n = train_length[user]
                leaky = release_training_vector(
                    histories[user], n, synthetic["sememes"], vocabulary
                )
                assert not torch.equal(
                    leaky, release_training_vector(histories[user], n, moved, vocabulary)
                )
    assert changed_later > 20


def test_word_pipeline_is_built_only_for_fields_that_are_sememes(synthetic, data, monkeypatch):
    """ml-100k's yaml names movie_title in SEMEME_WORD_FIELDS for when it is a sememe field;
    with SEMEME_FIELD class alone, loading WordNet (~17 s) buys nothing."""
    from recbole_seedrec.data import text

    class NoWordNet:
        def __init__(self, *args, **kwargs):
            raise AssertionError("word pipeline built for a field that is not a sememe field")

    monkeypatch.setattr(text, "WordSememizer", NoWordNet)
    config = make_config("SeeDRecSASRecIPEOnly", synthetic["root"], NAME)
    config.final_config_dict["SEMEME_WORD_FIELDS"] = ["movie_title"]
    model = build_model(config, data)
    assert model.sememe_table.fields == ["category_sememes"]


# ----- 2. prompts: positions, read-out, masks, scoring ---------------------------------------
PROBE_SEQ = torch.tensor(
    [[3, 0, 0, 0, 0, 0, 0, 0, 0, 0],
     [4, 5, 6, 0, 0, 0, 0, 0, 0, 0],
     [7, 1, 2, 9, 11, 12, 8, 0, 0, 0],
     [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]
)  # fmt: skip
PROBE_LEN = torch.tensor([1, 3, 7, 10])
PREFIX = torch.tensor([13, 14, 15])


@pytest.mark.parametrize(
    ("model_name", "backbone", "prompt_num"),
    [
        ("SeeDRecSASRec", SASRec, 3),
        ("SeeDRecSASRec", SASRec, 1),
        ("SeeDRecCL4SRec", SASRec, 2),
        ("SeeDRecGRU4Rec", GRU4Rec, 3),
    ],
)
def test_prompts_go_first_and_the_read_out_moves_by_k(
    synthetic, data, model_name, backbone, prompt_num
):
    """Prompts equal to item embeddings must give the backbone's own output on the sequence
    with those items in front: same positions, same causal mask, read-out at k + len - 1."""
    config, model = ready_model(synthetic, data, model_name, prompt_num=prompt_num)
    k, max_len = prompt_num, config["MAX_ITEM_LIST_LENGTH"]
    if backbone is SASRec:
        assert model.position_embedding.num_embeddings == max_len + k
    prefix = PREFIX[:k].expand(len(PROBE_SEQ), k)
    with torch.no_grad():
        prompts = model.item_embedding(prefix)
        got = model.forward(PROBE_SEQ, PROBE_LEN, prompts)
        expected = backbone.forward(model, torch.cat([prefix, PROBE_SEQ], 1), PROBE_LEN + k)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)

        padded = PROBE_SEQ.masked_fill(PROBE_SEQ == 0, 5)  # other ids in the padding slots
        torch.testing.assert_close(model.forward(padded, PROBE_LEN, prompts), got)
        last = PROBE_SEQ.clone()
        last[torch.arange(len(last)), PROBE_LEN - 1] = 14
        assert ((model.forward(last, PROBE_LEN, prompts) - got).abs().amax(1) > 1e-6).all()
        for j in range(k):  # every item position attends to every prompt
            moved = prompts.clone()
            moved[:, j] += torch.linspace(-1.0, 1.0, moved.size(-1))
            assert ((model.forward(PROBE_SEQ, PROBE_LEN, moved) - got).abs().amax(1) > 1e-6).all()


@pytest.mark.parametrize("model_name", ["SeeDRecSASRec", "SeeDRecCL4SRec"])
def test_prompts_after_the_items_are_the_backbone_on_items_then_prompts(
    synthetic, data, model_name
):
    """prompt_placement after_items: the backbone's output on [items; prompt items], read out at
    the last prompt, whatever the row's padding; the items never see the prompts."""
    _, model = ready_model(synthetic, data, model_name, prompt_placement="after_items")
    k = 2
    prefix = PREFIX[:k].expand(len(PROBE_SEQ), k)
    appended = torch.zeros(len(PROBE_SEQ), PROBE_SEQ.size(1) + k, dtype=PROBE_SEQ.dtype)
    for row, length in enumerate(PROBE_LEN.tolist()):
        appended[row, : length + k] = torch.cat([PROBE_SEQ[row, :length], prefix[row]])
    with torch.no_grad():
        prompts = model.item_embedding(prefix)
        got = model.forward(PROBE_SEQ, PROBE_LEN, prompts)
        expected = SASRec.forward(model, appended, PROBE_LEN + k)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        padded = PROBE_SEQ.masked_fill(PROBE_SEQ == 0, 5)
        torch.testing.assert_close(model.forward(padded, PROBE_LEN, prompts), got)
    with pytest.raises(ConfigError, match="prompt_placement: 'middle' is not one of"):
        ready_model(synthetic, data, model_name, prompt_placement="middle")


@pytest.mark.parametrize("model_name", VARIANTS)
def test_prompts_are_never_scored(synthetic, data, model_name):
    config, model = ready_model(synthetic, data, model_name)
    feat, _, _ = split_rows(data, "valid")
    n_items = data["dataset"].item_num
    with torch.no_grad():
        scores = model.full_sort_predict(feat)
        pair = model.predict(feat)
    assert scores.shape == (len(feat), n_items)
    assert model.scored_item_embeddings().shape[0] == n_items
    torch.testing.assert_close(pair, scores[torch.arange(len(feat)), feat["item_id"]])
    if model.uses_prompts:
        size = config["embedding_size" if "GRU" in model_name else "hidden_size"]
        assert model.prompts(feat).shape == (len(feat), config["prompt_num"], size)
    if model_name == "SeeDRecCL4SRec":  # the [mask] row exists but is no candidate
        assert model.item_embedding.num_embeddings == n_items + 1 == model.mask_token + 1


# ----- 5. losses -----------------------------------------------------------------------------
UNIFORM_1 = {"distribution": "uniform", "sample_num": 1}


@pytest.mark.parametrize(
    ("loss_type", "negatives"),
    [("CE", {}), ("BPR", {}), ("BPR", {"train_neg_sample_args": UNIFORM_1}), ("BCE", {})],
    ids=["CE", "BPR", "BPR-explicit-negatives", "BCE"],
)
def test_each_loss_is_finite_and_decreases(synthetic, loss_type, negatives):
    overrides = {"loss_type": loss_type, "hidden_dropout_prob": 0.0, "attn_dropout_prob": 0.0}
    config = make_config("SeeDRecSASRec", synthetic["root"], NAME, **overrides, **negatives)
    if loss_type != "CE":  # the Config asks for one uniform negative by itself
        assert config["train_neg_sample_args"]["distribution"] == "uniform"
        assert config["train_neg_sample_args"]["sample_num"] == 1
    loss_data = build_data(config)
    model = build_model(config, loss_data)
    model.freeze_s2idm()
    batch = next(iter(loss_data["train"]))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(8):
        loss = model.calculate_loss(batch)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    if loss_type == "BCE":  # the release's logits: cosine x temperature, one negative
        model.eval()
        with torch.no_grad():
            h = model.encode(batch)
            pos = F.cosine_similarity(h, model.item_embedding(batch["item_id"]), dim=-1)
            neg = F.cosine_similarity(h, model.item_embedding(batch["neg_item_id"]), dim=-1)
            logits = torch.stack([pos, neg], 1) * config["bce_temperature"]
            labels = torch.stack([torch.ones_like(pos), torch.zeros_like(neg)], 1)
            expected = F.binary_cross_entropy_with_logits(logits, labels)
            torch.testing.assert_close(model.calculate_loss(batch), expected)


@pytest.mark.parametrize("model_name", ["SeeDRecSASRec", "SeeDRecCL4SRec"])
def test_the_read_out_only_last_layer_changes_no_output_or_gradient(synthetic, data, model_name):
    """Two layers, two heads: the shortcut gives the full last layer's read-out row."""
    sizes = {"n_layers": 2, "n_heads": 2, "hidden_dropout_prob": 0.0, "attn_dropout_prob": 0.0}
    _, model = ready_model(synthetic, data, model_name, **sizes)
    batch = next(iter(data["train"]))
    results = []
    for shortcut in (True, False):
        model.read_out_only_last_layer = shortcut
        model.zero_grad()
        torch.manual_seed(0)  # CL4SRec's augmentations draw the same views both times
        loss = model.calculate_loss(batch)
        loss.backward()
        results.append((model.encode(batch), loss, model.item_embedding.weight.grad.clone()))
    (fast, fast_loss, fast_grad), (full, full_loss, full_grad) = results
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast_loss, full_loss)
    torch.testing.assert_close(fast_grad, full_grad, rtol=1e-4, atol=1e-7)


# ----- 6. the interest cache -----------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(synthetic, data, tmp_path_factory):
    checkpoints = str(tmp_path_factory.mktemp("checkpoints"))
    config = make_config("SeeDRecSASRec", synthetic["root"], NAME, checkpoint_dir=checkpoints)
    return (config, *train_seedrec(config, data))


def test_s2idm_never_runs_during_stage_two(data, trained):
    _, model, trainer = trained
    calls = []
    hook = model.s2idm.denoiser.register_forward_hook(lambda *args: calls.append(1))
    try:
        trainer._train_epoch(data["train"], 1, show_progress=False)
        trainer.evaluate(data["valid"], load_best_model=False)
    finally:
        hook.remove()
    assert calls == []


def test_cache_holds_every_prefix_once_in_float16(data, trained):
    _, model, _ = trained
    cache = model._interest_cache
    rows = int(model.histories.offsets[-1])
    assert rows == sum(len(history) for history in default_histories().values())
    assert cache.values.dtype == torch.float16
    assert cache.nbytes == rows * model.sememe_table.q * 2
    raw = model.prefix_vectors(torch.arange(rows))
    expected = model.generalise(raw).to(torch.float16)
    assert torch.equal(cache.values, expected)
