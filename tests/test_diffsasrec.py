"""DiffSASRec: masking, the 1/p loss, [MASK] never scored, generation, fine-tuning, runs."""

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import recbole_seedrec  # noqa: F401  (applies the shims)
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.model.diffsasrec import DiffSASRec
from recbole_seedrec.model.layers.masked_diffusion import (
    confident_fill,
    lower_thresholds,
    mask_items,
    masked_diffusion_loss,
    masking_rates,
)
from recbole_seedrec.quick_start import build_model_and_trainer, prepare_data, run_recbole_seedrec
from recbole_seedrec.registry import get_model, get_trainer
from recbole_seedrec.trainer import DiffSASRecTrainer
from tests.conftest import REDUCED_SEQUENTIAL
from tests.tiny_sequences import LENS, N_ITEMS, SEQS, TARGETS
from tests.training import fit_one_batch, late_over_early

MASK = N_ITEMS  # [MASK] is the id after the last item
TINY = {
    "hidden_size": 16,
    "inner_size": 32,
    "n_layers": 1,
    "n_heads": 2,
    "MAX_ITEM_LIST_LENGTH": SEQS.size(1),
    "generation_slots": 3,
}
SMALL_ML100K = {**REDUCED_SEQUENTIAL, "user_inter_num_interval": "[0,25]", "state": "ERROR"}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def config():
    return Config("DiffSASRec", "ml-100k", config_dict=TINY, cmd_args=[])


def make_model(config, **overrides):
    dataset = SimpleNamespace(num=lambda field: N_ITEMS)
    return DiffSASRec({**config.final_config_dict, **overrides}, dataset)


def batch(model, seqs=SEQS, lens=LENS):
    return {model.ITEM_SEQ: seqs, model.ITEM_SEQ_LEN: lens, model.POS_ITEM_ID: TARGETS}


def test_registry_trainer_and_complete_yaml():
    assert get_model("DiffSASRec") is DiffSASRec
    assert issubclass(get_trainer(DiffSASRec.type, "DiffSASRec"), DiffSASRecTrainer)
    defaults = Config("DiffSASRec", "ml-100k", cmd_args=[])
    expected = {
        "n_layers": 2,
        "n_heads": 2,
        "hidden_size": 64,
        "min_mask_rate": 0.001,
        "loss_type": "CE",
        "generation_slots": 5,
        "generation_threshold": 0.9,
        "generation_threshold_decay": 0.5,
        "generation_max_steps": None,
        "finetune_epochs": 0,
        "finetune_learning_rate": None,
        "finetune_stopping_step": None,
    }
    assert {key: defaults[key] for key in expected} == expected
    assert defaults["train_neg_sample_args"]["distribution"] == "none"


def test_masking_rates_and_padding_never_masked():
    rates = masking_rates(20000, 1e-3, "cpu")
    assert rates.min() >= 1e-3 and rates.max() <= 1.0
    assert rates.mean().item() == pytest.approx(0.5, abs=0.01)
    seqs = SEQS.repeat(2000, 1)
    row_rates = torch.tensor([0.2, 0.5, 0.9]).repeat(2000)
    corrupted, masked = mask_items(seqs, row_rates, MASK)
    assert not masked[seqs == 0].any() and (corrupted[seqs == 0] == 0).all()
    assert torch.equal(corrupted[masked], torch.full((int(masked.sum()),), MASK))
    assert torch.equal(corrupted[~masked], seqs[~masked])
    real = seqs != 0
    for row, rate in enumerate([0.2, 0.5, 0.9]):
        share = masked[row::3][real[row::3]].float().mean().item()
        assert share == pytest.approx(rate, abs=0.03)


def test_loss_divides_each_masked_item_by_its_rate():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    targets = torch.tensor([0, 2, 2])
    rates = torch.tensor([0.5, 0.5, 0.25])
    ce = F.cross_entropy(logits, targets, reduction="none")
    expected = (ce[0] / 0.5 + ce[1] / 0.5 + ce[2] / 0.25) / 10
    assert masked_diffusion_loss(logits, targets, rates, n_real=10) == pytest.approx(
        expected.item()
    )
    empty = masked_diffusion_loss(torch.zeros(0, 3, requires_grad=True), targets[:0], rates[:0], 4)
    assert empty.item() == 0.0 and empty.requires_grad


