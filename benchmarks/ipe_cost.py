"""What IPE costs a training step, by the form the interest cache hands it, side by side.

Usage:
    python benchmarks/ipe_cost.py [--batch 1024] [--sememes 1265] [--hidden 1000] [--d 64] \
        [--k 3] [--ranks 64,128,192] [--repeats 15] [--threads 1]

SeeDRec's prompts come from IPE's k generators, whose first layer reads the row's interest. The
cache hands it either the q-wide vectors (``interest_cache: dense``), S2IDM's int8 codes with
the frozen readout folded into that layer every step (``compact``, the default), or a row's
first R principal components with the projection folded in too (``interest_cache_rank``). This
times IPE's forward and backward on one batch of each form (random values of the right shapes
and types: the cost does not depend on them), the median of ``--repeats`` after a warm-up, with
the multiply-adds each needs. The defaults are Home's sizes and batch.
"""

import argparse
import statistics
import time

import torch
from torch import nn

from recbole_seedrec.model.seedrec.interest import CODE_SCALE
from recbole_seedrec.model.seedrec.ipe import InterestPromptEncoder


def forms(args):
    """(name, interest, readout, multiply-adds) of each form the cache can hand IPE."""
    b, q, h, kd = args.batch, args.sememes, args.hidden, args.k * args.d
    codes = torch.randint(-127, 128, (b, h), dtype=torch.int8)
    yield (
        "dense: q-wide vectors, float16",
        lambda: torch.randn(b, q).half().float(),
        None,
        2 * b * q * kd,
    )
    readout = nn.Linear(h, q).requires_grad_(False)
    # folding: W @ R forward and dW @ R^T backward, besides the batch's own two products
    folded = 2 * kd * q * h + 2 * b * h * kd
    yield "compact: int8 codes, readout folded", lambda: codes.float() / CODE_SCALE, readout, folded
    for rank in args.ranks:
        projected = nn.Linear(rank, q).requires_grad_(False)
        values = torch.randn(b, rank).half()
        cost = 2 * kd * q * rank + 2 * b * rank * kd
        yield f"rank {rank}: components, folded", lambda v=values: v.float(), projected, cost


def time_step(ipe, interest, readout, repeats):
    """Median seconds of one forward and backward of IPE (with reading the batch's values)."""
    seconds = []
    for repeat in range(repeats + 1):
        ipe.zero_grad(set_to_none=True)
        start = time.perf_counter()
        ipe(interest(), readout).sum().backward()
        if repeat:  # the first is a warm-up
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--sememes", type=int, default=1265, help="q (Home: 1,265)")
    parser.add_argument("--hidden", type=int, default=1000, help="S2IDM's last hidden size")
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--ranks", default="64,128,192")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    args.ranks = [int(r) for r in args.ranks.split(",") if r]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ipe = InterestPromptEncoder(args.sememes, args.d, args.k)
    print(f"IPE forward + backward, {args.batch} rows, q {args.sememes}, hidden {args.hidden}, "
          f"k x d = {args.k} x {args.d}, torch {torch.__version__}, {args.threads} thread(s)")  # fmt: skip
    rows = []
    for name, interest, readout, macs in forms(args):
        rows.append((name, time_step(ipe, interest, readout, args.repeats), macs))
    baseline = rows[1][1]  # compact, the default
    print(f"   {'form':38s} {'ms/batch':>9s} {'M mult-adds':>12s} {'/ compact':>10s}")
    for name, seconds, macs in rows:
        print(f"   {name:38s} {seconds * 1e3:9.1f} {macs / 1e6:12.0f} {seconds / baseline:10.3f}")


if __name__ == "__main__":
    main()
