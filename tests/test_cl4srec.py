"""CL4SRec: the three augmentations, InfoNCE, the [mask] row and a run on ml-100k."""

import math
from types import SimpleNamespace

import pytest
import torch

import recbole_seedrec  # noqa: F401  (applies the shims)
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.model.cl4srec import (
    CL4SRec,
    crop_sequences,
    info_nce,
    mask_sequences,
    reorder_sequences,
)
from recbole_seedrec.quick_start import run_recbole_seedrec
from recbole_seedrec.registry import get_model
from tests.conftest import REDUCED_SEQUENTIAL
from tests.training import fit_one_batch, late_over_early

N_ITEMS = 21  # ids 1..20 are items, 0 is padding, 21 becomes [mask]
MASK = N_ITEMS
# Right-padded as RecBole pads; lengths 8, 5, 1 and 2.
SEQS = torch.tensor(
    [
        [1, 2, 3, 4, 5, 6, 7, 8],
        [11, 12, 13, 14, 15, 0, 0, 0],
        [9, 0, 0, 0, 0, 0, 0, 0],
        [17, 18, 0, 0, 0, 0, 0, 0],
    ]
)
LENS = torch.tensor([8, 5, 1, 2])
DRAWS = 250  # the hand-made batch repeated, so one call covers many random draws

# 137 users with at most 25 interactions: an epoch in a few seconds, not minutes.
SMALL_ML100K = {
    **REDUCED_SEQUENTIAL,
    "user_inter_num_interval": "[0,25]",
    "state": "ERROR",
}


def _many():
    return SEQS.repeat(DRAWS, 1), LENS.repeat(DRAWS)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def config():
    small = {**REDUCED_SEQUENTIAL, "MAX_ITEM_LIST_LENGTH": SEQS.size(1)}
    return Config("CL4SRec", "ml-100k", config_dict=small, cmd_args=[])


def make_model(config, **overrides):
    """A CL4SRec on a stand-in data set of ``N_ITEMS`` items: no data to load."""
    dataset = SimpleNamespace(num=lambda field: N_ITEMS)
    return CL4SRec({**config.final_config_dict, **overrides}, dataset)


def test_registry_and_complete_yaml(config):
    assert get_model("CL4SRec") is CL4SRec
    defaults = Config("CL4SRec", "ml-100k", cmd_args=[])
    expected = {
        "n_layers": 2,
        "n_heads": 2,
        "hidden_size": 64,
        "inner_size": 256,
        "hidden_dropout_prob": 0.5,
        "attn_dropout_prob": 0.5,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "initializer_range": 0.02,
        "loss_type": "CE",
        "cl_weight": 0.1,
        "cl_temperature": 1.0,
        "cl_similarity": "dot",
        "cl_augmentations": ["crop", "mask", "reorder"],
        "crop_eta": 0.6,
        "mask_gamma": 0.3,
        "reorder_beta": 0.6,
    }
    assert {key: defaults[key] for key in expected} == expected
    assert defaults["train_neg_sample_args"]["distribution"] == "none"


def test_crop_keeps_a_contiguous_window_at_the_front():
    seqs, lens = _many()
    cropped, new_lens = crop_sequences(seqs, lens, eta=0.6)
    assert new_lens.tolist() == [max(1, math.floor(0.6 * n)) for n in lens.tolist()]
    starts = set()
    for original, n, row, kept in zip(seqs, lens, cropped, new_lens):
        window = row[:kept].tolist()
        assert (row[kept:] == 0).all()
        matches = [s for s in range(n - kept + 1) if original[s : s + kept].tolist() == window]
        assert matches, (original, row)
        if n == 8:
            starts.add(matches[0])
    assert starts == {0, 1, 2, 3, 4}  # every start of a length-4 window in 8 items occurs


def test_mask_replaces_the_right_count_and_leaves_padding():
    seqs, lens = _many()
    masked, new_lens = mask_sequences(seqs, lens, gamma=0.3, mask_token=MASK)
    assert torch.equal(new_lens, lens)
    n_masked = (masked == MASK).sum(dim=1)
    assert n_masked.tolist() == [math.floor(0.3 * n) for n in lens.tolist()]
    kept = masked != MASK
    assert torch.equal(masked[kept], seqs[kept])
    padding = torch.arange(seqs.size(1)) >= lens.unsqueeze(1)
    assert (masked[padding] == 0).all()
    assert (masked[:, 0] == MASK).any() and (masked[:, 7] == MASK).any()  # any item can go


def test_reorder_shuffles_inside_one_window_only():
    seqs, lens = _many()
    reordered, new_lens = reorder_sequences(seqs, lens, beta=0.6)
    assert torch.equal(new_lens, lens)
    assert torch.equal(reordered.sort(dim=1).values, seqs.sort(dim=1).values)
    moved_rows = 0
    for original, n, row in zip(seqs, lens, reordered):
        moved = (row != original).nonzero().flatten()
        if len(moved):
            moved_rows += 1
            assert moved.max() - moved.min() < math.floor(0.6 * n)
            assert moved.max() < n
    assert moved_rows > DRAWS // 2  # windows of 4 (len 8) and 3 (len 5) items are shuffled


@pytest.mark.parametrize(
    "augment",
    [
        lambda s, n: crop_sequences(s, n, 0.6),
        lambda s, n: mask_sequences(s, n, 0.3, MASK),
        lambda s, n: reorder_sequences(s, n, 0.6),
        lambda s, n: crop_sequences(s, n, 0.0),  # even eta = 0 keeps one item
    ],
    ids=["crop", "mask", "reorder", "crop-eta0"],
)
def test_length_one_sequences_are_left_intact(augment):
    seqs = torch.tensor([[9, 0, 0], [4, 0, 0]])
    lens = torch.tensor([1, 1])
    out, out_lens = augment(seqs, lens)
    assert torch.equal(out, seqs) and torch.equal(out_lens, lens)


