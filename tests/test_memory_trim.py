"""``trim_memory_every``: the trainer hands the allocator's free memory back at the start of an
epoch and every N batches."""

import pytest

from recbole_seedrec.config import ConfigError
from recbole_seedrec.run import build_run
from recbole_seedrec.trainer import memory
from tests.seedrec_data import default_histories, default_sememes, make_config, write_atomic

NAME = "trimsyn"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_atomic(tmp_path_factory.mktemp("trim"), NAME, default_histories(),
                        default_sememes())  # fmt: skip


@pytest.fixture
def trims(monkeypatch):
    """The arguments of every malloc_trim call, in place of glibc's."""
    calls = []
    monkeypatch.setattr(memory, "MALLOC_TRIM", calls.append)
    return calls


def test_trims_before_every_nth_call_and_returns_the_loss(trims):
    losses = memory.trimming_every(lambda interaction: interaction * 2, 3)
    assert [losses(k) for k in range(7)] == [0, 2, 4, 6, 8, 10, 12]
    assert trims == [0, 0, 0]  # before the 1st, the 4th and the 7th call
    assert memory.trimming_every(len, 0) is len


def test_nothing_to_trim_with_leaves_the_loss_alone(monkeypatch):
    monkeypatch.setattr(memory, "MALLOC_TRIM", None)  # a C library without malloc_trim
    assert memory.trimming_every(len, 20) is len


@pytest.mark.parametrize(("model", "every"), [("SASRec", 2), ("SeeDRecSASRec", 2),
                                              ("SASRec", 0), ("SASRec", None)])  # fmt: skip
def test_a_training_epoch_trims_every_n_batches(root, trims, model, every):
    settings = {"train_batch_size": 4, "train_batching": "random"}
    if every is not None:
        settings[memory.OPTION] = every
    run = build_run(make_config(model, root, NAME, **settings), init_logging=lambda config: None)
    if hasattr(run.trainer, "train_s2idm"):
        run.trainer.train_s2idm(run.train_data, verbose=False, saved=False)
    run.trainer._train_epoch(run.train_data, 0)
    batches = len(run.train_data)
    assert batches >= 4
    expected = memory.DEFAULT_EVERY if every is None else every
    assert len(trims) == (-(-batches // expected) if expected else 0)  # 1, 1 + N, ...


def test_a_negative_count_is_one_clear_error(root):
    with pytest.raises(ConfigError, match="--trim_memory_every: -1 is not a whole number >= 0"):
        make_config("SASRec", root, NAME, trim_memory_every=-1)
