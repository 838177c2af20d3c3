"""CL4SRec (Xie et al., ICDE 2022): SASRec plus a contrastive loss between augmented views.

Two views of every training sequence are drawn, each by one augmentation chosen uniformly
(crop, mask, reorder); their read-outs are pulled together by InfoNCE against the other
2N - 2 views of the batch. RecBole right-pads sequences: a sequence of length ``n`` holds its
items at positions ``0 .. n-1`` and zeros after them, and every augmentation keeps that shape.
"""

import torch
import torch.nn.functional as F
from recbole.model.sequential_recommender.sasrec import SASRec
from torch import nn

from recbole_seedrec.errors import ConfigError
from recbole_seedrec.speedups.read_out_only import ReadOutOnlyEncoderMixin

AUGMENTATIONS = ("crop", "mask", "reorder")
SIMILARITIES = ("dot", "cos")


def _fraction_of(item_seq_len, fraction):
    """``floor(fraction * n)`` in double precision, so 10 x 0.7 gives 7 and not 6."""
    return torch.floor(item_seq_len.double() * fraction).long()


def _random_start(item_seq_len, window_len):
    """Uniform start of a window of ``window_len`` inside each sequence."""
    room = (item_seq_len - window_len + 1).clamp(min=1)
    start = (torch.rand(item_seq_len.shape, device=item_seq_len.device) * room).long()
    return torch.minimum(start, room - 1)  # rand can round up to 1.0 in float32


def crop_sequences(item_seq, item_seq_len, eta):
    """Keep a random contiguous ``floor(eta * n)`` items, moved to the front.

    At least one item is kept so that a length-1 sequence still has a read-out position.
    Returns the cropped sequences and their new lengths.
    """
    crop_len = _fraction_of(item_seq_len, eta).clamp(min=1)
    crop_len = torch.minimum(crop_len, item_seq_len)
    start = _random_start(item_seq_len, crop_len)
    positions = torch.arange(item_seq.size(1), device=item_seq.device).unsqueeze(0)
    source = (start.unsqueeze(1) + positions).clamp(max=item_seq.size(1) - 1)
    cropped = item_seq.gather(1, source)
    cropped = cropped.masked_fill(positions >= crop_len.unsqueeze(1), 0)
    return cropped, crop_len


def mask_sequences(item_seq, item_seq_len, gamma, mask_token):
    """Replace ``floor(gamma * n)`` distinct random items by ``mask_token``; padding stays 0."""
    n_masked = _fraction_of(item_seq_len, gamma)
    positions = torch.arange(item_seq.size(1), device=item_seq.device).unsqueeze(0)
    is_item = positions < item_seq_len.unsqueeze(1)
    # A random rank per item position; padding ranks last, so the lowest ranks are items.
    keys = torch.rand(item_seq.shape, device=item_seq.device).masked_fill(~is_item, 2.0)
    ranks = keys.argsort(dim=1).argsort(dim=1)
    chosen = (ranks < n_masked.unsqueeze(1)) & is_item
    return item_seq.masked_fill(chosen, mask_token), item_seq_len


def reorder_sequences(item_seq, item_seq_len, beta):
    """Shuffle a random contiguous window of ``floor(beta * n)`` items in place.

    Sorting keys that are the position outside the window and uniform in ``[start, end)``
    inside it permutes the window uniformly and leaves every other position where it is.
    """
    window_len = _fraction_of(item_seq_len, beta)
    start = _random_start(item_seq_len, window_len)
    positions = torch.arange(item_seq.size(1), device=item_seq.device).unsqueeze(0)
    start, window_len = start.unsqueeze(1), window_len.unsqueeze(1)
    in_window = (positions >= start) & (positions < start + window_len)
    jitter = start + window_len * torch.rand(item_seq.shape, device=item_seq.device)
    keys = torch.where(in_window, jitter, positions.float())
    # Stable: a key rounded up onto ``end`` still sorts before the item that sits at ``end``.
    order = keys.argsort(dim=1, stable=True)
    return item_seq.gather(1, order), item_seq_len


def info_nce(view_a, view_b, temperature, similarity="dot"):
    """NT-Xent over 2N views: each view's positive is its pair, the other 2N - 2 are negatives."""
    views = torch.cat([view_a, view_b], dim=0)
    if similarity == "cos":
        views = F.normalize(views, dim=-1)
    logits = views @ views.T / temperature
    n = view_a.size(0)
    self_pairs = torch.eye(2 * n, dtype=torch.bool, device=views.device)
    logits = logits.masked_fill(self_pairs, float("-inf"))
    pair = torch.arange(2 * n, device=views.device)
    targets = (pair + n) % (2 * n)
    return F.cross_entropy(logits, targets)


def carry_gradient(loss, points):
    """Back-propagate ``loss`` now and free its graph; return a tensor with ``loss``'s value
    whose gradient, whenever it is back-propagated, is ``loss``'s.

    ``points`` are ``(leaf, target)`` pairs: the gradient is taken at ``leaf`` and carried by
    the term ``(target * gradient).sum()``, whose gradient at ``target`` is that gradient (a
    parameter is its own target). Nothing is written to ``.grad`` here, so the caller may zero
    gradients before or after.
    """
    leaves = [leaf for leaf, _ in points]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    carriers = [
        (target * grad).sum() for (_, target), grad in zip(points, grads) if grad is not None
    ]
    carrier = torch.stack(carriers).sum() if carriers else loss.new_zeros(())
    return carrier + (loss.detach() - carrier.detach())


