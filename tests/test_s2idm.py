"""S2IDM: schedules, importance sampling, reverse process, buffers and the saved artifact."""

import math

import pytest
import torch

from recbole_seedrec.model.layers.diffusion import GaussianDiffusion, make_betas
from recbole_seedrec.model.seedrec.s2idm import S2IDM, MLPDenoiser

Q = 20
SEMEME_A, SEMEME_B, SEMEME_C = 0, 1, 2


def planted_users(n, generator):
    """Sememes present with p = 0.3 at weight 0.5; B follows A (95 %), C is independent."""
    present = torch.rand(n, Q, generator=generator) < 0.3
    with_a = torch.rand(n, generator=generator) < 0.95
    without_a = torch.rand(n, generator=generator) < 0.02
    present[:, SEMEME_B] = torch.where(present[:, SEMEME_A], with_a, without_a)
    return present.float() * 0.5


def train(model, data, iterations, generator, lr=1e-2, batch=256):
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(iterations):
        idx = torch.randint(0, len(data), (batch,), generator=generator)
        loss = model.training_loss(data[idx])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model


# --- schedules ---------------------------------------------------------------------------


def test_linear_schedule_is_linear_in_beta():
    betas = make_betas("linear", 3, noise_min=1e-3, noise_max=3e-3, noise_scale=0.1)
    assert torch.allclose(betas, torch.tensor([1e-4, 2e-4, 3e-4], dtype=torch.float64))


def test_linear_var_schedule_is_linear_in_variance_with_fixed_first_beta():
    betas = make_betas("linear-var", 3, noise_min=1e-3, noise_max=3e-3, noise_scale=0.1)
    # 1 - alpha_bar = 1e-4, 2e-4, 3e-4; beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}.
    expected = [1e-5, 1 - 0.9998 / 0.9999, 1 - 0.9997 / 0.9998]
    assert torch.allclose(betas, torch.tensor(expected, dtype=torch.float64), rtol=1e-9, atol=0)
    unfixed = make_betas("linear-var", 3, 1e-3, 3e-3, 0.1, beta_fixed=None)
    assert unfixed[0].item() == pytest.approx(1e-4)
    assert torch.equal(unfixed[1:], betas[1:])


def test_cosine_schedule_matches_nichol_dhariwal():
    def alpha_bar(t):
        return math.cos((t / 3 + 0.008) / 1.008 * math.pi / 2) ** 2

    expected = [min(1 - alpha_bar(i + 1) / alpha_bar(i), 0.999) for i in range(3)]
    betas = make_betas("cosine", 3)
    assert torch.allclose(betas, torch.tensor(expected, dtype=torch.float64))
    assert betas[-1].item() == pytest.approx(0.999)  # alpha_bar(T) = 0: clipped


def test_defaults_follow_the_notes():
    betas = make_betas()
    assert len(betas) == 10
    assert betas[0].item() == pytest.approx(1e-5)
    alpha_bar = torch.cumprod(1 - betas[1:], 0) * (1 - 0.01 * 5e-4)
    assert 1 - alpha_bar[-1].item() == pytest.approx(0.01 * 5e-3, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"schedule": "quadratic"}, "valid: linear-var, linear, cosine"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"steps": 2.0}, "steps must be an integer >= 1"),
        ({"noise_min": 5e-3, "noise_max": 5e-4}, "noise_min < noise_max"),
        ({"noise_scale": 0.0}, "noise_scale must be > 0"),
        ({"noise_scale": 500.0}, "noise_scale \\* noise_max must be < 1"),
        ({"beta_fixed": 2.0}, "beta_fixed must be in"),
    ],
)
def test_schedule_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_betas(**kwargs)


# --- diffusion ---------------------------------------------------------------------------


def test_forward_and_posterior_terms():
    diffusion = GaussianDiffusion(make_betas("linear", 3, 1e-3, 3e-3, 10.0))
    betas = diffusion.betas.double()
    abar = torch.cumprod(1 - betas, 0)
    assert torch.allclose(diffusion.alphas_cumprod.double(), abar)
    x0, x_t = torch.rand(4, 5), torch.rand(4, 5)
    t = torch.tensor([0, 1, 2, 2])
    # q_sample without noise only scales; the posterior at t = 0 is x0 itself.
    noiseless = diffusion.q_sample(x0, t, noise=torch.zeros_like(x0))
    assert torch.allclose(noiseless, abar.sqrt()[t, None].float() * x0)
    assert torch.allclose(diffusion.posterior_mean(x0, x_t, torch.zeros(4, dtype=torch.long)), x0)
    c1 = betas[2] * abar[1].sqrt() / (1 - abar[2])
    c2 = (1 - abar[1]) * (1 - betas[2]).sqrt() / (1 - abar[2])
    mean = diffusion.posterior_mean(x0, x_t, torch.full((4,), 2))
    assert torch.allclose(mean, (c1 * x0 + c2 * x_t).float(), atol=1e-6)
    snr = abar / (1 - abar)
    weight = diffusion.loss_weight(torch.tensor([0, 1, 2]))
    assert weight[0].item() == 1.0
    assert torch.allclose(weight[1:].double(), (snr[:2] - snr[1:]), rtol=1e-5)


