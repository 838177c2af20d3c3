"""DiffuRec and DiffuRecSys: schedule, forward process, masks, loss, seeded inference, runs."""

import math
from types import SimpleNamespace

import pytest
import torch

import recbole_seedrec  # noqa: F401  (applies the shims)
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.model.diffurec import DiffuRec
from recbole_seedrec.model.diffurecsys import DiffuRecSys
from recbole_seedrec.model.layers.item_diffusion import (
    ItemDiffusion,
    diffurec_betas,
    spaced_timesteps,
)
from recbole_seedrec.quick_start import build_model_and_trainer, prepare_data, run_recbole_seedrec
from recbole_seedrec.registry import get_model
from tests.conftest import REDUCED_SEQUENTIAL
from tests.tiny_sequences import LENS, N_ITEMS, SEQS, TARGETS
from tests.training import fit_one_batch, late_over_early

TINY = {
    "hidden_size": 16,
    "inner_size": 32,
    "n_layers": 2,
    "n_heads": 2,
    "MAX_ITEM_LIST_LENGTH": SEQS.size(1),
    "diffusion_steps": 8,
    "sampling_steps": 8,
    "seed": 2024,
}
SMALL_ML100K = {
    **REDUCED_SEQUENTIAL,
    "user_inter_num_interval": "[0,25]",
    "state": "ERROR",
    "diffusion_steps": 8,
    "sampling_steps": 4,
}
MODELS = [DiffuRec, DiffuRecSys]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def configs():
    return {m: Config(m.__name__, "ml-100k", config_dict=TINY, cmd_args=[]) for m in MODELS}


def make_model(configs, model_class, **overrides):
    """A model on a stand-in data set of ``N_ITEMS`` items: no data to load."""
    dataset = SimpleNamespace(num=lambda field: N_ITEMS)
    return model_class({**configs[model_class].final_config_dict, **overrides}, dataset)


def batch(model, seqs=SEQS, lens=LENS):
    return {model.ITEM_SEQ: seqs, model.ITEM_SEQ_LEN: lens, model.POS_ITEM_ID: TARGETS}


def test_registry_and_complete_yamls_carry_the_releases_settings():
    assert get_model("DiffuRec") is DiffuRec and get_model("DiffuRecSys") is DiffuRecSys
    diffurec = Config("DiffuRec", "ml-100k", cmd_args=[])
    expected = {
        "hidden_size": 128,
        "n_layers": 4,
        "n_heads": 4,
        "inner_size": 512,
        "hidden_dropout_prob": 0.1,
        "embedding_dropout_prob": 0.3,
        "MAX_ITEM_LIST_LENGTH": 50,
        "lambda_uncertainty": 0.001,
        "diffusion_steps": 32,
        "noise_schedule": "trunc_lin",
        "sampling_steps": 32,
        "timestep_sampler": "uniform",
        "position_embedding": False,
        "loss_type": "CE",
    }
    assert {key: diffurec[key] for key in expected} == expected
    assert diffurec["train_neg_sample_args"]["distribution"] == "none"
    sys_config = Config("DiffuRecSys", "ml-100k", cmd_args=[])
    assert sys_config["hidden_size"] == 256 and sys_config["MAX_ITEM_LIST_LENGTH"] == 100
    assert sys_config["weight_decay"] == 1e-4 and sys_config["offset_noise_scale"] == 0.1
    assert sys_config["diffusion_steps"] == 32 and sys_config["history_noise_injection"] is True


def test_truncated_linear_schedule_and_respacing():
    betas = diffurec_betas("trunc_lin", 32)
    assert betas[0].item() == pytest.approx(31.25e-4 + 0.01)
    assert betas[-1].item() == pytest.approx(0.625 + 0.01)
    assert torch.all(betas[1:] > betas[:-1])
    assert diffurec_betas("trunc_lin", 4)[-1].item() == pytest.approx(0.26)  # flatter fallback
    with pytest.raises(ValueError, match="trunc_lin"):
        diffurec_betas("linear", 8)  # the end would pass 1
    assert spaced_timesteps(32, 32).tolist() == list(range(32))
    assert spaced_timesteps(32, 4).tolist() == [0, 10, 21, 31]
    assert spaced_timesteps(32, 1).tolist() == [31]
    with pytest.raises(ValueError, match="sampling steps"):
        spaced_timesteps(32, 33)


