"""The process's random streams (torch, CUDA, NumPy, Python), saved and restored as one.

RecBole draws negatives from NumPy's global generator and dropout from torch's: a run resumed
from its state, or a test evaluation slipped between epochs, must leave them as they were.
"""

import contextlib
import random

import numpy as np
import torch


def global_random_states():
    """``{"torch", "numpy", "python"[, "cuda"]}``: every global stream's state."""
    states = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_global_random_states(states):
    """Restore what :func:`global_random_states` returned."""
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


@contextlib.contextmanager
def preserved_random_state():
    """Run the block without advancing any global random stream."""
    states = global_random_states()
    try:
        yield
    finally:
        set_global_random_states(states)
