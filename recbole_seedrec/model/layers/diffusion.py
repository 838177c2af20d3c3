"""A Gaussian diffusion (DDPM) over vectors, as plain torch modules: the noise schedules, the
timestep embedding, the x0-prediction loss and the deterministic reverse pass. S2IDM
(``model/seedrec/s2idm.py``) diffuses sememe vectors with it, DiffuRec item embeddings.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

SCHEDULES = ("linear-var", "linear", "cosine")
MAX_BETA = 0.999
COSINE_OFFSET = 0.008


def _linspace(start, end, steps):
    if steps == 1:
        return torch.tensor([start], dtype=torch.float64)
    return torch.linspace(start, end, steps, dtype=torch.float64)


def make_betas(
    schedule="linear-var",
    steps=10,
    noise_min=5e-4,
    noise_max=5e-3,
    noise_scale=0.01,
    beta_fixed=1e-5,
):
    """Per-step betas (float64) of a named schedule.

    ``beta_fixed`` overrides the first beta of ``linear-var`` only (None keeps the derived
    one): that schedule's own first beta is the tiny start variance, which DiffRec pins.
    ``cosine`` ignores the noise bounds; its shape is fixed by Nichol & Dhariwal.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown noise schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if schedule == "cosine":
        return _cosine_betas(steps)
    if not 0 <= noise_min < noise_max:
        raise ValueError(f"need 0 <= noise_min < noise_max, got {noise_min} and {noise_max}")
    if noise_scale <= 0:
        raise ValueError(f"noise_scale must be > 0, got {noise_scale}")
    start, end = noise_scale * noise_min, noise_scale * noise_max
    if end >= 1:
        raise ValueError(f"noise_scale * noise_max must be < 1, got {end}")
    if schedule == "linear":
        betas = _linspace(start, end, steps)
    else:
        # 1 - alpha_bar is the linear quantity; betas follow from consecutive ratios.
        alpha_bar = 1.0 - _linspace(start, end, steps)
        ratios = alpha_bar[1:] / alpha_bar[:-1]
        betas = torch.cat([1.0 - alpha_bar[:1], 1.0 - ratios]).clamp(max=MAX_BETA)
        if beta_fixed is not None:
            if not 0 < beta_fixed < 1:
                raise ValueError(f"beta_fixed must be in (0, 1), got {beta_fixed}")
            betas[0] = beta_fixed
    if not bool((betas > 0).all()):
        raise ValueError(f"schedule {schedule!r} gives non-positive betas; raise noise_min")
    return betas


def _cosine_betas(steps):
    def alpha_bar(t):
        return math.cos((t / steps + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar(i + 1) / alpha_bar(i), MAX_BETA) for i in range(steps)]
    return torch.tensor(betas, dtype=torch.float64)


def _extract(values, t, like):
    """values[t] shaped to broadcast against ``like`` (batch first), in its dtype."""
    out = values.to(like.device)[t].to(like.dtype)
    return out.reshape(t.shape + (1,) * (like.dim() - t.dim()))


