"""A run on two processes (RecBole's ``nproc``, the ``gloo`` backend on the CPU) against the same
run in one process, end to end through ``run_recbole_seedrec``.

Why the two agree: DistributedDataParallel starts every rank from rank 0's weights (seeded as
one process's); each rank draws the one-process length-grouped batches and takes every second
row of each, so a step's two halves make the one-process batch, and the averaged gradient is
its gradient; with dropout 0 and CE nothing else in training is random. Rank 0 evaluates every
user, as one process does (the same sampled negatives: nothing drew from NumPy before).
Tolerance: the averaged half-batch gradients equal the batch gradient up to float rounding;
metrics are rounded to 4 places: 2e-4.
"""

import math
import socket

import pytest
import torch
import torch.multiprocessing as mp

from recbole_seedrec.checkpoint_eval import evaluate_checkpoint
from recbole_seedrec.data import batching
from recbole_seedrec.data.candidates import data_preparation
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.distributed import (
    broadcast_state,
    check_gpu_ids,
    group_settings,
    shared_across_local_ranks,
)
from recbole_seedrec.errors import ConfigError
from recbole_seedrec.quick_start import run_recbole_seedrec
from tests.seedrec_data import (
    SYNTHETIC,
    default_histories,
    default_sememes,
    make_config,
    write_atomic,
)

NAME = "distsyn"
TOLERANCE = 2e-4
# run_recbole_seedrec's defaults for the group options
ONE_MACHINE = {"world_size": -1, "ip": "localhost", "port": "5678", "group_offset": 0}


def free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return str(probe.getsockname()[1])


@pytest.fixture(scope="module")
def twelve_users(tmp_path_factory):
    """The synthetic histories with a twelfth user (a copy of the eighth's)."""
    histories = default_histories()
    histories["u12"] = list(histories["u8"])
    return write_atomic(tmp_path_factory.mktemp("data"), NAME, histories, default_sememes())


def options(root, checkpoints, mode="full"):
    return {
        **SYNTHETIC,
        "data_path": str(root),
        "checkpoint_dir": str(checkpoints),
        "epochs": 3,
        "eval_step": 1,
        "hidden_dropout_prob": 0.0,
        "attn_dropout_prob": 0.0,
        "eval_batch_size": 4096,
        "train_batch_size": 16,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": mode},
    }


def same_figures(result, expected):
    assert set(result) == set(expected)
    for key, value in expected.items():
        assert math.isclose(result[key], value, abs_tol=TOLERANCE), key


@pytest.mark.parametrize("mode", ["full", "uni5"])
def test_two_processes_match_one(twelve_users, tmp_path, mode):
    one = run_recbole_seedrec(
        "SASRec", NAME, config_dict=options(twelve_users, tmp_path / "one", mode), cmd_args=[]
    )
    two = run_recbole_seedrec(
        "SASRec",
        NAME,
        config_dict=options(twelve_users, tmp_path / "two", mode),
        cmd_args=[],
        nproc=2,
        port=free_port(),
    )
    assert two is not None and two["model_file"] != one["model_file"]
    same_figures(two["best_valid_result"], one["best_valid_result"])
    same_figures(two["test_result"], one["test_result"])
    if mode == "full":  # rank 0's checkpoint, evaluated again in one process (no negatives)
        same_figures(evaluate_checkpoint(two["model_file"])["test_result"], two["test_result"])


def test_each_rank_takes_its_rows_of_the_one_process_batches(twelve_users, monkeypatch):
    config = make_config(
        "SASRec", twelve_users, NAME, train_batch_size=6, train_batching="length_grouped"
    )
    loader = data_preparation(config, create_dataset(config))[0]
    assert isinstance(loader, batching.LengthGroupedTrainDataLoader)
    loader.generator.manual_seed(config["seed"])  # every rank draws from one seed
    one_process = loader._batches()
    loader.step //= 2  # as RecBole cuts a rank's batches
    shares = []
    for rank in (0, 1):
        monkeypatch.setattr(batching, "rank_and_size", lambda _, rank=rank: (rank, 2))
        loader.generator.manual_seed(config["seed"])
        shares.append(loader._batches())
    assert len(shares[0]) == len(shares[1]) == len(one_process)
    for whole, first, second in zip(one_process, *shares):
        assert sorted([*first, *second]) == sorted(whole) and len(first) == len(second)


