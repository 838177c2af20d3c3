"""Three right-padded sequences over 20 items, for the diffusion peers' unit tests."""

import torch

N_ITEMS = 21  # ids 1..20 are items, 0 is padding
SEQS = torch.tensor(
    [[1, 2, 3, 4, 5, 6, 7, 8], [11, 12, 13, 0, 0, 0, 0, 0], [9, 0, 0, 0, 0, 0, 0, 0]]
)
LENS = torch.tensor([8, 3, 1])
TARGETS = torch.tensor([9, 14, 10])
