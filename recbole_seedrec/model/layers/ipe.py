"""IPE: interest-aware prompt enhancement."""

import torch
from torch import nn


class InterestPromptEncoder(nn.Module):
    """k prompt generators, each Linear(q, d) -> Tanh -> Linear(d, d), run as one batch.

    The k first layers are one Linear(q, k*d); the k second layers are a [k, d, d] weight
    applied per prompt, which is the same function as k separate MLPs.
    """

    def __init__(self, q, d, k=3):
        super().__init__()
        if k < 1:
            raise ValueError(f"prompt_num must be >= 1, got {k}")
        self.k, self.d = k, d
        self.first = nn.Linear(q, k * d)
        self.second_weight = nn.Parameter(torch.empty(k, d, d))
        self.second_bias = nn.Parameter(torch.zeros(k, d))
        nn.init.xavier_normal_(self.first.weight)
        nn.init.zeros_(self.first.bias)
        nn.init.xavier_normal_(self.second_weight)

    def forward(self, interest):
        hidden = torch.tanh(self.first(interest)).view(-1, self.k, self.d)  # [B, k, d]
        return torch.einsum("bkd,kde->bke", hidden, self.second_weight) + self.second_bias