@pytest.mark.parametrize("interest_cache, rank", [("compact", 0), ("dense", 0), ("compact", 2)])
def test_seedrec_on_two_processes_matches_one(twelve_users, tmp_path, interest_cache, rank):
    """S2IDM trained on rank 0 and sent to rank 1, the interest cache built once on this
    machine and mapped by both ranks (with ``rank``: its principal components fitted on each
    rank and rank 0's sent), sampled evaluation (uni5) on rank 0."""
    settings = {**options(twelve_users, tmp_path, "uni5"), "interest_cache": interest_cache}
    settings["interest_cache_rank"] = rank
    settings["s2idm_hidden_dims"] = [4]  # narrower than the 18 sememes: compact holds codes
    one = run_recbole_seedrec(
        "SeeDRecSASRec", NAME, config_dict={**settings, "checkpoint_dir": str(tmp_path / "one")},
        cmd_args=[],
    )  # fmt: skip
    two = run_recbole_seedrec(
        "SeeDRecSASRec", NAME, config_dict={**settings, "checkpoint_dir": str(tmp_path / "two")},
        cmd_args=[], nproc=2, port=free_port(),
    )  # fmt: skip
    assert two is not None
    same_figures(two["best_valid_result"], one["best_valid_result"])
    same_figures(two["test_result"], one["test_result"])
    leftovers = [p.name for p in (tmp_path / "two").iterdir() if "interest-cache" in p.name]
    assert leftovers == []  # the shared cache file is gone once every rank mapped it
    s2idm = [
        {k: v for k, v in torch.load(run["model_file"], weights_only=False)["state_dict"].items()
         if k.startswith("s2idm.")}
        for run in (one, two)
    ]  # fmt: skip
    assert s2idm[0] and s2idm[0].keys() == s2idm[1].keys()
    for name, value in s2idm[0].items():  # rank 0 trained S2IDM as one process does
        torch.testing.assert_close(s2idm[1][name], value, msg=name)


def _rank_shares(local_rank, port, folder, queue):
    """One of two ranks: rank-dependent weights and cache, then the sharing helpers."""
    torch.distributed.init_process_group(
        "gloo", rank=local_rank, world_size=2, init_method=f"tcp://localhost:{port}"
    )
    config = {"single_spec": False, "local_rank": local_rank}
    torch.manual_seed(local_rank)
    module = torch.nn.Linear(3, 2)
    broadcast_state(module, config)
    built = []

    def build():
        built.append(local_rank)
        return torch.arange(12, dtype=torch.int8).view(3, 4) + local_rank

    values = shared_across_local_ranks(config, build, str(folder / "cache"))
    queue.put((local_rank, module.weight.tolist(), values.tolist(), built))  # no shared tensors
    torch.distributed.destroy_process_group()


def test_rank_zero_weights_and_one_cache_per_machine_reach_every_rank(tmp_path):
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_rank_shares, args=(free_port(), tmp_path, queue), nprocs=2, join=True)
    results = sorted(queue.get() for _ in range(2))
    torch.manual_seed(0)
    rank_zero = torch.nn.Linear(3, 2).weight.tolist()
    assert all(weight == rank_zero for _, weight, _, _ in results)
    expected = torch.arange(12, dtype=torch.int8).view(3, 4).tolist()
    assert all(values == expected for _, _, values, _ in results)
    assert [built for *_, built in results] == [[0], []]  # built by local rank 0 alone
    assert list(tmp_path.iterdir()) == []  # its file removed once both had mapped it


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"nproc": 2, "world_size": 1}, "--world_size: 1 is fewer than this machine's 2"),
        ({"nproc": 2, "world_size": 4, "group_offset": 3}, "--group_offset: 3 leaves no room"),
        ({"nproc": 2, "port": "http"}, "--port: 'http' is not a port"),
    ],
)
def test_group_options_that_cannot_work_are_one_line(settings, message):
    with pytest.raises(ConfigError, match=message):
        group_settings(**{**ONE_MACHINE, **settings})


def test_a_taken_port_is_refused_before_any_process_starts():
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        with pytest.raises(ConfigError, match=f"--ip localhost --port {port}: rank 0 cannot"):
            group_settings(**{**ONE_MACHINE, "nproc": 2, "port": port})


def test_fewer_gpu_ids_than_processes_is_one_line():
    with pytest.raises(ConfigError, match="--gpu_id: names 1 GPU"):
        check_gpu_ids({"gpu_id": "0", "nproc": 2})
    check_gpu_ids({"gpu_id": (0, 1), "nproc": 2})  # RecBole's tuple form


@pytest.mark.cuda
@pytest.mark.parametrize("model", ["SASRec", "SeeDRecSASRec"])
def test_one_gpu_rank_with_nccl_matches_one_process(twelve_users, tmp_path, model):
    """RecBole's own nccl path (one rank, world_size 1) against one process on the GPU; for
    SeeDRec with S2IDM's broadcast and the machine's shared cache on that path."""
    gpu = {"use_gpu": True, "gpu_id": "0"}
    one = run_recbole_seedrec(
        model, NAME, config_dict={**options(twelve_users, tmp_path / "one"), **gpu}, cmd_args=[]
    )
    rank = run_recbole_seedrec(
        model,
        NAME,
        config_dict={**options(twelve_users, tmp_path / "rank"), **gpu},
        cmd_args=[],
        world_size=1,
        port=free_port(),
    )
    same_figures(rank["test_result"], one["test_result"])
