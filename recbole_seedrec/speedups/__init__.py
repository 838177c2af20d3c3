"""Faster computations that patch RecBole's models without changing what they compute, each an
on/off option of every run (unset means on): ``fused_cross_entropy`` and ``native_gelu``."""
