"""Building blocks without RecBole dependencies, reusable outside a RecBole model."""

from recbole_seedrec.model.layers.s2idm import (
    S2IDM,
    SCHEDULES,
    GaussianDiffusion,
    MLPDenoiser,
    make_betas,
    timestep_embedding,
)

__all__ = [
    "S2IDM",
    "SCHEDULES",
    "GaussianDiffusion",
    "MLPDenoiser",
    "make_betas",
    "timestep_embedding",
]
