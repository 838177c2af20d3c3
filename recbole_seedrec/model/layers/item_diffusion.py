"""Gaussian diffusion over item embeddings (DiffuRec, DiffuRecSys), as plain torch modules.

The forward process and the loss-aware timestep history are those of S2IDM's
:class:`GaussianDiffusion`; this module adds what an item-embedding diffusion needs on top:
DiffuSeq's truncated-linear schedule, offset noise, and x0-parameterised ancestral sampling over
an evenly respaced subset of the steps, so inference can trade accuracy for speed.
"""

import torch
from torch import nn

from recbole_seedrec.model.layers.diffusion import GaussianDiffusion, timestep_embedding

NOISE_SCHEDULES = ("trunc_lin", "linear")
TIMESTEP_SAMPLERS = ("uniform", "lossaware")


def diffurec_betas(schedule="trunc_lin", steps=32):
    """Per-step betas (float64) of DiffuSeq's schedules, rescaled to ``steps`` steps.

    ``linear`` is Ho et al.'s 1e-4 .. 0.02 over 1000 steps stretched to ``steps``;
    ``trunc_lin`` adds 0.01 to both ends (never a nearly noise-free step) and, when the end
    would reach 1, falls back to a ten times flatter slope.
    """
    if schedule not in NOISE_SCHEDULES:
        raise ValueError(
            f"unknown noise schedule {schedule!r}; valid: {', '.join(NOISE_SCHEDULES)}"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"diffusion steps must be an integer >= 1, got {steps!r}")
    scale = 1000.0 / steps
    start, end = scale * 1e-4, scale * 0.02
    if schedule == "trunc_lin":
        start, end = start + 0.01, end + 0.01
        if end > 1:
            end = scale * 1e-3 + 0.01
    betas = torch.linspace(start, end, steps, dtype=torch.float64)
    if not bool(((betas > 0) & (betas < 1)).all()):
        raise ValueError(
            f"schedule {schedule!r} with {steps} steps gives betas >= 1; use more steps "
            f"(linear needs >= 21) or 'trunc_lin'"
        )
    return betas


def spaced_timesteps(total, count):
    """``count`` of the steps ``0 .. total - 1``, evenly spread, always ending at ``total - 1``."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= total:
        raise ValueError(f"sampling steps must be an integer in [1, {total}], got {count!r}")
    if count == 1:
        return torch.tensor([total - 1])
    return torch.linspace(0, total - 1, count, dtype=torch.float64).round().long()


class ItemDiffusion(nn.Module):
    """Forward noising of target embeddings, timestep sampling, and the reverse sampler.

    ``timestep_sampler``: ``uniform``, or ``lossaware`` (steps drawn in proportion to the RMS of
    their recent losses, each loss re-weighted by ``1 / (T p_t)`` so the objective is unchanged;
    uniform until every step has ``history_per_step`` losses). ``offset_noise_scale`` c makes
    the noise ``n + c s``, with ``n ~ N(0, I)`` and one ``s ~ N(0, 1)`` per sample shared by all
    dimensions.
    """

    def __init__(
        self,
        betas,
        timestep_sampler="uniform",
        offset_noise_scale=0.0,
        history_per_step=10,
        uniform_mix=0.001,
    ):
        super().__init__()
        if timestep_sampler not in TIMESTEP_SAMPLERS:
            raise ValueError(
                f"unknown timestep sampler {timestep_sampler!r}; "
                f"valid: {', '.join(TIMESTEP_SAMPLERS)}"
            )
        if offset_noise_scale < 0:
            raise ValueError(f"offset noise scale must be >= 0, got {offset_noise_scale}")
        self.process = GaussianDiffusion(betas, history_per_step, uniform_mix)
        self.steps = self.process.steps
        self.timestep_sampler = timestep_sampler
        self.offset_noise_scale = float(offset_noise_scale)
        self._betas = torch.as_tensor(betas, dtype=torch.float64)
        self._chains = {}

    def noise_like(self, x, generator=None):
        """The forward process's noise for a batch ``x`` (first axis: samples)."""
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        if self.offset_noise_scale:
            shape = (x.shape[0],) + (1,) * (x.dim() - 1)
            shift = torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype)
            noise = noise + self.offset_noise_scale * shift
        return noise

    def q_sample(self, x0, t, noise=None):
        """x_t ~ q(x_t | x0)."""
        return self.process.q_sample(x0, t, self.noise_like(x0) if noise is None else noise)

    def sample_timesteps(self, batch_size, device):
        """Training steps and the weights ``T p_t`` that each loss is divided by."""
        if self.timestep_sampler == "uniform":
            t = torch.randint(0, self.steps, (batch_size,), device=device)
            return t, torch.ones(batch_size, device=device)
        return self.process.sample_timesteps(batch_size, device)

    def record_losses(self, t, losses):
        """Feed the loss-aware sampler (the release never did); no-op for ``uniform``."""
        if self.timestep_sampler == "lossaware" and self.training:
            self.process.record_losses(t, losses)

    def sampling_chain(self, count):
        """The reverse chain over ``count`` evenly spaced steps.

        Returns the original step index of each link (what the approximator is told), the
        posterior-mean coefficients of x0 and x_t, and the standard deviation of the noise
        added after each link ("fixed large" variance: the respaced beta, as in the release).
        """
        if count not in self._chains:
            timesteps = spaced_timesteps(self.steps, count)
            alpha_bar = torch.cumprod(1.0 - self._betas, dim=0)[timesteps]
            alpha_bar_prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
            betas = 1.0 - alpha_bar / alpha_bar_prev
            coef_x0 = betas * alpha_bar_prev.sqrt() / (1.0 - alpha_bar)
            coef_xt = (1.0 - alpha_bar_prev) * (1.0 - betas).sqrt() / (1.0 - alpha_bar)
            self._chains[count] = (timesteps, coef_x0, coef_xt, betas.sqrt())
        return self._chains[count]

    @torch.no_grad()
    def sample(self, predict_x0, like, count=None, generator=None):
        """Ancestral sampling from the forward process's noise to an x0 estimate.

        ``predict_x0(x_t, t)`` is the approximator; ``like`` gives shape, device and dtype;
        ``count`` links (default: every step). At the last link the posterior mean is the x0
        prediction itself, so that is what comes back.
        """
        count = self.steps if count is None else count
        timesteps, coef_x0, coef_xt, noise_std = self.sampling_chain(count)
        x = self.noise_like(like, generator)
        batch = like.shape[0]
        for link in reversed(range(count)):
            t = torch.full((batch,), int(timesteps[link]), dtype=torch.long, device=like.device)
            x0 = predict_x0(x, t)
            if link:
                x = float(coef_x0[link]) * x0 + float(coef_xt[link]) * x
                noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
                x = x + float(noise_std[link]) * noise
        return x0


class TimestepEmbedding(nn.Module):
    """d(t): sinusoid of ``t * 1000 / T`` -> Linear(H, 4H) -> SiLU -> Linear(4H, H)."""

    def __init__(self, hidden_size, steps):
        super().__init__()
        self.hidden_size = hidden_size
        self.scale = 1000.0 / steps
        self.mlp = nn.Sequential(
            nn.Linear(hidden_size, 4 * hidden_size),
            nn.SiLU(),
            nn.Linear(4 * hidden_size, hidden_size),
        )

    def forward(self, t):
        sinusoid = timestep_embedding(t.float() * self.scale, self.hidden_size)
        return self.mlp(sinusoid.to(self.mlp[0].weight.dtype))
