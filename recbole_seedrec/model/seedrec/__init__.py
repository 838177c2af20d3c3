"""SeeDRec's own parts: S2IDM (the sememe diffusion) and its saved artifact, the users' sememe
interests and their cache, the interest prompt encoder (IPE), the prompted SASRec encoder, and
the mixin that puts them on a RecBole backbone."""