def test_model_loss_with_everything_masked_is_the_mean_cross_entropy(config):
    """min_mask_rate = 1 masks every real item of ``prefix + [target]``: weight 1 / p = 1."""
    model = make_model(config, min_mask_rate=1.0).eval()
    loss = model.calculate_loss(batch(model))
    full = torch.tensor(
        [[1, 2, 3, 4, 5, 6, 7, 8, 9], [11, 12, 13, 14, 0, 0, 0, 0, 0], [9, 10, 0, 0, 0, 0, 0, 0, 0]]
    )
    real = full != 0
    hidden = model.encode(full.masked_fill(real, MASK))[real]
    expected = F.cross_entropy(model.item_logits(hidden), full[real])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_mask_token_is_read_but_never_scored(config):
    model = make_model(config).eval()
    assert model.item_embedding.num_embeddings == N_ITEMS + 1
    scores = model.full_sort_predict(batch(model))
    assert scores.shape == (len(SEQS), N_ITEMS)
    sequences, slots = model.with_slots(SEQS, LENS, 1)
    assert slots[:, 0].tolist() == [8, 3, 1] and (sequences.gather(1, slots) == MASK).all()
    items = torch.tensor([9, 14, 10])
    one_by_one = model.predict({**batch(model), model.ITEM_ID: items})
    assert torch.allclose(one_by_one, scores[torch.arange(3), items])


def test_bidirectional_attention_ignores_padding(config):
    model = make_model(config, MAX_ITEM_LIST_LENGTH=12).eval()
    scores = model.full_sort_predict(batch(model))
    longer = F.pad(SEQS, (0, 4))
    assert torch.allclose(model.full_sort_predict(batch(model, longer)), scores, atol=1e-5)
    hidden = model.encode(torch.tensor([[1, 2, 3, MASK]]))
    changed = model.encode(torch.tensor([[1, 2, 4, MASK]]))
    assert not torch.allclose(hidden[0, 0], changed[0, 0])  # later items reach earlier ones


def test_long_histories_keep_their_latest_items_beside_the_slots(config):
    model = make_model(config)  # positions: 8 history + 3 slots
    seqs, lens = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]]), torch.tensor([8])
    sequences, slots = model.with_slots(seqs, lens, 5)
    assert sequences.tolist() == [[3, 4, 5, 6, 7, 8] + [MASK] * 5]
    assert slots.tolist() == [[6, 7, 8, 9, 10]]


def test_thresholds_are_lowered_until_a_slot_qualifies():
    lowered = lower_thresholds(torch.tensor([0.9, 0.9, 0.9]), torch.tensor([0.3, 0.95, 0.0]), 0.5)
    assert lowered.tolist() == pytest.approx([0.225, 0.9, 0.9])


def test_confident_fill_most_confident_first_and_distinct():
    probs = torch.tensor([[[0.0, 0.7, 0.2, 0.1], [0.0, 0.8, 0.1, 0.1], [0.0, 0.1, 0.1, 0.3]]])
    open_slots = torch.ones(1, 3, dtype=torch.bool)
    items, conf, thresholds = confident_fill(probs, open_slots, torch.tensor([0.5]), 0.5)
    assert items.tolist() == [[-1, 1, -1]]  # slot 1 takes item 1; slot 0 falls to 0.2 < 0.5
    assert conf[0, 1].item() == pytest.approx(0.8) and thresholds.item() == 0.5
    items, _, _ = confident_fill(probs, open_slots, torch.tensor([0.5]), 0.5, fill_all=True)
    assert items.tolist() == [[2, 1, 3]]  # every slot, distinct items
    items, _, thresholds = confident_fill(probs, open_slots, torch.tensor([0.95]), 0.5)
    assert thresholds.item() == pytest.approx(0.475) and items.tolist() == [[-1, 1, -1]]


