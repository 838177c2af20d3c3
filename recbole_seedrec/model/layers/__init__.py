"""Torch-only building blocks shared by the models, free of SeeDRec and of RecBole: the Gaussian
diffusion and its schedules, DiffuRec's approximator and item diffusion, the masked diffusion,
and the next-item losses."""

from recbole_seedrec.model.layers.diffusion import (
    SCHEDULES,
    GaussianDiffusion,
    make_betas,
    timestep_embedding,
)

__all__ = ["SCHEDULES", "GaussianDiffusion", "make_betas", "timestep_embedding"]
