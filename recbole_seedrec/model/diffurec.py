"""DiffuRec (Li, Sun, Li; ACM TOIS 2023): the target item as a distribution, by diffusion.

Training corrupts the target item's embedding with Gaussian noise (forward process); a
Transformer approximator conditioned on the history reconstructs it (x0), and the loss is the
cross-entropy of the reconstruction's dot products with every item ("rounding"). Inference starts
from noise, runs the reverse chain and ranks every item by dot product with the final x0.

The history conditions the approximator by noise injection: each real history position gets
``z_i = e_i + lambda_i * (x_t + d(t))`` with ``lambda_i ~ N(m, m)`` per element
(m = ``lambda_uncertainty``) and d(t) the time embedding.

Fixed from the release: attention masks keys (the release masked query rows) and is causal;
padding gets no injected noise and is never attended to; positional embeddings are an option
(created but unused there); the loss-aware timestep sampler is fed its losses (never updated
there, so effectively uniform) or switched off with ``timestep_sampler: uniform``. Sequences are
right-padded as RecBole pads them, so the read-out is at ``len - 1``.
"""

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType
from torch import nn

from recbole_seedrec.errors import ConfigError
from recbole_seedrec.model.layers.approximator import Approximator
from recbole_seedrec.model.layers.item_diffusion import (
    NOISE_SCHEDULES,
    TIMESTEP_SAMPLERS,
    ItemDiffusion,
    TimestepEmbedding,
    diffurec_betas,
)


def is_integer(value, low=None):
    """An int (a bool is not one), at least ``low`` when given."""
    return not isinstance(value, bool) and isinstance(value, int) and (low is None or value >= low)


def check_fraction(config, key):
    """A dropout probability: a number in [0, 1)."""
    if not isinstance(config[key], (int, float)) or not 0 <= config[key] < 1:
        raise ConfigError(
            f"`{key}` is a dropout probability: give a value in [0, 1), not {config[key]!r}."
        )