class CL4SRec(ReadOutOnlyEncoderMixin, SASRec):
    """SASRec trained with next-item loss + ``cl_weight`` x InfoNCE between augmented views.

    The [mask] token is item row ``n_items`` of the embedding table: it can be read in a
    sequence but is never a class of the next-item loss nor a scored candidate.
    """

    exact_under_trimming = True  # causal encoder; augmentations read each row's own length

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.cl_weight = config["cl_weight"]
        self.cl_temperature = config["cl_temperature"]
        self.crop_eta = config["crop_eta"]
        self.mask_gamma = config["mask_gamma"]
        self.reorder_beta = config["reorder_beta"]
        self.cl_similarity = config["cl_similarity"]
        self.cl_augmentations = tuple(config["cl_augmentations"])
        in_parts = config["cl_backward_in_parts"]
        if in_parts is not None and not isinstance(in_parts, bool):
            raise ConfigError(
                f"cl_backward_in_parts is {in_parts!r}; give True (default: the next-item loss "
                "is back-propagated before the views are encoded) or False (one backward)."
            )
        self._backward_in_parts = in_parts is not False  # unset: on
        self._check_options()

        self.mask_token = self.n_items
        self.item_embedding = nn.Embedding(self.n_items + 1, self.hidden_size, padding_idx=0)
        self._init_weights(self.item_embedding)

    def _check_options(self):
        for key in ("crop_eta", "mask_gamma", "reorder_beta"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"`{key}` is a fraction of the sequence: give a value in [0, 1].")
        if self.cl_temperature <= 0:
            raise ConfigError("`cl_temperature` divides the similarities: give a value > 0.")
        if self.cl_similarity not in SIMILARITIES:
            raise ConfigError(f"`cl_similarity` must be one of {list(SIMILARITIES)}.")
        unknown = [name for name in self.cl_augmentations if name not in AUGMENTATIONS]
        if unknown or not self.cl_augmentations:
            raise ConfigError(
                f"`cl_augmentations` must be a non-empty subset of {list(AUGMENTATIONS)}; "
                f"got {list(self.cl_augmentations)}."
            )

    def scored_item_embeddings(self):
        """The candidates' rows: every item, without the [mask] token."""
        return self.item_embedding.weight[: self.n_items]

    def augment(self, item_seq, item_seq_len):
        """One view per sequence, each from one augmentation chosen uniformly per sequence."""
        candidates = []
        for name in self.cl_augmentations:
            if name == "crop":
                candidates.append(crop_sequences(item_seq, item_seq_len, self.crop_eta))
            elif name == "mask":
                candidates.append(
                    mask_sequences(item_seq, item_seq_len, self.mask_gamma, self.mask_token)
                )
            else:
                candidates.append(reorder_sequences(item_seq, item_seq_len, self.reorder_beta))
        choice = torch.randint(len(candidates), item_seq_len.shape, device=item_seq.device)
        seqs = torch.stack([seq for seq, _ in candidates])  # [A B L]
        lens = torch.stack([length for _, length in candidates])  # [A B]
        rows = torch.arange(item_seq.size(0), device=item_seq.device)
        return seqs[choice, rows], lens[choice, rows]

    def contrastive_loss(self, item_seq, item_seq_len, prompts=None):
        """InfoNCE between two augmented views, encoded in one pass of the encoder.

        ``prompts`` (SeeDRec on CL4SRec) go before both views of their row.
        """
        seq_a, len_a = self.augment(item_seq, item_seq_len)
        seq_b, len_b = self.augment(item_seq, item_seq_len)
        views = (torch.cat([seq_a, seq_b]), torch.cat([len_a, len_b]))
        if prompts is not None:
            views += (prompts.repeat(2, 1, 1),)
        output = self.forward(*views)
        view_a, view_b = output.chunk(2)
        return info_nce(view_a, view_b, self.cl_temperature, self.cl_similarity)

    def recommendation_loss(self, interaction):
        """SASRec's CE or BPR loss, with CE's softmax over real items only."""
        if self.loss_type == "BPR":
            return super().calculate_loss(interaction)
        seq_output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        logits = seq_output @ self.scored_item_embeddings().T
        return self.loss_fct(logits, interaction[self.POS_ITEM_ID])

    def backward_in_parts(self):
        """Whether this training step back-propagates the next-item loss before the views
        are encoded (see :meth:`calculate_loss`)."""
        return (
            bool(self.cl_weight)
            and self.training
            and torch.is_grad_enabled()
            and (self._backward_in_parts)
        )

    def trainable_points(self):
        """``(leaf, target)`` pairs of :func:`carry_gradient` for every trainable parameter."""
        return [(p, p) for p in self.parameters() if p.requires_grad]

    def calculate_loss(self, interaction):
        """Next-item loss + ``cl_weight`` x InfoNCE.

        In training, the next-item part's gradient is computed here (:func:`carry_gradient`),
        before the two views are encoded, so one encoder graph is alive at a time instead of
        all three encodings' (Home's largest batch: about a fifth of the step's peak). The loss
        returned has the sum's value and, in the trainer's backward, the sum's gradients. No
        random number is drawn in a backward, so training is unchanged.
        """
        loss = self.recommendation_loss(interaction)
        if not self.cl_weight:
            return loss
        if self.backward_in_parts():
            loss = carry_gradient(loss, self.trainable_points())
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        return loss + self.cl_weight * self.contrastive_loss(item_seq, item_seq_len)

    def full_sort_predict(self, interaction):
        seq_output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return seq_output @ self.scored_item_embeddings().T  # [B n_items]
