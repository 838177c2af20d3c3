"""Where a run's resident memory goes: the data, the interest cache, training batches.

Usage:
    python benchmarks/run_memory.py --model SASRec --dataset ml-1m --data-path DIR \
        [--batches 400] [--cache-rows 0] [--trim_memory_every=N] [--OPTION=VALUE ...]

In one process, with the data set's config from ``benchmarks/configs/``: prepares the data as a
run does, prints the resident memory (RSS) and peak, and the largest live tensors; builds the
model (a SeeDRec model: S2IDM left untrained, and the interest cache of the first
``--cache-rows`` rows, all with 0); then trains ``--batches`` batches with Adam, printing RSS and
peak every 100 and at the end, with the training seconds. The batches trim memory as the
trainer does (``trim_memory_every``, unset: every 20; ``--trim_memory_every=0`` never), which
tells memory the allocator keeps from memory in use. The last line sums the batches up: their
wall and process CPU seconds, and their own peak (the kernel's high-water mark, reset before
the first batch). Other ``--OPTION=VALUE`` go to the config. One thread.
"""

import argparse
import gc
import resource
import time
import warnings
from pathlib import Path

import torch

from recbole_seedrec.config import Config
from recbole_seedrec.data.dataset import release_unsplit_lists
from recbole_seedrec.run import build_model_and_trainer, prepare_data
from recbole_seedrec.trainer.memory import trim_interval, trimming_every

HERE = Path(__file__).resolve().parents[1]


def rss_mib():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def reset_peak():
    """Start the kernel's resident high-water mark (VmHWM) afresh; False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_since_reset():
    """VmHWM in MiB: the peak resident memory since ``reset_peak``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def say(what):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{what}: RSS {rss_mib():,.0f} MiB, peak {peak:,.0f} MiB", flush=True)


def largest_tensors(count=6):
    storages = {}
    with warnings.catch_warnings():  # isinstance on deprecated torch objects warns
        warnings.simplefilter("ignore", FutureWarning)
        tensors = [obj for obj in gc.get_objects() if isinstance(obj, torch.Tensor)]
    for tensor in tensors:
        if tensor.device.type == "cpu":
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = (storage.nbytes(), tuple(tensor.shape), tensor.dtype)
    total = sum(size for size, _, _ in storages.values())
    print(f"  live tensors: {total / 2**20:,.0f} MiB; the largest:")
    for size, shape, dtype in sorted(storages.values(), key=lambda entry: -entry[0])[:count]:
        print(f"    {size / 2**20:8.1f} MiB {shape} {dtype}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="SASRec")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-path", required=True)
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--cache-rows", type=int, default=0)
    args, extra = parser.parse_known_args()
    torch.set_num_threads(1)
    config_file = HERE / "benchmarks" / "configs" / f"{args.dataset}.yaml"
    cmd = [f"--data_path={args.data_path}", "--show_progress=False", *extra]
    config = Config(args.model, args.dataset, [str(config_file)], cmd_args=cmd)
    say("start")
    dataset, train_data, _, _ = prepare_data(config)
    release_unsplit_lists(dataset)  # as a run does (build_run)
    del dataset
    gc.collect()
    say("data prepared")
    largest_tensors()
    model, _ = build_model_and_trainer(config, train_data)
    if hasattr(model, "build_interest_cache"):
        model.freeze_s2idm()
        model.build_interest_cache(limit=args.cache_rows or None)
        gc.collect()
        say("interest cache built")
        largest_tensors(10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    every = trim_interval(config)
    loss_func = trimming_every(model.calculate_loss, every)
    model.train()
    gc.collect()
    fresh_peak = reset_peak()
    began, began_cpu = time.perf_counter(), time.process_time()
    for batch, interaction in enumerate(train_data, start=1):
        optimizer.zero_grad()
        loss_func(interaction).backward()
        optimizer.step()
        if batch % 100 == 0 and batch != args.batches:
            say(f"{batch} batches ({time.perf_counter() - began:.1f} s, trim every {every})")
        if batch == args.batches:
            break
    wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    say(f"{batch} batches ({wall:.1f} s, trim every {every})")
    peak = f"{peak_since_reset():.0f} MiB" if fresh_peak else "unknown"
    print(f"training: {batch} batches, {wall:.2f} s wall, {cpu:.2f} s CPU, peak {peak}")


if __name__ == "__main__":
    main()
