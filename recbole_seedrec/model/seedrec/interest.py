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


# Numbers (float64) per block of ``prefix_sememe_vectors``: its dozen passes over a block of
# 2 MiB stay in the CPU's cache, 5-8x faster than over 64 MiB (ml-1m, 1 thread).
BLOCK_NUMBERS = 2**18


def block_rows(table, numbers=BLOCK_NUMBERS):
    """Rows of ``table.q`` sememes that fit ``numbers``."""
    return max(1, numbers // max(table.q, 1))


def user_chunks(histories, max_rows, start=None, end=None):
    """(start, end) row ranges that begin at a user's first row and hold at most ``max_rows``
    rows, except a single user longer than that, who gets a range alone. ``start`` (a user's
    first row) and ``end``: only the rows between them (the last range may end inside a user)."""
    offsets = histories.offsets
    if start is not None or end is not None:
        lo = 0 if start is None else int(torch.searchsorted(offsets, start))
        hi = len(offsets) if end is None else int(torch.searchsorted(offsets, end, right=True))
        offsets = offsets[lo:hi]
    offsets = offsets.tolist()
    if end is not None and offsets[-1] < end:
        offsets.append(end)
    start = offsets[0]
    for previous, current in zip(offsets, offsets[1:]):
        if current - start > max_rows and previous > start:
            yield start, previous
            start = previous
    if offsets[-1] > start:
        yield start, offsets[-1]


def prefix_vectors_in_blocks(histories, table, start, end, **sememe_args):
    """``prefix_sememe_vectors`` of rows ``start .. end-1`` in float16, as a cache stores them,
    computed a few users at a time (``BLOCK_NUMBERS``); the same numbers, faster."""
    out = torch.empty(end - start, table.q, dtype=torch.float16)
    for lo, hi in user_chunks(histories, block_rows(table), start, end):
        out[lo - start : hi - start] = prefix_sememe_vectors(
            histories, table, lo, hi, **sememe_args
        )
    return out


def prefix_vectors_at(histories, table, rows, **sememe_args):
    """The raw vectors [len(rows), q] of some history ``rows`` only, a few users at a time:
    S2IDM's training set without the whole cache in memory."""
    rows = torch.as_tensor(rows, dtype=torch.long)
    out = torch.zeros(len(rows), table.q)
    for start, end in user_chunks(histories, block_rows(table)):
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
# History rows (whole users, drawn with a fixed seed) a cache's principal components are fitted on.
PROJECTION_SAMPLE_ROWS = 20_000


class PrincipalProjection(nn.Module):
    """A row's coordinates on the first ``rank`` principal components of what the cache would
    otherwise hold (S2IDM's codes, or the vectors): ``rank`` numbers a row instead of the full
    width, at the error of the components left out (``interest_cache_rank``). Linear, so it
    folds into the readout (``readout_after``) and from there into the consumer's first layer.
    A module, so that a distributed run can give every rank rank 0's (``broadcast_state``)."""

    def __init__(self, mean, components):
        super().__init__()
        self.register_buffer("mean", mean)  # [width]
        self.register_buffer("components", components)  # [width, rank], orthonormal columns

    @classmethod
    def fit(cls, sample, rank):
        """Args:
            sample: [rows, width] values as the cache would hold them (before storage rounding).
            rank: how many components to keep, 0 < rank < width.

        Returns:
            The projection on the ``rank`` components of largest variance of ``sample``.
        """
        width = sample.shape[1]
        if not 0 < rank < width:
            raise ValueError(f"rank must be in [1, {width - 1}] for {width} wide rows, got {rank}")
        data = sample.double()
        mean = data.mean(dim=0)
        centred = data - mean
        _, vectors = torch.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
        components = vectors[:, -rank:].flip(1)
        return cls(mean.float(), components.float().contiguous())

    def forward(self, values):
        return (values - self.mean) @ self.components

    def readout_after(self, readout=None):
        """The frozen linear map from coordinates to the interest:
        ``readout(mean + components @ c)`` (``readout`` None: the held values are the interest)."""
        weight, bias = self.components, self.mean
        if readout is not None:
            weight = readout.weight @ weight
            bias = readout.weight @ bias + readout.bias
        layer = nn.Linear(weight.shape[1], weight.shape[0], device=weight.device)
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
        return layer.requires_grad_(False)


def fit_projection(histories, table, sememe_args, transform, rank, device="cpu", batch_size=2048):
    """A ``PrincipalProjection`` of ``rank`` components, fitted on what ``transform`` makes of
    the raw vectors of about ``PROJECTION_SAMPLE_ROWS`` rows: whole users, drawn with a fixed
    seed, so that the same S2IDM and data give the same components every time.

    Returns:
        The fitted ``PrincipalProjection``, on ``device``.
    """
    offsets = histories.offsets
    users = torch.randperm(len(offsets) - 1, generator=torch.Generator().manual_seed(0))
    raw, rows = [], 0
    for user in users.tolist():
        start, end = int(offsets[user]), int(offsets[user + 1])
        if end > start:
            raw.append(prefix_vectors_in_blocks(histories, table, start, end, **sememe_args))
            rows += end - start
        if rows >= PROJECTION_SAMPLE_ROWS:
            break
    raw = torch.cat(raw)
    sample = []
    for lo in range(0, len(raw), batch_size):
        out = raw[lo : lo + batch_size].to(device=device, dtype=torch.float32)
        with torch.no_grad():
            sample.append(transform(out) if transform is not None else out)
    return PrincipalProjection.fit(torch.cat(sample), rank)


def projected(transform, projection, raw):
    """``projection(transform(raw))``; ``transform`` None: ``projection(raw)``."""
    return projection(transform(raw) if transform is not None else raw)


def in_bfloat16(transform, device_type, raw):
    """``transform(raw)`` with its matrix products in bfloat16, returned in float32."""
    with torch.autocast(device_type, dtype=torch.bfloat16):
        return transform(raw).float()


class InterestCache:
    """One interest per history row, computed once, stored on the CPU.

    Row ``r`` is what predicts history row ``r`` from the rows before it. What ``values`` holds:

    - ``readout`` is None: [rows, q] float16, the interest vectors themselves
      (q sememes x 2 bytes a row; Home: 187,778 x 1,265 -> 453 MiB);
    - ``code_scale`` set: [rows, hidden] int8, S2IDM's last hidden activations ("codes", in
      [-1, 1] at steps of 1/127), and the vectors are ``readout(codes)``, one frozen linear map
      away (hidden bytes a row: 1,000 on every data set with S2IDM's default size);
    - else [rows, rank] float16 coordinates on principal components (``PrincipalProjection``),
      again ``readout`` away from the vectors.
    """

    def __init__(self, values, readout=None, code_scale=None):
        self.values = values
        self.readout = readout
        self.code_scale = code_scale

    @property
    def nbytes(self):
        return self.values.numel() * self.values.element_size()

    def describe(self):
        """What a row holds, for the log."""
        if self.readout is None:
            return "sememes (float16)"
        if self.code_scale is not None:
            return "S2IDM codes (int8)"
        return "principal components (float16)"

    @staticmethod
    def build(histories, table, sememe_args, transform=None, device="cpu", code_scale=None,
              batch_size=2048, limit=None):  # fmt: skip
        """Every history row's ``transform(raw prefix vector)`` (the raw vector itself when
        ``transform`` is None), one user chunk of raw vectors at a time: the raw vectors of all
        rows are never held at once. Stored in int8 at ``code_scale`` (values in [-1, 1]), else
        in float16. ``limit``: the first ``limit`` rows only (the rest stay zero), to time a
        sample. Returns the values; the caller knows their readout."""
        values = None
        for start, end in user_chunks(histories, block_rows(table, 2**23)):
            if limit is not None:
                if start >= limit:
                    break
                end = min(end, limit)
            raw = prefix_vectors_in_blocks(histories, table, start, end, **sememe_args)
            for lo in range(0, len(raw), batch_size):
                out = raw[lo : lo + batch_size]
                if transform is not None:
                    with torch.no_grad():
                        out = transform(out.to(device=device, dtype=torch.float32)).cpu()
                out = _stored(out, code_scale)
                if values is None:
                    values = torch.zeros(int(histories.offsets[-1]), out.shape[1], dtype=out.dtype)
                values[start + lo : start + lo + len(out)] = out
        if values is None:  # no rows at all
            values = torch.empty(0, table.q, dtype=torch.float16)
        return values

    def lookup(self, rows, device):
        """What is stored for ``rows`` (codes, coordinates or vectors), float32 on ``device``."""
        values = self.values[rows.cpu()].to(device=device, non_blocking=True).float()
        return values if self.code_scale is None else values / self.code_scale

    def vectors(self, rows, device):
        """The interest vectors of ``rows`` [len(rows), q], float32 on ``device``."""
        stored = self.lookup(rows, device)
        if self.readout is None:
            return stored
        with torch.no_grad():
            return self.readout(stored)


def _stored(out, code_scale):
    if code_scale is not None:
        return (out * code_scale).round_().clamp_(-code_scale, code_scale).to(torch.int8)
    return out.to(torch.float16)
