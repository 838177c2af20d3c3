"""Memory of one training step on a comparison run's largest batch, per model, side by side.

    python benchmarks/step_memory.py --data amazon-home --models SASRec,CL4SRec \
        --data-path /tmp/seedrec-data [--protocol paper] [--config_files F] [--steps 3]

Why: a run's peak resident memory (the records' ``peak_rss_mib``) is reached in training, on
the batch with the most token positions, and is mostly that step's autograd graph. This
measures it with the config a ``compare.py`` run of the same data set and protocol gets, so a
difference between models in the run records can be traced to what one step holds.

Each model runs in its own process, one after the other, so that memory freed by one model
cannot hide another's peak. A process builds the data and the model as a run does (a SeeDRec
model trains S2IDM for one epoch only: its interest cache has the run's shape), finds the
largest training batch, and times ``--steps`` optimiser steps on it (zero_grad, loss,
backward, step). It reports the resident memory before the first step, the peak during the
steps (Linux: ``VmHWM``, reset before each) and, on CUDA, the largest peak allocated GPU memory.
The peak above the ready size is what the steps add: mostly the autograd graph, plus the
optimiser's state and what the allocator keeps between steps.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from comparison.plan import DEFAULT_DATA_PATH, config_files_for, resolve_models, run_config_dict
from comparison.protocols import PROTOCOLS, run_settings
from comparison.records import ComparisonError

RESULT_PREFIX = "step_memory: "


def resident_mib():
    """(current, peak since the last reset) resident memory of this process, in MiB."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak():
    """Start a new ``VmHWM`` at the current resident size (Linux ``clear_refs`` 5)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")


def largest_batch(train_data, item_seq_field):
    """The training batch with the most token positions (rows x trimmed length)."""
    best, best_size = None, -1
    for batch in train_data:
        size = batch[item_seq_field].numel()
        if size > best_size:
            best, best_size = batch, size
    return best


def measure(model_name, args, workdir):
    """One model's figures, in this process (the ``--child`` side)."""
    import torch
    from epoch_time import prepare_seedrec  # SeeDRec's one-off stages, as its trainer runs them

    import recbole_seedrec  # noqa: F401  (runtime shims)
    from recbole_seedrec.config import Config
    from recbole_seedrec.quick_start import build_model_and_trainer, prepare_data

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = run_settings(args.protocol, quick=False)
    config_dict = {
        **run_config_dict(settings, args.seed, Path(args.data_path).resolve(), workdir),
        "s2idm_epochs": 1,
        "s2idm_save_path": str(Path(workdir) / f"{model_name}-s2idm.pth"),
    }
    files = [str(path) for path in config_files_for(args.data, args.config_files)] or None
    config = Config(model_name, args.data, files, config_dict, cmd_args=[])
    _, train_data, _, _ = prepare_data(config, init_logging=lambda config: None)
    model, trainer = build_model_and_trainer(config, train_data)
    if hasattr(model, "build_interest_cache"):
        prepare_seedrec(model, trainer, train_data)
    batch = largest_batch(train_data, model.ITEM_SEQ).to(config["device"])
    cuda = config["device"].type == "cuda"
    model.train()
    ready, _ = resident_mib()
    peaks, gpu_peaks = [], []
    for _ in range(args.steps):
        trainer.optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        reset_peak()
        model.calculate_loss(batch).backward()
        trainer.optimizer.step()
        if cuda:
            torch.cuda.synchronize()
            gpu_peaks.append(torch.cuda.max_memory_allocated() / 2**20)
        peaks.append(resident_mib()[1])
    rows, length = batch[model.ITEM_SEQ].shape
    return {
        "model": model_name,
        "batch": [rows, length],
        "ready_mib": ready,
        "step_peak_mib": max(peaks),
        "step_above_ready_mib": max(peaks) - ready,
        "gpu_peak_mib": max(gpu_peaks) if cuda else None,
        "device": str(config["device"]),
    }


def run_child(model_name, args):
    """``model_name`` measured in a fresh process, inside a scratch folder (RecBole's trainer
    writes ./log_tensorboard); its figures, or an error naming the model."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", model_name]
    command += ["--data", args.data, "--data-path", str(Path(args.data_path).resolve())]
    command += ["--protocol", args.protocol, "--steps", str(args.steps), "--seed", str(args.seed)]
    if args.config_files:
        command += ["--config_files", *(str(Path(f).resolve()) for f in args.config_files)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    with tempfile.TemporaryDirectory(prefix="step-memory-") as scratch:
        done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=scratch)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    raise ComparisonError(f"{model_name}: the measuring process failed: {tail}")


def report(results, args):
    first = results[0]
    print(
        f"{args.data}, {args.protocol} protocol's run config, {args.steps} steps on each model's "
        f"largest training batch, device {first['device']}"
    )
    header = "model                  batch       ready MiB  step peak MiB  step - ready MiB  ratio"
    print(header + ("  GPU peak MiB" if first["gpu_peak_mib"] is not None else ""))
    base = first["step_above_ready_mib"]
    for result in results:
        rows, length = result["batch"]
        ratio = f"{result['step_above_ready_mib'] / base:5.2f}x" if base > 0 else "  n/a"
        line = (
            f"{result['model']:<22} {rows:>5} x {length:<3} {result['ready_mib']:>9,.0f}  "
            f"{result['step_peak_mib']:>13,.0f}  {result['step_above_ready_mib']:>16,.0f}  "
            f"{ratio}"
        )
        if result["gpu_peak_mib"] is not None:
            line += f"  {result['gpu_peak_mib']:>12,.0f}"
        print(line)
    print(
        f"(ready: data, model and interest cache built; step peak: the highest over the steps; "
        f"ratio: step - ready against {first['model']}'s)"
    )


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="ml-100k", help="data set name (as compare.py's)")
    parser.add_argument(
        "--data-path", default=str(DEFAULT_DATA_PATH), help="folder holding <data>/ atomic files"
    )
    parser.add_argument("--models", default="SASRec,CL4SRec", help="comma-separated models")
    parser.add_argument("--config_files", nargs="+", help="yaml files after the data set's")
    parser.add_argument("--protocol", default="paper", choices=sorted(PROTOCOLS))
    parser.add_argument("--steps", type=int, default=3, help="steps measured per model")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.steps < 1:
            raise ComparisonError(f"--steps {args.steps}: give 1 or more")
        if not Path("/proc/self/clear_refs").exists():
            raise ComparisonError("step_memory.py reads /proc/self: it runs on Linux only")
        if args.child:
            print(RESULT_PREFIX + json.dumps(measure(args.child, args, ".")), flush=True)
            return 0
        results = [run_child(model, args) for model in resolve_models(args.models)]
    except ComparisonError as error:
        print(f"step_memory.py: {error}", file=sys.stderr)
        return 2
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