def test_importance_sampling_switches_on_after_warm_up():
    torch.manual_seed(0)
    diffusion = GaussianDiffusion(make_betas("linear", 4, 1e-3, 4e-3, 1.0), history_per_step=10)
    high, low = torch.full((9,), 4.0), torch.full((9,), 1.0)
    for step in range(4):
        diffusion.record_losses(torch.full((9,), step), high if step == 2 else low)
    assert not diffusion.importance_sampling_active()
    assert torch.allclose(diffusion.sampling_distribution(), torch.full((4,), 0.25))
    t, weight = diffusion.sample_timesteps(4000)
    assert torch.equal(weight, torch.ones(4000))
    assert torch.bincount(t, minlength=4).min() > 850

    for step in range(3):
        diffusion.record_losses(torch.tensor([step]), torch.tensor([4.0 if step == 2 else 1.0]))
    assert not diffusion.importance_sampling_active()  # step 3 still has 9
    diffusion.record_losses(torch.tensor([3]), torch.tensor([1.0]))
    assert diffusion.importance_sampling_active()

    p = diffusion.sampling_distribution()
    expected = 0.999 * torch.tensor([1.0, 1.0, 4.0, 1.0]) / 7 + 0.001 / 4
    assert torch.allclose(p, expected)
    t, weight = diffusion.sample_timesteps(7000)
    assert torch.allclose(weight, p[t] * 4)
    counts = torch.bincount(t, minlength=4)
    assert counts[2] > 3 * counts[[0, 1, 3]].max()


def test_history_keeps_the_latest_losses_per_step():
    diffusion = GaussianDiffusion(make_betas("linear", 2, 1e-3, 2e-3, 1.0), history_per_step=10)
    diffusion.record_losses(torch.zeros(6, dtype=torch.long), torch.arange(6.0))
    assert diffusion.loss_count.tolist() == [6, 0]
    diffusion.record_losses(torch.tensor([0, 1, 0, 0, 0, 0, 0, 0, 0]), torch.arange(6.0, 15.0))
    assert diffusion.loss_count.tolist() == [10, 1]
    assert diffusion.loss_history[0].tolist() == [4, 5, 6, 8, 9, 10, 11, 12, 13, 14]
    assert diffusion.loss_history[1, 0].item() == 7.0


def test_training_loss_records_detached_history_in_training_mode_only():
    torch.manual_seed(0)
    model = S2IDM(Q, hidden_dims=[16])
    x = torch.rand(32, Q)
    loss = model.training_loss(x)
    assert loss.dim() == 0 and loss.requires_grad
    assert int(model.diffusion.loss_count.sum()) == 32
    assert not model.diffusion.loss_history.requires_grad
    model.eval()
    model.training_loss(x)
    assert int(model.diffusion.loss_count.sum()) == 32
    with pytest.raises(ValueError, match=r"\[batch, 20\]"):
        model.training_loss(torch.rand(4, Q + 1))


def test_generalise_is_deterministic_and_restores_the_mode():
    torch.manual_seed(0)
    model = S2IDM(Q, hidden_dims=[16])
    x = torch.rand(8, Q)
    out = model.generalise(x)
    assert model.training and not out.requires_grad
    assert torch.equal(out, model.generalise(x))
    assert not torch.equal(out, model.generalise(x, steps=3))
    model.eval()
    with torch.no_grad():
        one_step = model.denoiser(x, torch.zeros(8, dtype=torch.long))
    assert torch.equal(model.generalise(x, steps=1), one_step)
    for steps in (0, 11, 2.5):
        with pytest.raises(ValueError, match=r"steps must be an integer in \[1, 10\]"):
            model.generalise(x, steps=steps)