@pytest.mark.parametrize("max_steps", [1, 2, None])
def test_generate_fills_k_distinct_unseen_items(config, max_steps):
    model = make_model(config)
    items, conf, steps = model.generate(SEQS, LENS, slots=3, max_steps=max_steps)
    assert items.shape == (3, 3) and steps <= (max_steps or 3) and model.training
    for row, history in zip(items.tolist(), SEQS.tolist()):
        assert len(set(row)) == 3 and all(0 < item < N_ITEMS for item in row)
        assert not set(row) & set(history)
    assert ((conf > 0) & (conf <= 1)).all()
    if max_steps == 1:
        assert steps == 1  # one pass fills every slot
    again = model.generate(SEQS, LENS, slots=3, max_steps=max_steps)
    assert torch.equal(again[0], items)  # deterministic


def test_loss_decreases_on_a_tiny_batch(config):
    model = make_model(config, hidden_dropout_prob=0.0, attn_dropout_prob=0.0)
    losses = fit_one_batch(model, lambda: batch(model), steps=60)
    assert late_over_early(losses, 10) < 0.6


def test_finetuning_objective_is_next_item_cross_entropy(config):
    model = make_model(config).eval()
    model.start_finetuning()
    expected = F.cross_entropy(model.full_sort_predict(batch(model)), TARGETS)
    assert model.calculate_loss(batch(model)).item() == pytest.approx(expected.item())
    assert bool(model.state_dict()["finetuning"])


@pytest.mark.parametrize(
    "bad",
    [
        {"min_mask_rate": 0.0},
        {"generation_threshold": 1.5},
        {"generation_threshold_decay": 1.0},
        {"loss_type": "BPR"},
        {"finetune_epochs": -1},
        {"finetune_learning_rate": 0},
        {"generation_slots": 0},
    ],
)
def test_bad_options_are_refused(config, bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        make_model(config, **bad)


def _trainer(tmp_path, **overrides):
    settings = {**SMALL_ML100K, "checkpoint_dir": str(tmp_path), **overrides}
    config = Config("DiffSASRec", "ml-100k", config_dict=settings, cmd_args=[])
    _, train_data, valid_data, _ = prepare_data(config)
    model, trainer = build_model_and_trainer(config, train_data)
    return model, trainer, train_data, valid_data


def _last_saved(folder):
    (path,) = folder.iterdir()
    return str(path)


def test_finetuning_stage_keeps_the_best_of_both_stages(tmp_path):
    model, trainer, train_data, valid_data = _trainer(tmp_path / "a", epochs=2)
    pretrained, _ = trainer.fit(train_data, valid_data)
    assert not bool(model.finetuning)
    model, trainer, train_data, valid_data = _trainer(
        tmp_path / "b", epochs=2, finetune_epochs=2, finetune_learning_rate=0.002
    )
    best, _ = trainer.fit(train_data, valid_data)
    assert bool(model.finetuning) and trainer.epochs == 2
    assert trainer.optimizer.param_groups[0]["lr"] == 0.002
    assert best >= pretrained  # the same pre-training, then a bar that never goes down

    # A checkpoint of the fine-tuning stage resumes in that stage: no diffusion loss again.
    trainer._save_checkpoint(0, verbose=False)
    model, trainer, train_data, valid_data = _trainer(tmp_path / "c", epochs=2, finetune_epochs=3)
    trainer.resume_checkpoint(_last_saved(tmp_path / "b"))
    assert bool(model.finetuning)
    model.diffusion_loss = None  # calling it would fail
    trainer.fit(train_data, valid_data)
    assert trainer.epochs == 3


@pytest.mark.parametrize("mode", ["uni999", "full"])
def test_one_epoch_on_ml100k(tmp_path, mode):
    eval_args = {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": mode}
    result = run_recbole_seedrec(
        "DiffSASRec",
        "ml-100k",
        config_dict={**SMALL_ML100K, "eval_args": eval_args, "checkpoint_dir": str(tmp_path)},
        cmd_args=["--finetune_epochs=1"],
    )
    assert result["test_result"] and all(math.isfinite(v) for v in result["test_result"].values())
    assert 0 <= result["test_result"]["hit@10"] <= 1
