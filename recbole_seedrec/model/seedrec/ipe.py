"""IPE: interest-aware prompt enhancement."""

import torch
from torch import nn

from recbole_seedrec.model.seedrec.interest import linear_after

# How the k generators' weights start. per_prompt: each generator's Linear(q, d) and
# Linear(d, d) gets its own Xavier-normal draw, as k separate layers (and the release's
# per-parameter xavier_normal_) would. joint: Xavier over the stacked tensors, as this package
# did before 2026-12-06: for the [k, d, d] tensor torch takes fan-in d*d, so the second layers
# started ~6x smaller than intended (std 0.022 instead of 0.125 at d = 64, k = 3).
IPE_INITS = ("per_prompt", "joint")
# How the prompts enter the encoder. backbone: through its input LayerNorm and dropout with the
# items. raw: as the SeeDRec release, prompt + position embedding, no LayerNorm, no dropout.
PROMPT_INJECTIONS = ("backbone", "raw")


class InterestPromptEncoder(nn.Module):
    """k prompt generators, each Linear(q, d) -> Tanh -> Linear(d, d), run as one batch.

    The k first layers are one Linear(q, k*d); the k second layers are a [k, d, d] weight
    applied per prompt, which is the same function as k separate MLPs.
    """

    def __init__(self, q, d, k=3, init="per_prompt"):
        super().__init__()
        if k < 1:
            raise ValueError(f"prompt_num must be >= 1, got {k}")
        if init not in IPE_INITS:
            raise ValueError(f"ipe_init {init!r}: use one of {IPE_INITS}")
        self.k, self.d = k, d
        self.first = nn.Linear(q, k * d)
        self.second_weight = nn.Parameter(torch.empty(k, d, d))
        self.second_bias = nn.Parameter(torch.zeros(k, d))
        nn.init.zeros_(self.first.bias)
        if init == "joint":
            nn.init.xavier_normal_(self.first.weight)
            nn.init.xavier_normal_(self.second_weight)
            return
        with torch.no_grad():
            for block in self.first.weight.view(k, d, q):  # generator i's Linear(q, d) weight
                nn.init.xavier_normal_(block)
            for weight in self.second_weight:  # generator i's Linear(d, d) weight
                nn.init.xavier_normal_(weight)

    def forward(self, interest, readout=None):
        """``interest``: [B, q], or S2IDM's codes with its ``readout`` (``stored_interest``)."""
        hidden = torch.tanh(linear_after(self.first, interest, readout)).view(-1, self.k, self.d)
        return torch.einsum("bkd,kde->bke", hidden, self.second_weight) + self.second_bias
