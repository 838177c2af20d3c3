"""Per-prefix sememe vectors (S2IDM's input) and the cache of what S2IDM makes of them.

The vector for predicting the interaction at position ``k`` of a user's history uses only
positions ``0 .. k-1``: every sememe of those items gets its item's time weight

    w_i = w_min + (t_i - t_1) / (t_{k-1} - t_1) * (w_max - w_min)    (w_max when t_{k-1} = t_1)

and the weights of a sememe are summed. Writing the sum as
``w_min * sum_i D_i + (w_max - w_min) / (t_{k-1} - t_1) * sum_i (t_i - t_1) D_i``
turns all prefixes of a user into two running sums, so every prefix of every user costs one
pass over the data.
"""

import torch
from torch import nn

NORMALIZATIONS = ("none", "sum", "max")
# Which prefix conditions a row: its own (prefix, the paper's), or, as the SeeDRec release does,
# all of the user's training items for every training row (release: the targets leak).
INTEREST_SCOPES = ("prefix", "release")


def prefix_sememe_vectors(histories, table, start, end, w_min=0.1, w_max=0.5, normalize="none"):
    """Sememe vectors [end - start, q] for predicting flat history rows ``start .. end-1``.

    ``start`` must be the first row of a user (so running sums restart there).
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"sememe normalisation {normalize!r}: use one of {NORMALIZATIONS}")
    items = histories.items[start:end]
    times = histories.times[start:end]
    user_of_row = torch.searchsorted(histories.offsets, torch.arange(start, end), right=True) - 1
    first = histories.offsets[user_of_row] - start  # local row of each user's first item
    rel_time = times - times[first]

    sememes = table.multi_hot(items).to(torch.float64)  # [n, q]
    counts = _exclusive_running_sum(sememes, first)
    timed = _exclusive_running_sum(sememes * rel_time.unsqueeze(1), first)
    local = torch.arange(end - start)
    span = torch.where(local > first, rel_time[(local - 1).clamp(min=0)], rel_time.new_zeros(()))
    spread = torch.where(span > 0, (w_max - w_min) / span.clamp(min=1e-300), span.new_zeros(()))
    base = torch.where(span > 0, span.new_full((), w_min), span.new_full((), w_max))
    vectors = base.unsqueeze(1) * counts + spread.unsqueeze(1) * timed
    return _normalize(vectors, normalize).to(torch.float32)


def _exclusive_running_sum(values, first):
    """Per-user sums of the rows strictly before each row (``first``: each row's user start)."""
    inclusive = torch.cumsum(values, dim=0)
    before_row = torch.cat([values.new_zeros(1, values.shape[1]), inclusive[:-1]])
    return before_row - before_row[first]


def _normalize(vectors, how):
    if how == "sum":
        return vectors / vectors.sum(dim=1, keepdim=True).clamp(min=1e-12)
    if how == "max":
        return vectors / vectors.amax(dim=1, keepdim=True).clamp(min=1e-12)
    return vectors


def user_chunks(histories, max_rows):
    """(start, end) row ranges that begin at a user's first row and hold at most ``max_rows``
    rows, except a single user longer than that, who gets a range alone."""
    offsets = histories.offsets.tolist()
    start = offsets[0]
    for previous, current in zip(offsets, offsets[1:]):
        if current - start > max_rows and previous > start:
            yield start, previous
            start = previous
    if offsets[-1] > start:
        yield start, offsets[-1]


def prefix_vectors_at(histories, table, rows, **sememe_args):
    """The raw vectors [len(rows), q] of some history ``rows`` only, one user chunk at a
    time: S2IDM's training set without the whole cache in memory."""
    rows = torch.as_tensor(rows, dtype=torch.long)
    out = torch.zeros(len(rows), table.q)
    max_rows = max(1, 2**23 // max(table.q, 1))
    for start, end in user_chunks(histories, max_rows):
        inside = ((rows >= start) & (rows < end)).nonzero().squeeze(1)
        if len(inside):
            vectors = prefix_sememe_vectors(histories, table, start, end, **sememe_args)
            out[inside] = vectors[rows[inside] - start]
    return out


def stored_prefix_vectors(histories, table, rows, **sememe_args):
    """``prefix_vectors_at``, rounded to float16 as a cache of raw vectors stores them: what
    S2IDM trains on, so that it sees the vectors it will later generalise."""
    return prefix_vectors_at(histories, table, rows, **sememe_args).to(torch.float16).float()


def linear_after(linear, x, readout=None):
    """``linear(readout(x))``, with the two maps multiplied first: for a batch of more rows
    than ``linear`` has outputs, cheaper than computing ``readout(x)`` (one column per sememe).
    Gradients reach ``linear``; ``readout`` is S2IDM's, frozen."""
    if readout is None:
        return linear(x)
    weight = linear.weight @ readout.weight
    return nn.functional.linear(x, weight, linear.weight @ readout.bias + linear.bias)


# Int8 codes: S2IDM's last hidden activation is a tanh, in [-1, 1].
CODE_SCALE = 127.0


class InterestCache:
    """One interest per history row, computed once, stored on the CPU.

    Row ``r`` is what predicts history row ``r`` from the rows before it. Two forms:

    - ``readout`` is None: ``values`` [rows, q] float16 are the interest vectors themselves
      (q sememes x 2 bytes a row; Home: 187,778 x 1,265 -> 453 MiB);
    - else ``values`` [rows, hidden] int8 are S2IDM's last hidden activations ("codes", in
      [-1, 1] at steps of 1/127), and the vectors are ``readout(codes)``, one frozen linear map
      away (hidden bytes a row: 1,000 on every data set with S2IDM's default size).
    """

    def __init__(self, values, readout=None):
        self.values = values
        self.readout = readout

    @property
    def nbytes(self):
        return self.values.numel() * self.values.element_size()

    @classmethod
    def build(cls, histories, table, sememe_args, transform=None, device="cpu", readout=None,
              batch_size=2048, limit=None):  # fmt: skip
        """Every history row's ``transform(raw prefix vector)`` (the raw vector itself when
        ``transform`` is None), one user chunk of raw vectors at a time: the raw vectors of all
        rows are never held at once. ``readout``: ``transform`` gives codes (see the class).
        ``limit``: the first ``limit`` rows only (the rest stay zero), to time a sample."""
        values = None
        max_rows = max(1, 2**23 // max(table.q, 1))
        for start, end in user_chunks(histories, max_rows):
            if limit is not None:
                if start >= limit:
                    break
                end = min(end, limit)
            raw = prefix_sememe_vectors(histories, table, start, end, **sememe_args)
            raw = raw.to(torch.float16)
            for lo in range(0, len(raw), batch_size):
                out = raw[lo : lo + batch_size]
                if transform is not None:
                    with torch.no_grad():
                        out = transform(out.to(device=device, dtype=torch.float32)).cpu()
                out = _stored(out, readout is not None)
                if values is None:
                    values = torch.zeros(int(histories.offsets[-1]), out.shape[1], dtype=out.dtype)
                values[start + lo : start + lo + len(out)] = out
        if values is None:  # no rows at all
            values = torch.empty(0, table.q, dtype=torch.float16)
        return cls(values, readout)

    def lookup(self, rows, device):
        """What is stored for ``rows`` (codes or vectors), as float32 on ``device``."""
        values = self.values[rows.cpu()].to(device=device, non_blocking=True)
        if self.readout is None:
            return values.float()
        return values.float() / CODE_SCALE

    def vectors(self, rows, device):
        """The interest vectors of ``rows`` [len(rows), q], float32 on ``device``."""
        stored = self.lookup(rows, device)
        if self.readout is None:
            return stored
        with torch.no_grad():
            return self.readout(stored)


def _stored(out, codes):
    if codes:
        return (out * CODE_SCALE).round_().clamp_(-CODE_SCALE, CODE_SCALE).to(torch.int8)
    return out.to(torch.float16)