class DiffuRec(SequentialRecommender):
    """Gaussian diffusion on the target embedding, Transformer approximator, CE rounding loss.

    Inference is seeded: every ``full_sort_predict`` call draws its noise from a generator
    seeded with ``inference_seed`` (``seed`` when unset), so evaluations repeat exactly.
    """

    input_type = InputType.POINTWISE
    cross_attention = False  # DiffuRecSys: cross-attention from the noisy target in every block
    # Causal self-attention and cross-attention mask padding keys and the read-out is at len - 1,
    # so the padding after a row changes nothing it computes: length-grouped, trimmed batches
    # apply. Only the injection noise is drawn in the trimmed shape (same distribution).
    exact_under_trimming = True

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._check_options(config)
        self.hidden_size = config["hidden_size"]
        self.lambda_uncertainty = float(config["lambda_uncertainty"])
        self.sampling_steps = config["sampling_steps"]
        seed = config["inference_seed"]
        self.inference_seed = int(config["seed"] if seed is None else seed)
        self.offset_noise_scale, self.history_noise_injection = self._variant_options(config)

        self.item_embedding = nn.Embedding(self.n_items, self.hidden_size, padding_idx=0)
        nn.init.normal_(self.item_embedding.weight, std=config["item_embedding_std"])
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()
        self.position_embedding = None
        if config["position_embedding"]:
            self.position_embedding = nn.Embedding(self.max_seq_length, self.hidden_size)
        self.embedding_dropout = nn.Dropout(config["embedding_dropout_prob"])
        self.embedding_norm = nn.LayerNorm(self.hidden_size, eps=config["layer_norm_eps"])
        self.time_embedding = TimestepEmbedding(self.hidden_size, config["diffusion_steps"])
        self.approximator = Approximator(
            config["n_layers"],
            hidden_size=self.hidden_size,
            n_heads=config["n_heads"],
            inner_size=config["inner_size"],
            dropout_prob=config["hidden_dropout_prob"],
            attn_dropout_prob=config["attn_dropout_prob"],
            eps=config["layer_norm_eps"],
            cross_attention=self.cross_attention,
        )
        self.diffusion = ItemDiffusion(
            diffurec_betas(config["noise_schedule"], config["diffusion_steps"]),
            timestep_sampler=config["timestep_sampler"],
            offset_noise_scale=self.offset_noise_scale,
        )

    # ----- options ---------------------------------------------------------------------------
    def _variant_options(self, config):
        """(offset noise scale, inject the noisy target into the history): DiffuRec's own."""
        return 0.0, True

    def _check_options(self, config):
        for key in ("hidden_size", "n_layers", "n_heads", "inner_size", "diffusion_steps"):
            if not is_integer(config[key], 1):
                raise ConfigError(f"`{key}` must be an integer >= 1, not {config[key]!r}.")
        if config["hidden_size"] % config["n_heads"]:
            raise ConfigError(
                f"`hidden_size` ({config['hidden_size']}) must be a multiple of `n_heads` "
                f"({config['n_heads']})."
            )
        for key in ("hidden_dropout_prob", "attn_dropout_prob", "embedding_dropout_prob"):
            check_fraction(config, key)
        if config["noise_schedule"] not in NOISE_SCHEDULES:
            raise ConfigError(f"`noise_schedule` must be one of {list(NOISE_SCHEDULES)}.")
        try:
            diffurec_betas(config["noise_schedule"], config["diffusion_steps"])
        except ValueError as error:
            raise ConfigError(f"`noise_schedule`/`diffusion_steps`: {error}.") from error
        steps = config["sampling_steps"]
        if not is_integer(steps, 1) or steps > config["diffusion_steps"]:
            raise ConfigError(
                f"`sampling_steps` must be an integer in [1, diffusion_steps = "
                f"{config['diffusion_steps']}], not {steps!r}."
            )
        if config["timestep_sampler"] not in TIMESTEP_SAMPLERS:
            raise ConfigError(f"`timestep_sampler` must be one of {list(TIMESTEP_SAMPLERS)}.")
        if not config["lambda_uncertainty"] >= 0:
            raise ConfigError("`lambda_uncertainty` (mean and std of lambda) must be >= 0.")
        if not config["item_embedding_std"] > 0:
            raise ConfigError("`item_embedding_std` must be > 0.")
        if config["inference_seed"] is not None and not is_integer(config["inference_seed"]):
            raise ConfigError("`inference_seed` must be an integer, or ~ to use `seed`.")
        if config["loss_type"] != "CE":
            raise ConfigError(
                f"{type(self).__name__} is trained by its cross-entropy rounding loss: "
                f"`loss_type` must be 'CE', not {config['loss_type']!r}."
            )

    # ----- the approximator ------------------------------------------------------------------
    def embed_history(self, item_seq):
        """Item (+ position) embeddings, dropout, LayerNorm; padding rows set to zero.

        Returns the embeddings [B, L, H] and ``valid`` [B, L, 1] (1.0 on real items).
        """
        emb = self.item_embedding(item_seq)
        if self.position_embedding is not None:
            positions = torch.arange(item_seq.size(1), device=item_seq.device)
            emb = emb + self.position_embedding(positions)
        valid = (item_seq != 0).unsqueeze(-1).to(emb.dtype)
        return self.embedding_norm(self.embedding_dropout(emb)) * valid, valid

    def attention_masks(self, item_seq):
        """Causal mask on real keys (self-attention), real keys only (cross-attention)."""
        key_mask = None
        if self.cross_attention:
            key_mask = self.get_attention_mask(item_seq, bidirectional=True)
        return self.get_attention_mask(item_seq), key_mask

    def reconstruct(self, history, valid, masks, item_seq_len, x_t, t, generator=None):
        """The approximator's x0 estimate [B, H] from the noisy target ``x_t`` at steps ``t``."""
        target = x_t + self.time_embedding(t)
        hidden = history
        if self.history_noise_injection and self.lambda_uncertainty > 0:
            spread = torch.randn(
                history.shape, generator=generator, device=history.device, dtype=history.dtype
            )
            lam = self.lambda_uncertainty * (1.0 + spread)  # N(m, m) per element
            hidden = history + lam * target.unsqueeze(1) * valid
        output = self.approximator(hidden, masks[0], valid, target.unsqueeze(1), masks[1])
        return self.gather_indexes(output, item_seq_len - 1)

    def rounding_logits(self, x0):
        """Dot products with every item embedding: [B, n_items]."""
        return x0 @ self.item_embedding.weight.T

    # ----- training --------------------------------------------------------------------------
    def calculate_loss(self, interaction):
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        targets = interaction[self.POS_ITEM_ID]
        history, valid = self.embed_history(item_seq)
        x0 = self.item_embedding(targets)
        t, weights = self.diffusion.sample_timesteps(len(targets), targets.device)
        x_t = self.diffusion.q_sample(x0, t)
        x0_hat = self.reconstruct(
            history, valid, self.attention_masks(item_seq), item_seq_len, x_t, t
        )
        losses = F.cross_entropy(self.rounding_logits(x0_hat), targets, reduction="none")
        self.diffusion.record_losses(t, losses)
        return (losses / weights.to(losses.dtype)).mean()

    # ----- inference -------------------------------------------------------------------------
    def inference_generator(self):
        """A fresh generator on the model's device, seeded the same way for every call."""
        device = self.item_embedding.weight.device
        return torch.Generator(device=device).manual_seed(self.inference_seed)

    @torch.no_grad()
    def sample_x0(self, item_seq, item_seq_len, sampling_steps=None, generator=None):
        """Ancestral sampling over ``sampling_steps`` evenly spaced steps: x0 per row [B, H]."""
        generator = self.inference_generator() if generator is None else generator
        history, valid = self.embed_history(item_seq)
        masks = self.attention_masks(item_seq)

        def predict_x0(x_t, t):
            return self.reconstruct(history, valid, masks, item_seq_len, x_t, t, generator)

        like = history.new_empty(len(item_seq), self.hidden_size)
        return self.diffusion.sample(
            predict_x0, like, sampling_steps or self.sampling_steps, generator
        )

    def full_sort_predict(self, interaction):
        x0 = self.sample_x0(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return self.rounding_logits(x0)  # [B n_items]

    def predict(self, interaction):
        scores = self.full_sort_predict(interaction)
        return scores.gather(1, interaction[self.ITEM_ID].unsqueeze(1)).squeeze(1)