def test_forward_process_and_offset_noise():
    diffusion = ItemDiffusion(diffurec_betas("trunc_lin", 8))
    x0, noise = torch.randn(4, 16), torch.randn(4, 16)
    t = torch.tensor([0, 3, 5, 7])
    alpha_bar = torch.cumprod(1 - diffurec_betas("trunc_lin", 8), 0)[t].float().unsqueeze(1)
    expected = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    assert torch.allclose(diffusion.q_sample(x0, t, noise), expected, atol=1e-6)

    offset = ItemDiffusion(diffurec_betas("trunc_lin", 8), offset_noise_scale=0.1)
    like = torch.empty(4000, 16)
    plain = diffusion.noise_like(like, torch.Generator().manual_seed(1))
    shifted = offset.noise_like(like, torch.Generator().manual_seed(1))
    shift = shifted - plain
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)  # shared by dims
    assert shift[:, 0].std().item() == pytest.approx(0.1, rel=0.1)  # one N(0, c^2) per sample


@pytest.mark.parametrize("model_class", MODELS)
def test_padding_gets_no_noise(configs, model_class):
    model = make_model(configs, model_class).eval()
    seen = {}
    model.approximator.register_forward_hook(lambda m, args, out: seen.update(hidden=args[0]))
    model.full_sort_predict(batch(model))
    assert (seen["hidden"][1, 3:] == 0).all() and (seen["hidden"][2, 1:] == 0).all()
    assert (seen["hidden"][0] != 0).all()  # real items do get the noisy target


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("positions", [False, True])
def test_padding_keys_are_never_attended(configs, model_class, positions):
    """Whatever sits at padding positions, the real positions' outputs stay the same."""
    model = make_model(configs, model_class, position_embedding=positions).eval()
    history, valid = model.embed_history(SEQS)
    masks = model.attention_masks(SEQS)
    target = torch.randn(len(SEQS), 1, model.hidden_size)
    clean = model.approximator(history, masks[0], valid, target, masks[1])
    garbage = history + 5.0 * torch.randn_like(history) * (1 - valid)
    dirty = model.approximator(garbage, masks[0], valid, target, masks[1])
    real = valid.squeeze(-1).bool()
    assert torch.allclose(clean[real], dirty[real], atol=1e-5)
    assert not torch.allclose(clean[~real], dirty[~real])  # the garbage did reach the model


def test_self_attention_is_causal(configs):
    model = make_model(configs, DiffuRec).eval()
    history, valid = model.embed_history(SEQS[:1])
    changed_seq = SEQS[:1].clone()
    changed_seq[0, 5:] = torch.tensor([19, 18, 17])
    changed, _ = model.embed_history(changed_seq)
    mask, _ = model.attention_masks(SEQS[:1])
    out = model.approximator(history, mask, valid)
    out_changed = model.approximator(changed, mask, valid)
    assert torch.allclose(out[0, :5], out_changed[0, :5], atol=1e-6)  # positions 0..4
    assert not torch.allclose(out[0, 5:], out_changed[0, 5:])


def test_every_stacked_cross_attention_block_matters(configs):
    """The release fed the original input to every block, so only the last one counted."""
    model = make_model(configs, DiffuRecSys).eval()
    assert all(block.cross is not None for block in model.approximator.blocks)
    before = model.full_sort_predict(batch(model))
    with torch.no_grad():
        model.approximator.blocks[0].cross.value.weight.mul_(3.0)
    assert not torch.allclose(model.full_sort_predict(batch(model)), before, atol=1e-4)
    assert model.diffusion.offset_noise_scale == 0.1


@pytest.mark.parametrize("model_class", MODELS)
def test_inference_is_seeded_and_reproducible(configs, model_class):
    model = make_model(configs, model_class).eval()
    first = model.full_sort_predict(batch(model))
    torch.manual_seed(123)  # the global generator plays no part
    assert first.shape == (len(SEQS), N_ITEMS)
    assert torch.equal(model.full_sort_predict(batch(model)), first)
    other = make_model(configs, model_class, inference_seed=7).eval()
    other.load_state_dict(model.state_dict())
    assert not torch.allclose(other.full_sort_predict(batch(other)), first)
    items = torch.tensor([9, 14, 10])
    one_by_one = model.predict({**batch(model), model.ITEM_ID: items})
    assert torch.equal(one_by_one, first[torch.arange(3), items])


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_sampling_steps_set_the_approximator_calls(configs, steps):
    model = make_model(configs, DiffuRec, sampling_steps=steps).eval()
    told = []
    model.time_embedding.register_forward_hook(lambda m, args, out: told.append(args[0][0].item()))
    model.full_sort_predict(batch(model))
    assert told == spaced_timesteps(8, steps).flip(0).tolist()