def test_info_nce_on_a_hand_computed_2x2_example():
    view_a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    view_b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # Every view: similarity 1 to its pair, 0 to the two others -> -log(e / (e + 2)).
    assert info_nce(view_a, view_b, 1.0) == pytest.approx(math.log(1 + 2 / math.e))
    # tau = 0.5 doubles every similarity: -log(e^2 / (e^2 + 2)).
    assert info_nce(view_a, view_b, 0.5) == pytest.approx(math.log(1 + 2 / math.e**2))
    # Cosine ignores the norms that a dot product would see.
    assert info_nce(3 * view_a, view_b, 1.0, "cos") == pytest.approx(math.log(1 + 2 / math.e))


def test_views_of_one_batch_and_length_one_sequences(config):
    model = make_model(config)
    seqs, lens = _many()
    view, view_lens = model.augment(seqs, lens)
    assert view.shape == seqs.shape and (view_lens >= 1).all()
    assert (view == MASK).any()  # the mask augmentation was drawn for some rows
    single = torch.tensor([[9, 0, 0, 0, 0, 0, 0, 0]] * 3)
    loss = model.contrastive_loss(single, torch.ones(3, dtype=torch.long))
    assert torch.isfinite(loss)


def test_mask_token_is_read_but_never_scored(config):
    model = make_model(config).eval()
    assert model.item_embedding.num_embeddings == N_ITEMS + 1
    batch = {model.ITEM_SEQ: SEQS.clone(), model.ITEM_SEQ_LEN: LENS}
    batch[model.ITEM_SEQ][0, 3] = MASK
    scores = model.full_sort_predict(batch)
    assert scores.shape == (len(SEQS), N_ITEMS)
    items = torch.tensor([1, 5, 20, 3])
    one_by_one = model.predict({**batch, model.ITEM_ID: items})
    assert torch.allclose(one_by_one, scores[torch.arange(4), items], atol=1e-6)


def test_loss_decreases_on_a_tiny_batch(config):
    model = make_model(config, hidden_dropout_prob=0.0, attn_dropout_prob=0.0)
    batch = {
        model.ITEM_SEQ: SEQS,
        model.ITEM_SEQ_LEN: LENS,
        model.POS_ITEM_ID: torch.tensor([9, 16, 10, 19]),
    }
    losses = fit_one_batch(model, lambda: batch, steps=30)
    assert late_over_early(losses, 5) < 0.8


@pytest.mark.parametrize(
    "bad",
    [{"crop_eta": 1.5}, {"cl_temperature": 0}, {"cl_augmentations": ["crop", "flip"]}],
)
def test_bad_options_are_refused(config, bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        make_model(config, **bad)


@pytest.mark.parametrize(
    "overrides, cmd_args",
    [
        ({}, []),
        (
            {"train_neg_sample_args": {"distribution": "uniform", "sample_num": 1}},
            ["--loss_type=BPR"],
        ),
    ],
    ids=["CE", "BPR"],
)
def test_one_epoch_on_ml100k(tmp_path, overrides, cmd_args):
    result = run_recbole_seedrec(
        "CL4SRec",
        "ml-100k",
        config_dict={**SMALL_ML100K, **overrides, "checkpoint_dir": str(tmp_path)},
        cmd_args=cmd_args,
    )
    assert result["test_result"] and all(math.isfinite(v) for v in result["test_result"].values())
    assert math.isfinite(result["best_valid_score"])


@pytest.mark.parametrize("model_name", ["CL4SRec", "SeeDRecCL4SRec"])
def test_backward_in_parts_gives_the_one_backward_gradients(synthetic, model_name):
    """Training mode, dropout on: the same random draws, loss value and parameter gradients,
    with the gradients zeroed after ``calculate_loss`` (nothing is written to ``.grad`` early)."""
    from recbole_seedrec.quick_start import build_model_and_trainer
    from tests.seedrec_data import NAME, build_data, make_config

    results = {}
    for in_parts in (True, False):
        config = make_config(model_name, synthetic["root"], NAME, cl_backward_in_parts=in_parts)
        data = build_data(config)
        model, _ = build_model_and_trainer(config, data["train"])
        if model_name.startswith("SeeDRec"):
            model.freeze_s2idm()  # S2IDM untrained: the same interest both times
        model.train()
        assert model.backward_in_parts() is in_parts
        batch = next(iter(data["train"]))
        torch.manual_seed(7)
        loss = model.calculate_loss(batch)
        model.zero_grad(set_to_none=True)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results[in_parts] = loss.detach(), grads
    (loss, grads), (expected_loss, expected) = results[True], results[False]
    torch.testing.assert_close(loss, expected_loss)
    assert grads.keys() == expected.keys() and any("prompt" in n for n in grads) == (
        model_name == "SeeDRecCL4SRec"
    )
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected[name], rtol=1e-4, atol=1e-7, msg=name)


def test_backward_in_parts_takes_a_bool(synthetic):
    from tests.seedrec_data import NAME, build_data, make_config

    config = make_config("CL4SRec", synthetic["root"], NAME, cl_backward_in_parts="yes")
    with pytest.raises(ConfigError, match="cl_backward_in_parts is 'yes'"):
        get_model("CL4SRec")(config, build_data(config)["train"]._dataset)
