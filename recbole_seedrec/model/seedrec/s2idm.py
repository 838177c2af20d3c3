"""S2IDM, the sememe-to-interest diffusion model, as plain torch modules.

Kept free of RecBole so that it can be trained once on sememe vectors, saved with
``torch.save`` and reloaded with ``weights_only=True`` by whichever model consumes it.
"""

import contextlib

import torch
from torch import nn

from recbole_seedrec.model.layers.diffusion import GaussianDiffusion, make_betas, timestep_embedding


class MLPDenoiser(nn.Module):
    """x_theta(x_t, t): predicts the clean sememe vector x0 from a noisy one."""

    def __init__(self, q, hidden_dims=(1000,), time_emb_dim=10, dropout=0.5):
        super().__init__()
        if q < 1 or time_emb_dim < 1:
            raise ValueError(f"q and time_emb_dim must be >= 1, got {q} and {time_emb_dim}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if any(d < 1 for d in hidden_dims):
            raise ValueError(f"hidden_dims must be positive, got {list(hidden_dims)}")
        self.time_emb_dim = time_emb_dim
        self.time_emb = nn.Linear(time_emb_dim, time_emb_dim)
        self.dropout = nn.Dropout(dropout)
        dims = [q + time_emb_dim, *hidden_dims, q]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        for layer in (self.time_emb, *self.layers):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x_t, t):
        return self.readout(self.hidden(x_t, t))

    @property
    def readout(self):
        """The last layer: a linear map from the last hidden activation to the q sememes."""
        return self.layers[-1]

    def hidden(self, x_t, t):
        """What the readout reads: the last hidden activation, in [-1, 1] (tanh); the input
        and step embedding themselves when there is no hidden layer."""
        emb = self.time_emb(timestep_embedding(t, self.time_emb_dim).to(x_t.dtype))
        h = torch.cat([self.dropout(x_t), emb], dim=-1)
        for layer in self.layers[:-1]:
            h = torch.tanh(layer(h))
        return h

    def hidden_from_projection(self, projected, t):
        """``hidden(x_t, t)`` from ``projected = x_t @ W_x.T``, W_x the first layer's columns
        that read x_t (eval mode: no dropout; at least one hidden layer)."""
        emb = self.time_emb(timestep_embedding(t, self.time_emb_dim).to(projected.dtype))
        first = self.layers[0]
        h = torch.tanh(projected + emb @ first.weight[:, -self.time_emb_dim :].T + first.bias)
        for layer in self.layers[1:-1]:
            h = torch.tanh(layer(h))
        return h

    def input_weight(self):
        """W_x: the first layer's weight on x_t, [first hidden size, q]."""
        return self.layers[0].weight[:, : -self.time_emb_dim]


class S2IDM(nn.Module):
    """Denoiser plus diffusion, built from plain keyword arguments so it can be re-created
    from a ``weights_only`` checkpoint holding only ``hyperparameters()`` and the state dict.
    """

    def __init__(
        self,
        q,
        hidden_dims=(1000,),
        time_emb_dim=10,
        dropout=0.5,
        steps=10,
        schedule="linear-var",
        noise_min=5e-4,
        noise_max=5e-3,
        noise_scale=0.01,
        beta_fixed=1e-5,
        history_per_step=10,
    ):
        super().__init__()
        self._hyperparameters = {
            "q": int(q),
            "hidden_dims": [int(d) for d in hidden_dims],
            "time_emb_dim": int(time_emb_dim),
            "dropout": float(dropout),
            "steps": int(steps),
            "schedule": str(schedule),
            "noise_min": float(noise_min),
            "noise_max": float(noise_max),
            "noise_scale": float(noise_scale),
            "beta_fixed": None if beta_fixed is None else float(beta_fixed),
            "history_per_step": int(history_per_step),
        }
        betas = make_betas(schedule, steps, noise_min, noise_max, noise_scale, beta_fixed)
        self.q = int(q)
        self.denoiser = MLPDenoiser(q, hidden_dims, time_emb_dim, dropout)
        self.diffusion = GaussianDiffusion(betas, history_per_step)

    def hyperparameters(self):
        """Constructor kwargs as plain Python types (safe for ``weights_only`` loading)."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._hyperparameters.items()}

    def _check(self, x0):
        if x0.dim() != 2 or x0.shape[1] != self.q:
            raise ValueError(f"expected a [batch, {self.q}] tensor, got shape {tuple(x0.shape)}")

    def training_loss(self, x0, noise=None):
        """Scalar loss for one batch of sememe vectors."""
        self._check(x0)
        return self.diffusion.training_loss(self.denoiser, x0, noise)

    def generalise(self, x0, steps=None):
        """Generalised interest distribution: eval mode, no grad, prior mode restored."""
        self._check(x0)
        with self._in_eval():
            return self.diffusion.generalise(self.denoiser, x0, steps)

    @contextlib.contextmanager
    def _in_eval(self):
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    @torch.no_grad()
    def generalise_codes(self, x0, steps=None):
        """``generalise``'s reverse process run in the denoiser's hidden space: returns the last
        hidden activation ``a`` [B, hidden], with ``generalise(x0) == readout(a)`` up to float
        rounding. Each reverse step mixes the readout and x_t linearly, and the next step reads
        them through the first layer only, so ``W_x x_t`` follows them exactly:
        ``W_x x_{t-1} = c1 (W_x W_out a_t + W_x b_out) + c2 W_x x_t``. A step then costs
        hidden x hidden multiply-adds instead of 2 x q x hidden."""
        self._check(x0)
        if len(self.denoiser.layers) < 2:
            raise ValueError("generalise_codes needs a denoiser with a hidden layer")
        diffusion, denoiser = self.diffusion, self.denoiser
        steps = diffusion.checked_steps(steps)
        w_x = denoiser.input_weight()
        back = w_x @ denoiser.readout.weight  # [first hidden, last hidden]
        back_bias = w_x @ denoiser.readout.bias
        projected = x0 @ w_x.T
        with self._in_eval():
            for step in reversed(range(steps)):
                t = torch.full((len(x0),), step, dtype=torch.long, device=x0.device)
                codes = denoiser.hidden_from_projection(projected, t)
                if step == 0:
                    return codes
                c1, c2 = diffusion.posterior_mean_coef1[step], diffusion.posterior_mean_coef2[step]
                projected = c1 * (codes @ back.T + back_bias) + c2 * projected

    def codes_are_cheaper(self, steps=None):
        """Whether ``generalise_codes`` (plus one readout) costs fewer multiply-adds than
        ``generalise``, and its codes are narrower than g."""
        steps = self.diffusion.checked_steps(steps)
        if len(self.denoiser.layers) < 2:  # no hidden layer: nothing narrower to keep
            return False
        sizes = [layer.weight.shape for layer in self.denoiser.layers]
        first, last = sizes[0][0], sizes[-1][1]
        middle = sum(rows * cols for rows, cols in sizes[1:-1])
        direct = steps * (self.q * first + middle + last * self.q)
        codes = self.q * first + steps * (first * last + middle) + last * self.q
        return codes < direct and last < self.q