@pytest.mark.parametrize("model_class", MODELS)
def test_loss_decreases_on_a_tiny_batch(configs, model_class):
    model = make_model(
        configs,
        model_class,
        hidden_dropout_prob=0.0,
        attn_dropout_prob=0.0,
        embedding_dropout_prob=0.0,
    )
    losses = fit_one_batch(model, lambda: batch(model), steps=40)
    assert late_over_early(losses, 5) < 0.5


def test_loss_aware_sampler_is_fed_and_reweights(configs):
    uniform = make_model(configs, DiffuRec)
    uniform.calculate_loss(batch(uniform))
    assert int(uniform.diffusion.process.loss_count.sum()) == 0
    model = make_model(configs, DiffuRec, timestep_sampler="lossaware")
    big = {
        key: value.repeat(30) if value.dim() == 1 else value.repeat(30, 1)
        for key, value in batch(model).items()
    }
    for _ in range(5):
        model.calculate_loss(big)
    assert model.diffusion.process.importance_sampling_active()
    t, weights = model.diffusion.sample_timesteps(500, "cpu")
    p = model.diffusion.process.sampling_distribution()
    assert not torch.allclose(p, torch.full((8,), 1 / 8))  # no longer uniform
    assert torch.allclose(weights, 8 * p[t])  # each loss is divided by T p_t


@pytest.mark.parametrize(
    "model_class, bad",
    [
        (DiffuRec, {"noise_schedule": "cosine"}),
        (DiffuRec, {"sampling_steps": 9}),
        (DiffuRec, {"timestep_sampler": "random"}),
        (DiffuRec, {"loss_type": "BPR"}),
        (DiffuRec, {"n_heads": 3}),
        (DiffuRec, {"embedding_dropout_prob": 1.5}),
        (DiffuRecSys, {"offset_noise_scale": -0.1}),
        (DiffuRecSys, {"history_noise_injection": "yes"}),
    ],
)
def test_bad_options_are_refused(configs, model_class, bad):
    key = next(iter(bad))
    with pytest.raises(ConfigError, match=key if key != "n_heads" else "hidden_size"):
        make_model(configs, model_class, **bad)


@pytest.mark.parametrize(
    "model, mode",
    [("DiffuRec", "uni999"), ("DiffuRec", "full"), ("DiffuRecSys", "full")],
)
def test_one_epoch_on_ml100k(tmp_path, model, mode):
    eval_args = {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": mode}
    result = run_recbole_seedrec(
        model,
        "ml-100k",
        config_dict={**SMALL_ML100K, "eval_args": eval_args, "checkpoint_dir": str(tmp_path)},
        cmd_args=[],
    )
    assert result["test_result"] and all(math.isfinite(v) for v in result["test_result"].values())
    assert 0 <= result["test_result"]["hit@10"] <= 1


def test_two_evaluations_of_a_trained_model_agree(tmp_path):
    """A full-ranking evaluation repeats exactly, whatever the global random state."""
    settings = {
        **SMALL_ML100K,
        "checkpoint_dir": str(tmp_path),
        "eval_args": {
            "split": {"LS": "valid_and_test"},
            "order": "TO",
            "group_by": "user",
            "mode": "full",
        },
    }
    config = Config("DiffuRecSys", "ml-100k", config_dict=settings, cmd_args=[])
    _, train_data, valid_data, test_data = prepare_data(config)
    _, trainer = build_model_and_trainer(config, train_data)
    trainer.fit(train_data, valid_data, saved=False)
    first = trainer.evaluate(test_data, load_best_model=False)
    torch.manual_seed(99)
    assert trainer.evaluate(test_data, load_best_model=False) == first
    assert set(first) >= {"hit@10", "ndcg@10"}