def timestep_embedding(t, dim, max_period=10000):
    """Sinusoidal embedding of integer steps, as in Transformer positions."""
    half = dim // 2
    exponent = torch.arange(half, dtype=torch.float32, device=t.device) / max(half, 1)
    freqs = torch.exp(-math.log(max_period) * exponent)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class GaussianDiffusion(nn.Module):
    """DDPM schedule, x0-prediction loss with importance-sampled steps, deterministic reverse.

    Schedule and loss history are buffers, so they follow ``.to()`` and a checkpoint restores
    the importance-sampling state instead of restarting the uniform warm-up.
    """

    def __init__(self, betas, history_per_step=10, uniform_mix=0.001):
        super().__init__()
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.dim() != 1 or len(betas) < 1 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("betas must be a non-empty 1-d tensor with values in (0, 1)")
        if history_per_step < 1:
            raise ValueError(f"history_per_step must be >= 1, got {history_per_step}")
        if not 0 <= uniform_mix <= 1:
            raise ValueError(f"uniform_mix must be in [0, 1], got {uniform_mix}")
        self.steps = len(betas)
        self.history_per_step = history_per_step
        self.uniform_mix = uniform_mix

        alphas = 1.0 - betas
        abar = torch.cumprod(alphas, dim=0)
        abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
        post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
        # post_var[0] is 0; its log is clipped to the next step's (or beta's when T = 1).
        first = post_var[1:2] if self.steps > 1 else betas[:1]
        schedule = {
            "betas": betas,
            "alphas_cumprod": abar,
            "alphas_cumprod_prev": abar_prev,
            "sqrt_alphas_cumprod": abar.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1.0 - abar).sqrt(),
            "posterior_variance": post_var,
            "posterior_log_variance_clipped": torch.log(torch.cat([first, post_var[1:]])),
            "posterior_mean_coef1": betas * abar_prev.sqrt() / (1.0 - abar),
            "posterior_mean_coef2": (1.0 - abar_prev) * alphas.sqrt() / (1.0 - abar),
            "snr": abar / (1.0 - abar),
        }
        dtype = torch.get_default_dtype()
        for name, value in schedule.items():
            self.register_buffer(name, value.to(dtype))
        self.register_buffer("loss_history", torch.zeros(self.steps, history_per_step))
        self.register_buffer("loss_count", torch.zeros(self.steps, dtype=torch.long))

    def q_sample(self, x0, t, noise=None):
        """x_t ~ q(x_t | x0)."""
        if noise is None:
            noise = torch.randn_like(x0)
        return (
            _extract(self.sqrt_alphas_cumprod, t, x0) * x0
            + _extract(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise
        )

    def posterior_mean(self, x0, x_t, t):
        """Mean of q(x_{t-1} | x_t, x0)."""
        return (
            _extract(self.posterior_mean_coef1, t, x_t) * x0
            + _extract(self.posterior_mean_coef2, t, x_t) * x_t
        )

    def loss_weight(self, t):
        """SNR(t-1) - SNR(t), and 1 at t = 0 (where SNR(-1) is undefined)."""
        prev = self.snr[(t - 1).clamp(min=0)]
        return torch.where(t == 0, torch.ones_like(prev), prev - self.snr[t])

    def importance_sampling_active(self):
        """Whether every step has a full loss history (the warm-up is over)."""
        return bool((self.loss_count >= self.history_per_step).all())

    def sampling_distribution(self):
        """p_t used to draw training steps: uniform during warm-up."""
        uniform = torch.full_like(self.loss_history[:, 0], 1.0 / self.steps)
        if not self.importance_sampling_active():
            return uniform
        rms = self.loss_history.pow(2).mean(dim=1).sqrt()
        if not bool(rms.sum() > 0):
            return uniform
        return (1.0 - self.uniform_mix) * rms / rms.sum() + self.uniform_mix / self.steps

    def sample_timesteps(self, batch_size, device=None):
        """Steps and their importance weights p_t * T (all ones while uniform)."""
        device = self.loss_count.device if device is None else device
        if not self.importance_sampling_active():
            t = torch.randint(0, self.steps, (batch_size,), device=device)
            return t, torch.ones(batch_size, device=device)
        p = self.sampling_distribution()
        t = torch.multinomial(p, batch_size, replacement=True)
        return t.to(device), (p[t] * self.steps).to(device)

    @torch.no_grad()
    def record_losses(self, t, losses):
        """Append per-sample losses to their step's history, keeping the latest ones."""
        t, losses = t.to(self.loss_count.device), losses.detach().to(self.loss_history)
        for step in torch.unique(t).tolist():
            new = losses[t == step]
            count = int(self.loss_count[step])
            kept = torch.cat([self.loss_history[step, :count], new])[-self.history_per_step :]
            self.loss_history[step, : len(kept)] = kept
            self.loss_count[step] = len(kept)

    def training_loss(self, denoiser, x0, noise=None):
        """Importance-weighted x0-prediction loss; records the history in training mode only."""
        t, weight = self.sample_timesteps(len(x0), device=x0.device)
        x_t = self.q_sample(x0, t, noise)
        err = (denoiser(x_t, t) - x0).pow(2).flatten(1).mean(dim=1)
        loss = self.loss_weight(t).to(err.dtype) * err
        if self.training:
            self.record_losses(t, loss)
        return (loss / weight.to(loss.dtype)).mean()

    def checked_steps(self, steps=None):
        """``steps`` reverse steps (None: all T), checked."""
        steps = self.steps if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= self.steps:
            raise ValueError(f"steps must be an integer in [1, {self.steps}], got {steps!r}")
        return steps

    @torch.no_grad()
    def generalise(self, denoiser, x0, steps=None):
        """Deterministic reverse process started from the clean input itself (no noise)."""
        steps = self.checked_steps(steps)
        x = x0
        for step in reversed(range(steps)):
            t = torch.full((len(x),), step, dtype=torch.long, device=x.device)
            x0_pred = denoiser(x, t)
            if step == 0:
                return x0_pred
            x = self.posterior_mean(x0_pred, x, t)
