"""Training on several processes through RecBole's own mechanism, with or without GPUs.

RecBole 1.2.1 starts ``nproc`` processes (``run_recbole(..., nproc=N)``), each one rank of a
``torch.distributed`` group at ``ip:port``; ``world_size`` ranks in all, this machine's first
being ``offset``. Its loaders shard each epoch with a ``DistributedSampler`` (each rank a
``1/world_size`` share of every batch) and its trainer averages gradients with
``DistributedDataParallel`` and metrics with ``_map_reduce``. It always uses the ``nccl``
backend and one CUDA device per rank. Here a rank without a GPU (no CUDA, or ``gpu_id: ''``)
joins with ``gloo`` on the CPU instead, so that the same run works on a laptop and in the tests.

Evaluation is not sharded: RecBole's ``DistributedSampler`` repeats users to give every rank
as many, and ``_map_reduce`` weights each rank's means by its batches, so its metrics differ
from one process's. Rank 0 evaluates every user, as one process does, and sends the result
to the other ranks, which need it to stop early at the same epoch.

A SeeDRec model trains S2IDM on rank 0 alone (one small network on one vector per user) and
sends its weights to the other ranks (``broadcast_state``); ``DistributedDataParallel`` leaves
the frozen S2IDM out (``ignore_in_ddp``). Each machine builds the interest cache once, in its
local rank 0, and its ranks map that one copy (``shared_across_local_ranks``).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket

import torch

from recbole_seedrec.errors import ConfigError


def is_distributed(config_dict) -> bool:
    """Whether a config belongs to one rank of a group (RecBole sets ``local_rank`` then)."""
    return "local_rank" in config_dict


def uses_cuda(config_dict) -> bool:
    """RecBole's own rule: CUDA when a GPU is visible and ``gpu_id`` is not empty."""
    return torch.cuda.is_available() and str(config_dict.get("gpu_id", "0")) != ""


def check_gpu_ids(config_dict) -> None:
    """One GPU per process here: RecBole asserts it with a bare ``AssertionError``."""
    gpu_id = config_dict["gpu_id"]
    count = len(gpu_id) if isinstance(gpu_id, tuple) else len(str(gpu_id).split(","))
    nproc = config_dict["nproc"]
    if count < nproc:
        ids = ",".join(str(i) for i in range(nproc))
        raise ConfigError(
            "--gpu_id",
            f"names {count} GPU(s) for {nproc} processes (--nproc {nproc})",
            f"Give one per process, e.g. --gpu_id={ids}, or --gpu_id='' for the CPU.",
        )


def join_cpu_group(config_dict) -> None:
    """Join the group with ``gloo``, on the CPU, where RecBole would use ``nccl`` and CUDA.

    Args:
        config_dict: the rank's ``final_config_dict``; ``device`` and ``single_spec`` are set,
            and ranks other than 0 log errors only, as RecBole quiets them.
    """
    config_dict["gpu_id"] = ""
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(
            backend="gloo",
            rank=config_dict["local_rank"] + config_dict["offset"],
            world_size=config_dict["world_size"],
            init_method=f"tcp://{config_dict['ip']}:{config_dict['port']}",
        )
    config_dict["device"] = torch.device("cpu")
    config_dict["single_spec"] = False
    if config_dict["local_rank"] != 0:
        config_dict.update(state="error", show_progress=False, verbose=False)


@contextlib.contextmanager
def as_one_process(config):
    """RecBole's one-process behaviour inside the block: loaders built there hold every row,
    and evaluation there skips ``_map_reduce``."""
    single_spec = config["single_spec"]
    config["single_spec"] = True
    try:
        yield
    finally:
        config["single_spec"] = single_spec


def rank_and_size(config) -> tuple[int, int]:
    """``(global rank, world size)`` of this process; ``(0, 1)`` for a single process."""
    if config["single_spec"]:
        return 0, 1
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def group_line(config) -> str:
    """The run's group in one line, for the log."""
    rank, size = rank_and_size(config)
    backend = torch.distributed.get_backend()
    return f"distributed: rank {rank} of {size} ({backend}, {config['device']}); rank 0 evaluates"


