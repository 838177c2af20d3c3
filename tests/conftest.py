import ast
import os
import re
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# A SASRec small enough for an end-to-end epoch on ml-100k in seconds on 2 cores.
REDUCED_SEQUENTIAL = {
    "hidden_size": 16,
    "inner_size": 32,
    "n_layers": 1,
    "n_heads": 1,
    "MAX_ITEM_LIST_LENGTH": 10,
    "train_batch_size": 1024,
    "eval_batch_size": 4096,
    "epochs": 1,
    "show_progress": False,
    "seed": 2024,
}


def result_line(output, label):
    """The metrics a run logged as ``<label>: OrderedDict([...])`` (e.g. "test result"), in
    their logged order."""
    line = next(row for row in output.splitlines() if f"{label}:" in row)
    return dict(ast.literal_eval(re.search(r"OrderedDict\((.*)\)", line).group(1)))


def shared_data(name):
    """Path of a data set under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the real data sets live in ../shared/data beside the repo")
    return path


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The test models are tiny: threads gain nothing, and on a busy 2-core machine they stall."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="session")
def _work_in_temp_dir(tmp_path_factory):
    """RecBole writes ./log, ./log_tensorboard and ./saved relative to the working directory."""
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(previous)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """The small synthetic SeeDRec data set of tests/seedrec_data.py, written once a module."""
    from tests.seedrec_data import NAME, write_default

    return write_default(tmp_path_factory.mktemp("data"), NAME)


@pytest.fixture(scope="module")
def data(synthetic):
    """Split once (CE: no training negatives); every SeeDRec model reads the same data class."""
    from tests.seedrec_data import NAME, build_data, make_config

    return build_data(make_config("SeeDRecSASRec", synthetic["root"], NAME))


CUDA_SKIP_REASON = "needs CUDA: torch.cuda.is_available() is False on this machine"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cuda: runs on an NVIDIA GPU (skipped, with the reason, where there is none)"
    )


def pytest_collection_modifyitems(config, items):
    """``cuda``-marked tests skip on a machine without a GPU; benchmarks/gpu_check.sh runs them
    where there is one."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason=CUDA_SKIP_REASON)
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