def test_reverse_process_moves_mass_to_the_co_occurring_sememe():
    generator = torch.Generator().manual_seed(7)
    torch.manual_seed(7)
    model = train(S2IDM(Q, hidden_dims=[64]), planted_users(2000, generator), 500, generator)
    assert model.diffusion.importance_sampling_active()
    held_out = planted_users(600, generator)
    held_out = held_out[held_out[:, SEMEME_A] > 0]
    held_out[:, [SEMEME_B, SEMEME_C]] = 0.0
    out = model.generalise(held_out)
    margin = out[:, SEMEME_B] - out[:, SEMEME_C]
    # Over seeds 0-11 the mean margin is 0.06-0.31 and positive for every user.
    assert margin.mean().item() > 0.03
    assert (margin > 0).float().mean().item() > 0.95


# --- buffers, artifact, size ---------------------------------------------------------------

BUFFERS = (
    "betas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
    "snr",
    "loss_history",
    "loss_count",
)


def test_schedule_and_history_are_buffers_that_follow_to():
    model = S2IDM(Q, hidden_dims=[16])
    state = model.state_dict()
    for name in BUFFERS:
        assert f"diffusion.{name}" in state
    model.to(torch.float64)
    assert model.diffusion.betas.dtype == torch.float64
    assert model.diffusion.loss_history.dtype == torch.float64
    assert model.diffusion.loss_count.dtype == torch.long
    model.training_loss(torch.rand(4, Q, dtype=torch.float64))
    assert model.generalise(torch.rand(4, Q, dtype=torch.float64)).dtype == torch.float64
    model.to("meta")
    assert all(getattr(model.diffusion, name).is_meta for name in BUFFERS)


def test_artifact_round_trip_under_weights_only(tmp_path):
    generator = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    model = S2IDM(Q, hidden_dims=[32], steps=4, schedule="linear", noise_scale=1.0)
    train(model, planted_users(500, generator), 20, generator, batch=64)
    assert model.diffusion.importance_sampling_active()
    path = tmp_path / "s2idm.pth"
    vocabulary = [f"sememe-{i}" for i in range(Q)]
    torch.save(
        {
            "hyperparameters": model.hyperparameters(),
            "state_dict": model.state_dict(),
            "vocabulary": vocabulary,
        },
        path,
    )

    artifact = torch.load(path, weights_only=True)
    assert artifact["vocabulary"] == vocabulary
    assert artifact["hyperparameters"] == model.hyperparameters()
    restored = S2IDM(**artifact["hyperparameters"])
    restored.load_state_dict(artifact["state_dict"])
    assert restored.diffusion.importance_sampling_active()
    assert torch.equal(restored.diffusion.loss_history, model.diffusion.loss_history)
    assert torch.equal(restored.diffusion.loss_count, model.diffusion.loss_count)
    assert torch.equal(
        restored.diffusion.sampling_distribution(), model.diffusion.sampling_distribution()
    )
    x = planted_users(16, generator)
    assert torch.equal(restored.generalise(x), model.generalise(x))
    losses = []
    for m in (model, restored):
        torch.manual_seed(3)
        losses.append(m.training_loss(x))
    assert torch.equal(losses[0], losses[1])


def test_hyperparameters_are_plain_and_rebuild_the_same_model():
    model = S2IDM(Q, hidden_dims=(8, 8), beta_fixed=None, schedule="cosine")
    hp = model.hyperparameters()
    assert hp["hidden_dims"] == [8, 8] and hp["beta_fixed"] is None
    assert all(isinstance(v, (int, float, str, list, type(None))) for v in hp.values())
    assert S2IDM(**hp).hyperparameters() == hp


def test_parameter_count_on_home_shapes():
    model = S2IDM(1265)  # Home: q = 1,265 categories, hidden [1000]
    count = sum(p.numel() for p in model.parameters())
    # Linear(10, 10) + Linear(1275, 1000) + Linear(1000, 1265), with biases.
    assert count == 110 + 1275 * 1000 + 1000 + 1000 * 1265 + 1265 == 2_542_375


def test_denoiser_shapes_and_validation():
    denoiser = MLPDenoiser(5, hidden_dims=[], time_emb_dim=3, dropout=0.0)
    assert denoiser(torch.rand(2, 5), torch.tensor([0, 4])).shape == (2, 5)
    with pytest.raises(ValueError, match="dropout"):
        MLPDenoiser(5, dropout=1.0)
    with pytest.raises(ValueError, match="hidden_dims"):
        MLPDenoiser(5, hidden_dims=[0])