def group_settings(nproc, world_size, ip, port, group_offset) -> dict:
    """The options every rank gets, as RecBole's ``run_recbole`` builds them.

    Args:
        nproc: processes started on this machine.
        world_size: ranks in all machines (-1: ``nproc``).
        ip, port: where rank 0 listens.
        group_offset: the global rank of this machine's first process.

    Returns:
        dict: ``world_size``, ``ip``, ``port``, ``nproc`` and ``offset``.

    Raises:
        ConfigError: a count or port that cannot work, or rank 0's port already taken here.
    """
    world_size = nproc if world_size == -1 else world_size
    if not isinstance(nproc, int) or nproc < 1:
        raise ConfigError("--nproc", f"{nproc!r} is not a number of processes", "Give 1 or more.")
    if not isinstance(world_size, int) or world_size < nproc:
        raise ConfigError(
            "--world_size",
            f"{world_size!r} is fewer than this machine's {nproc} processes",
            "Give the processes of all machines, or -1 for --nproc.",
        )
    if not isinstance(group_offset, int) or not 0 <= group_offset <= world_size - nproc:
        raise ConfigError(
            "--group_offset",
            f"{group_offset!r} leaves no room for {nproc} ranks among {world_size}",
            f"Give this machine's first rank, 0 to {world_size - nproc}.",
        )
    if not str(port).isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--port", f"{port!r} is not a port", "Give a number, e.g. 5678.")
    if group_offset == 0:  # rank 0 listens here: the port must be free
        _check_port_free(ip, int(port))
    return {
        "world_size": world_size,
        "ip": ip,
        "port": str(port),
        "nproc": nproc,
        "offset": group_offset,
    }


def _check_port_free(ip, port):
    """torch would fail in every rank with a traceback: say it once, before they start."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as torch's store binds
        try:
            probe.bind((ip, port))
        except OSError as error:
            raise ConfigError(
                f"--ip {ip} --port {port}",
                f"rank 0 cannot listen there ({error.strerror})",
                "Give another --port, or this machine's own address as --ip.",
            ) from None


def ignore_in_ddp(model, prefix) -> None:
    """Leave ``model``'s parameters and buffers under ``prefix`` out of
    ``DistributedDataParallel`` (call before wrapping): a frozen part, kept equal otherwise.
    """
    names = [name for name, _ in model.named_parameters() if name.startswith(prefix)]
    names += [name for name, _ in model.named_buffers() if name.startswith(prefix)]
    torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
        model, names
    )


def broadcast_state(module, config) -> None:
    """Every rank's ``module`` takes rank 0's parameters and buffers (in place); nothing in a
    single process."""
    if config["single_spec"]:
        return
    for tensor in module.state_dict().values():
        torch.distributed.broadcast(tensor, src=0)


def shared_across_local_ranks(config, build, path):
    """One tensor per machine for all its ranks: local rank 0 runs ``build()`` and writes the
    result to ``path``, then every local rank maps that file (``MAP_SHARED``: one copy in
    memory, however many ranks). ``build()`` itself in a single process.

    Args:
        config: the rank's config (``single_spec``, ``local_rank``).
        build: makes the tensor; called by each machine's local rank 0 only.
        path: a file every rank of the machine can reach, removed once all have mapped it.

    Returns:
        The tensor, the same on every rank.
    """
    if config["single_spec"]:
        return build()
    header = [None]
    if config["local_rank"] == 0:
        values = build().contiguous()
        partial = f"{path}.partial"
        values.numpy().tofile(partial)
        os.replace(partial, path)
        header = [(tuple(values.shape), str(values.dtype).removeprefix("torch."))]
        del values  # from here, this rank reads the mapped copy too
    torch.distributed.broadcast_object_list(header, src=0)  # every machine's is the same
    torch.distributed.barrier()  # every machine's file is written
    shape, dtype = header[0]
    mapped = torch.from_file(path, shared=True, size=math.prod(shape), dtype=getattr(torch, dtype))
    torch.distributed.barrier()  # every rank has mapped it: the file's name can go
    if config["local_rank"] == 0:
        os.remove(path)
    return mapped.view(shape)
