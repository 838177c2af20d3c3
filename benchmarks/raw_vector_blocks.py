"""Raw prefix vectors in one pass per cache chunk against a few users at a time (the cache's way).

Usage:
    python benchmarks/raw_vector_blocks.py --dataset amazon-home --data-path DIR [--rows 300000]

For the first ``--rows`` history rows of the data set (its config from ``benchmarks/configs/``),
each cache chunk (2^23 numbers) is computed twice, side by side: ``prefix_sememe_vectors`` over
the whole chunk, and ``prefix_vectors_in_blocks`` (blocks of ``BLOCK_NUMBERS``). Prints the
seconds per 1,000 rows of each, their ratio, and how many chunks differ (0: the same numbers).
One thread.
"""

import argparse
import time
from pathlib import Path

import torch

from recbole_seedrec.config import Config
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.model.seedrec.interest import (
    block_rows,
    prefix_sememe_vectors,
    prefix_vectors_in_blocks,
    user_chunks,
)
from recbole_seedrec.model.seedrec.sememe_interest import sememe_args, sememe_table_for

HERE = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-path", required=True)
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config_file = HERE / "benchmarks" / "configs" / f"{args.dataset}.yaml"
    cmd = [f"--data_path={args.data_path}", "--show_progress=False"]
    config = Config("SeeDRecSASRec", args.dataset, [str(config_file)], cmd_args=cmd)
    train, _, _ = create_dataset(config).build()
    histories, table = train.user_histories, sememe_table_for(config, train)
    weights = sememe_args(config)
    whole_s = blocks_s = 0.0
    rows = differing = 0
    for start, end in user_chunks(histories, block_rows(table, 2**23)):
        if start >= args.rows:
            break
        began = time.perf_counter()
        whole = prefix_sememe_vectors(histories, table, start, end, **weights).half()
        whole_s += time.perf_counter() - began
        began = time.perf_counter()
        blocked = prefix_vectors_in_blocks(histories, table, start, end, **weights)
        blocks_s += time.perf_counter() - began
        differing += not torch.equal(whole, blocked)
        rows += end - start
    print(f"{args.dataset}: {rows:,} rows, q = {table.q:,}, blocks of {block_rows(table):,} rows")
    print(f"whole chunks: {whole_s / rows * 1e3:.3f} s per 1,000 rows")
    print(f"blocks:       {blocks_s / rows * 1e3:.3f} s per 1,000 rows")
    print(f"whole / blocks: {whole_s / blocks_s:.2f}x; chunks that differ: {differing}")


if __name__ == "__main__":
    main()
