"""benchmarks/step_memory.py: each model's largest training step, in its own process."""

import json
import sys

import pytest
import torch
from comparison import costs

from tests.seedrec_data import NAME, SYNTHETIC

step_memory = costs._benchmark_module("step_memory")


@pytest.fixture(scope="module")
def command(synthetic, tmp_path_factory):
    config = tmp_path_factory.mktemp("step-memory") / "synthetic.yaml"
    config.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in SYNTHETIC.items()))
    return ["--data", NAME, "--data-path", str(synthetic["root"]), "--protocol", "full",
            "--config_files", str(config)]  # fmt: skip


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self (Linux)")
def test_each_model_reports_its_largest_batch_and_step_peak(command, capsys):
    models = ["SASRec", "CL4SRec", "SeeDRecSASRec"]
    assert step_memory.main([*command, "--models", ",".join(models), "--steps", "2"]) == 0
    printed = capsys.readouterr().out
    print(printed)
    rows = {line.split()[0]: line.split() for line in printed.splitlines() if line[:1].isalpha()}
    assert [name for name in rows if name in models] == models  # in the order asked
    for name in models:
        _, batch_rows, _, length, ready, peak, above, _ = rows[name]
        # at most train_batch_size rows, trimmed to at most MAX_ITEM_LIST_LENGTH
        assert 1 <= int(batch_rows) <= SYNTHETIC["train_batch_size"] and 1 <= int(length) <= 10
        ready, peak, above = (float(value.replace(",", "")) for value in (ready, peak, above))
        assert ready > 100 and peak > 100 and abs(above - (peak - ready)) <= 1  # rounding
    assert rows["SASRec"][-1] == "1.00x"


def test_largest_batch_counts_rows_times_length():
    batches = [{"item_id_list": torch.zeros(rows, length)} for rows, length in
               [(32, 3), (20, 10), (32, 6)]]  # fmt: skip
    assert step_memory.largest_batch(batches, "item_id_list") is batches[1]


def test_bad_options_get_one_line(command, capsys):
    assert step_memory.main([*command, "--steps", "0"]) == 2
    assert "--steps 0: give 1 or more" in capsys.readouterr().err
    assert step_memory.main([*command, "--models", "SASRec,NoSuchModel"]) == 2
    assert "--models:" in capsys.readouterr().err
