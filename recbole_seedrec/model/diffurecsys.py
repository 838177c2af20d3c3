"""DiffuRecSys (Zolghadr, Winther, Jeha; RecSys 2024 workshop): DiffuRec plus cross-attention
from the noisy target to the history in every approximator block, and offset noise.

Each block reads the history with the noisy target (plus its time embedding) as the query and
the block's current history states as keys and values, adds that read-out to every real history
position, then runs causal self-attention and the feed-forward sub-layer; block k feeds block
k + 1. The forward noise is offset noise ``n + c s``: ``n ~ N(0, I)`` per dimension plus one
``s ~ N(0, 1)`` per sample shared by all dimensions, ``c = offset_noise_scale``.

Fixed from the release: blocks are stacked (there every block read the original input, so only
the last one mattered); the cross-attention softmax runs over the history positions with padding
masked (there the key softmax ran over the heads axis); the noise is offset noise (the released
code has plain Gaussian noise). ``history_noise_injection`` keeps DiffuRec's lambda-scaled
injection as well (the release fed the target through cross-attention only: False).
"""

from recbole_seedrec.errors import ConfigError
from recbole_seedrec.model.diffurec import DiffuRec


class DiffuRecSys(DiffuRec):
    """DiffuRec with per-block cross-attention and offset noise; other options as DiffuRec's."""

    cross_attention = True

    def _variant_options(self, config):
        scale = config["offset_noise_scale"]
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0:
            raise ConfigError(
                f"`offset_noise_scale` is c in n + c s: give a number >= 0 (0: plain Gaussian "
                f"noise), not {scale!r}."
            )
        injection = config["history_noise_injection"]
        if not isinstance(injection, bool):
            raise ConfigError(
                f"`history_noise_injection` must be True or False, not {injection!r}."
            )
        return float(scale), injection
