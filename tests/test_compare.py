"""benchmarks/compare.py: runs in subprocesses, resuming, aggregation, reports and costs."""

import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from comparison import cli, costs, paper, results, schedule
from comparison.plan import make_plan
from comparison.protocols import PROTOCOLS
from comparison.records import ComparisonError
from comparison.report import _epoch_rows, markdown, shown_configs
from comparison.runner import RunBusy, RunFailed, claim

from tests.conftest import REDUCED_SEQUENTIAL
from tests.seedrec_data import write_atomic

DATA = "comparesyn"
N_ITEMS = 40
# The tiny models of the other tests; one epoch; topk up to 20 needs more than 20 items.
TINY = {
    **{k: v for k, v in REDUCED_SEQUENTIAL.items() if k not in ("show_progress", "seed")},
    "train_batch_size": 64,
    "embedding_size": 16,
    "s2idm_hidden_dims": [16],
    "s2idm_epochs": 1,
    "s2idm_learning_rate": 0.001,
    "state": "ERROR",
}
DATA_YAML = """\
load_col:
  inter: [user_id, item_id, timestamp]
  item: [item_id, category_sememes, word_sememes]
SEMEME_FIELD: [category_sememes, word_sememes]
SEMEME_WORD_FIELDS: []
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """40 items with two sememe fields, 30 users of 5 to 12 items, and a config yaml."""
    root = tmp_path_factory.mktemp("compare-data")
    rng = random.Random(7)
    histories = {
        f"u{user}": [(f"i{rng.randint(1, N_ITEMS)}", 1000.0 + 60 * k) for k in range(length)]
        for user, length in enumerate([rng.randint(5, 12) for _ in range(30)], start=1)
    }
    write_atomic(root, DATA, histories, {})
    lines = ["item_id:token\tcategory_sememes:token_seq\tword_sememes:token_seq"]
    lines += [f"i{i}\ta{i % 4} b{i % 7}\tw{i % 5}" for i in range(1, N_ITEMS + 1)]
    (root / DATA / f"{DATA}.item").write_text("\n".join(lines) + "\n")
    config = root / "tiny.yaml"
    config.write_text(DATA_YAML + "".join(f"{k}: {json.dumps(v)}\n" for k, v in TINY.items()))
    return {"root": root, "config": config}


def _command(tiny, out, *extra):
    return [
        "--data",
        DATA,
        "--data-path",
        str(tiny["root"]),
        "--protocol",
        "full",
        "--config_files",
        str(tiny["config"]),
        "--out",
        str(out),
        *extra,
    ]


def test_two_models_two_seeds_then_resume(tiny, tmp_path, capsys):
    command = _command(tiny, tmp_path, "--models", "SASRec,SeeDRec", "--seeds", "2")
    assert cli.main(command) == 0
    printed = capsys.readouterr().out
    assert "[4/4] SeeDRecSASRec seed 2021 done in" in printed and "left" in printed

    runs = sorted((tmp_path / DATA / "full" / "runs").glob("*.json"))
    assert [p.name for p in runs] == [
        "SASRec-seed2020.json",
        "SASRec-seed2021.json",
        "SeeDRecSASRec-seed2020.json",
        "SeeDRecSASRec-seed2021.json",
    ]
    record = json.loads(runs[2].read_text())
    assert record["epochs_run"] == 1 and record["best_epoch"] == 0
    assert record["s2idm_train_s"] > 0 and record["peak_rss_mib"] > 50
    assert record["parameters"]["frozen"] == record["parameters"]["s2idm"] > 0
    assert (
        record["config"]["seed"] == 2020 and record["config"]["eval_args"]["mode"]["test"] == "full"
    )

    report = json.loads((tmp_path / DATA / "full.json").read_text())
    sasrec = report["aggregate"]["models"]["SASRec"]["test"]["ndcg@10"]
    values = [json.loads(p.read_text())["test"]["ndcg@10"] for p in runs[:2]]
    assert sasrec["values"] == values and math.isclose(sasrec["mean"], sum(values) / 2)
    tests = [t for t in report["aggregate"]["paired_tests"] if t["metric"] == "ndcg@10"]
    assert [(t["model"], t["backbone"], t["pairs"]) for t in tests] == [
        ("SeeDRecSASRec", "SASRec", 2)
    ]
    text = (tmp_path / DATA / "full.md").read_text()
    assert " ± " in text and "| SeeDRecSASRec | SASRec | NDCG@10 |" in text
    assert "S2IDM / item-level DiffRec parameters" in text  # cheap: measured in every run

    mtimes = [p.stat().st_mtime_ns for p in runs]
    assert cli.main(command) == 0
    printed = capsys.readouterr().out
    assert printed.count("already done") == 4 and "running" not in printed
    assert [p.stat().st_mtime_ns for p in runs] == mtimes

    # --report-only rebuilds the report from the records and runs nothing, not even seed 2022
    (tmp_path / DATA / "full.md").unlink()
    more_seeds = [*command[:-1], "3", "--report-only"]
    assert cli.main(more_seeds) == 0
    assert "(no run)" in capsys.readouterr().out
    assert sorted((tmp_path / DATA / "full" / "runs").glob("*.json")) == runs
    rebuilt = json.loads((tmp_path / DATA / "full.json").read_text())
    assert rebuilt["seeds_run"] == [2020, 2021] and "--report-only" not in rebuilt["command"]
    assert rebuilt["aggregate"] == report["aggregate"]
    assert (tmp_path / DATA / "full.md").is_file()
    # ... and needs neither the data (a fresh clone has the records only) nor a run's inputs
    elsewhere = [str(tmp_path / "no-data") if a == str(tiny["root"]) else a for a in more_seeds]
    assert cli.main(elsewhere) == 0
    rebuilt = json.loads((tmp_path / DATA / "full.json").read_text())
    assert rebuilt["aggregate"] == report["aggregate"]


def test_unknown_model_fails_in_one_line_before_any_run(tiny, tmp_path, capsys):
    assert cli.main(_command(tiny, tmp_path, "--models", "SASRec,SASrec")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --models: Unknown model 'SASrec'. Did you mean SASRec")
    assert err.count("\n") == 1 and not (tmp_path / DATA).exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--eval_args={'mode': 'uni100'}"], "--eval_args is fixed by the protocol"),
        (["--seed=3"], "--seed is set by the command; use --seeds or --seed-list"),
        (["--data-path", "/nonexistent"], "No atomic files for data set 'comparesyn'"),
        (["--seed-list", "1,x"], "--seed-list '1,x': give integers"),
        (["--model-config", "SASRec"], "--model-config 'SASRec': give MODEL=FILE"),
        (["--model-config", "GRU4Rec=x.yaml"], "GRU4Rec is not in --models (SASRec)"),
        (["--model-config", "SASRec=/nonexistent.yaml"], "no file '/nonexistent.yaml'"),
        (["--jobs", "0"], "--jobs 0: give 1 or more runs at once"),
        (["--report-only"], "--report-only: no finished run in"),
    ],
)
def test_bad_options_fail_in_one_line(tiny, tmp_path, capsys, extra, message):
    assert cli.main(_command(tiny, tmp_path, "--models", "SASRec", *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_failed_run_is_reported_and_the_others_go_on(tiny, tmp_path, capsys, monkeypatch):
    def failing_launch(spec, work_dir, keep_checkpoints=False):
        raise RunFailed("exit 1: RuntimeError: boom", 3.0, work_dir / "output.log")

    monkeypatch.setattr(schedule, "launch", failing_launch)
    assert cli.main(_command(tiny, tmp_path, "--models", "SASRec", "--seed-list", "5")) == 1
    printed = capsys.readouterr().out
    assert "[1/1] SASRec seed 5 FAILED after 3s (exit 1: RuntimeError: boom); log: " in printed
    text = (tmp_path / DATA / "full.md").read_text()
    assert "Failed runs (not in the tables): SASRec seed 5 (exit 1: RuntimeError: boom)." in text
    assert not (tmp_path / DATA / "full" / "runs").exists()


def test_jobs_run_at_once_longest_first_and_share_the_cores(tiny, tmp_path, capsys, monkeypatch):
    """--jobs 2: two real runs in flight together (a barrier that only two concurrent runs
    can pass), the seed's S2IDM run started first, each record written by the parent."""
    together = threading.Barrier(2, timeout=60)
    started, threads = [], set()
    real_launch = schedule.launch

    def launch_together(spec, work_dir, keep_checkpoints=False):
        started.append(spec["model"])
        threads.add(spec["threads"])
        together.wait()  # BrokenBarrierError unless the other run is in flight too
        return real_launch(spec, work_dir, keep_checkpoints)

    monkeypatch.setattr(schedule, "launch", launch_together)
    command = _command(tiny, tmp_path, "--models", "SASRec,SeeDRec", "--seeds", "1")
    assert cli.main([*command, "--jobs", "2"]) == 0
    assert started == ["SeeDRecSASRec", "SASRec"]
    assert threads == {max(1, len(os.sched_getaffinity(0)) // 2)}
    records = [json.loads(p.read_text()) for p in (tmp_path / DATA / "full" / "runs").iterdir()]
    assert sorted(r["model"] for r in records) == ["SASRec", "SeeDRecSASRec"]
    assert all(r["torch_threads"] == min(threads) and "ndcg@10" in r["test"] for r in records)
    assert capsys.readouterr().out.count(" done in ") == 2


def test_threads_per_run_shares_the_cores_unless_given():
    cores = len(os.sched_getaffinity(0))
    assert schedule.threads_per_run(None, 1) is None  # torch's own default, as before
    assert schedule.threads_per_run(None, 2) == max(1, cores // 2)
    assert schedule.threads_per_run(None, 4 * cores) == 1
    assert schedule.threads_per_run(3, 2) == 3


def test_runs_made_with_other_inputs_are_not_mixed(tiny, tmp_path, capsys):
    runs = tmp_path / DATA / "full" / "runs"
    runs.mkdir(parents=True)
    (runs / "SASRec-seed2020.json").write_text(
        json.dumps({"model": "SASRec", "seed": 2020, "fingerprint": "old", "inputs": {}})
    )
    assert cli.main(_command(tiny, tmp_path, "--models", "SASRec", "--epochs=2")) == 2
    assert "holds runs made with other inputs (" in capsys.readouterr().err


def _record(model, seed, ndcg, wall=60.0):
    return {
        "model": model,
        "seed": seed,
        "test": {"ndcg@10": ndcg, "hit@10": 2 * ndcg, "gauc": 0.6},
        "valid": {"ndcg@10": ndcg},
        "best_epoch": 3,
        "epochs_run": 9,
        "wall_s": wall,
        "train_epoch_s": [2.0, 4.0, 3.0],
        "s2idm_train_s": 6.0 if model.startswith("SeeDRec") else None,
        "interest_cache_s": 3.0 if model.startswith("SeeDRec") else None,
        "peak_rss_mib": 900.0,
        "parameters": {"trainable": 10, "frozen": 0, "s2idm": None},
        "config": {"model": model, "seed": seed, "epochs": 50, "prompt_num": 3},
    }


def test_aggregation_math_on_hand_made_records():
    base = [0.10, 0.20, 0.30]
    ours = [0.11, 0.22, 0.33]  # differences 0.01, 0.02, 0.03: mean 0.02, sd 0.01
    records = [_record("SASRec", 2020 + i, v) for i, v in enumerate(base)]
    records += [_record("SeeDRecSASRec", 2020 + i, v, wall=90.0) for i, v in enumerate(ours)]
    backbones = {"SASRec": None, "SeeDRecSASRec": "SASRec"}
    summary = results.aggregate(records, ["SASRec", "SeeDRecSASRec"], backbones, ["ndcg@10"])

    ndcg = summary["models"]["SASRec"]["test"]["ndcg@10"]
    assert math.isclose(ndcg["mean"], 0.2) and math.isclose(ndcg["std"], 0.1)  # n - 1
    (test,) = summary["paired_tests"]
    assert math.isclose(test["t"], 0.02 / (0.01 / math.sqrt(3)), rel_tol=1e-6)
    assert math.isclose(test["p"], 0.0742, abs_tol=1e-4)  # two-sided, 2 degrees of freedom
    assert math.isclose(test["relative_change"], 0.1)
    assert summary["best_model"] == "SeeDRecSASRec"
    share = summary["models"]["SeeDRecSASRec"]["s2idm_stage_share"]["mean"]
    assert math.isclose(share, 9.0 / 90.0)

    one_seed = results.aggregate(records[:1] + records[3:4], [], backbones, ["ndcg@10"])
    assert one_seed["paired_tests"][0]["note"].startswith("n/a: 1 paired seed(s)")
    assert one_seed["models"]["SASRec"]["test"]["ndcg@10"]["std"] is None


def test_home_report_shows_published_figures_differences_and_targets():
    records = [_record("SASRec", 2020 + i, v) for i, v in enumerate([0.10, 0.20, 0.30])]
    records += [_record("SeeDRecSASRec", 2020 + i, v) for i, v in enumerate([0.11, 0.22, 0.33])]
    backbones = {"SASRec": None, "SeeDRecSASRec": "SASRec"}
    summary = results.aggregate(records, ["SASRec"], backbones, ["ndcg@10", "hit@10", "gauc"])
    configs = {"SASRec": records[0]["config"], "SeeDRecSASRec": records[3]["config"]}
    figures = paper.targets(
        "amazon-home",
        "paper",
        summary["models"],
        summary["paired_tests"],
        summary["best_model"],
        quick=False,
    )
    assert [t["status"] for t in figures] == ["hit", "missed", "hit"]  # +10 %, p 0.074, best
    report = {
        "data": "amazon-home",
        "protocol": "paper",
        "quick": True,
        "seeds": [2020, 2021, 2022],
        "command": "python benchmarks/compare.py --data amazon-home --quick",
        "headline": ["ndcg@10", "hit@10", "gauc"],
        "aggregate": summary,
        "failed": [],
        "published": paper.published("amazon-home", "paper"),
        "no_published": "",
        "protocol_differences": paper.protocol_differences(
            "amazon-home", "paper", configs["SeeDRecSASRec"], [2020, 2021, 2022], quick=True
        ),
        "targets": figures,
        "costs": {
            "runs": costs.run_costs(summary["models"]),
            "sampled_eval": {
                "mode": "uni999",
                "data": "ml-100k validation",
                "speedup": 115.2,
                "identical_metrics": True,
                "threads": 1,
            },
        },
        "configs": shown_configs(configs),
        "inputs": {"config_files": [], "overrides": []},
    }
    text = "\n".join(markdown(report))
    validation = "ml-100k validation; metrics identical: True; 1 torch thread"
    row = f"| 115x (hit) | goal >= 100x | {validation} |"
    assert row in text
    assert text.startswith("# amazon-home: paper protocol — QUICK profile")
    assert "| SeeDRecSASRec | NDCG@10 | 0.1036 | 0.2200 ± 0.1100 |" in text
    assert "selects and early-stops on the test set" in text and "QUICK profile:" in text
    assert "| ... with p < 0.05 (paired t-test over seeds, two-sided) | MISSED | p = 0.0742" in text
    assert "| one SeeDRecSASRec run, wall time | 1m00s (hit) |" in text
    assert report["configs"]["per_model"]["SeeDRecSASRec"] == {"model": "SeeDRecSASRec"}


def test_costs_time_seedrec_against_sasrec_like_for_like(tiny, tmp_path, monkeypatch):
    command = _command(tiny, tmp_path, "--models", "SASRec,SeeDRec", "--costs")
    plan = make_plan(*cli.build_parser().parse_known_args(command))
    epoch_time = costs._benchmark_module("epoch_time")
    timed = []

    def fake_epoch_ratio(pair, *_):
        timed.append(pair)
        return {"pair": list(epoch_time.PAIRS[pair]), "ratio": 1.2, "repeats": 3, "batches": 5}

    monkeypatch.setattr(costs, "epoch_time_ratio", fake_epoch_ratio)
    monkeypatch.setattr(costs, "sampled_eval_speedup", lambda quick: None)
    monkeypatch.setattr(costs, "s2idm_vs_diffrec_parameters", lambda *_: None)
    measured = cli.measure_costs(plan, slow=True)
    assert timed == ["sasrec"]  # both read out one position: like for like as they run
    assert list(measured["epoch_time"]) == ["SeeDRecSASRec"]
    labels = [row[0] for row in _epoch_rows(measured)]
    assert labels == ["SeeDRecSASRec epoch / SASRec epoch"]


def test_s2idm_and_diffrec_parameters_on_the_same_data(tiny):
    settings = {**PROTOCOLS["full"], "seed": 1, "data_path": str(tiny["root"])}
    counted = costs.s2idm_vs_diffrec_parameters(
        "SeeDRecSASRec", DATA, [tiny["config"]], settings, []
    )
    q, n, width, t = counted["sememes"], counted["items"], 16, 10  # s2idm_time_emb_dim: 10
    assert (q, n) == (4 + 7 + 5, N_ITEMS + 1)  # sememes a0-a3, b0-b6, w0-w4; items + [PAD]
    mlp = t * t + t  # the time embedding's Linear(t, t), in both
    assert counted["s2idm"] == mlp + (q + t) * width + width + width * q + q
    assert counted["diffrec"] == mlp + (n + t) * width + width + width * n + n
    assert math.isclose(counted["diffrec_over_s2idm"], counted["diffrec"] / counted["s2idm"])


def test_epoch_time_ratio_reuses_the_benchmark_with_two_sememe_fields(tiny):
    backbone = {
        "hidden_size": 16,
        "inner_size": 32,
        "n_layers": 1,
        "n_heads": 1,
        "hidden_dropout_prob": 0.2,
        "attn_dropout_prob": 0.1,
        "MAX_ITEM_LIST_LENGTH": 10,
        "train_batch_size": 64,
        "seed": 1,
    }
    threads_before = torch.get_num_threads()
    with costs.thread_count(1):  # compare.py --threads 1
        measured = costs.epoch_time_ratio(
            "sasrec", DATA, tiny["root"], backbone, ["category_sememes", "word_sememes"], quick=True
        )
    assert torch.get_num_threads() == threads_before
    assert measured["pair"] == ["SASRec", "SeeDRecSASRec"] and measured["ratio"] > 0
    assert "ratio SeeDRecSASRec/SASRec" in measured["report"]
    # Timed with the runs' thread count and dropout, not the benchmark's defaults.
    assert measured["threads"] == 1
    assert "'hidden_dropout_prob': 0.2, 'attn_dropout_prob': 0.1" in measured["report"]


def test_epoch_time_profile_names_where_a_batch_goes(tiny, monkeypatch, capsys):
    epoch_time = costs._benchmark_module("epoch_time")
    argv = ["epoch_time.py", "--dataset", DATA, "--data-path", str(tiny["root"])]
    argv += ["--pairs", "batching", "--repeats", "1", "--warmup", "0", "--max-batches", "2"]
    argv += ["--max-len", "10", "--batch-size", "64", "--hidden-size", "16", "--no-loader"]
    monkeypatch.setattr(sys, "argv", [*argv, "--profile", "2"])
    epoch_time.main()
    printed = capsys.readouterr().out
    for label in ("SASRec[random]", "SASRec[length_grouped]"):
        assert f"profile of {label}, 2 batches" in printed
    shares = [float(line.split("%")[0]) for line in printed.splitlines() if " aten::" in line]
    assert len(shares) >= 2 and all(0 < share <= 100 for share in shares)
    assert any(" aten::mm" in line or " aten::addmm" in line for line in printed.splitlines())


def test_epoch_time_labels_set_batching_and_switches():
    epoch_time = costs._benchmark_module("epoch_time")
    defaults = epoch_time.build_parser().parse_args([])
    stock, ours = (
        epoch_time.model_and_settings(label, defaults) for label in epoch_time.PAIRS["stock"]
    )
    settings = ("train_batching", "fused_cross_entropy", "native_gelu", "recbole_class")
    assert stock == ("SASRec", dict(zip(settings, ("random", False, False, False))))
    assert ours == ("SASRec", dict(zip(settings, ("length_grouped", True, True, False))))
    recbole_bert, our_bert = (
        epoch_time.model_and_settings(label, defaults)
        for label in epoch_time.PAIRS["bert4rec-loss"]
    )
    # RecBole's class keeps RecBole's padded batches; ours is grouped by "auto" at build time
    assert recbole_bert[1]["recbole_class"] and recbole_bert[1]["train_batching"] == "random"
    assert not our_bert[1]["recbole_class"] and our_bert[1]["train_batching"] == "auto"
    recbole_gelu = epoch_time.build_parser().parse_args(["--gelu", "recbole_gelu"])
    assert epoch_time.model_and_settings("SASRec[random]", recbole_gelu)[1]["native_gelu"] is False
    sasrec, full_last_layer = (
        epoch_time.model_and_settings(label, defaults)
        for label in epoch_time.PAIRS["sasrec-full-last-layer"]
    )
    assert sasrec[1]["read_out_only_last_layer"] is False
    assert full_last_layer[1]["read_out_only_last_layer"] is False
    with pytest.raises(ValueError, match="unknown setting"):
        epoch_time.model_and_settings("SASRec[fast]", defaults)


def test_sampled_eval_speedup_reuses_the_benchmark_and_agrees_with_recbole():
    measured = costs.sampled_eval_speedup(quick=True, mode="uni10")  # uni999 in the command
    assert measured["identical_metrics"] is True  # the same negatives, the same metrics
    assert measured["speedup"] > 0 and measured["repeats"] == 1


def _distinct_sememes_before_last(root):
    """By hand from the tiny data's files: each user's distinct sememes but the last item's."""
    items = {}
    for line in (root / DATA / f"{DATA}.item").read_text().splitlines()[1:]:
        item, category, word = line.split("\t")
        items[item] = {f"c:{t}" for t in category.split()} | {f"w:{t}" for t in word.split()}
    histories = {}
    for line in (root / DATA / f"{DATA}.inter").read_text().splitlines()[1:]:
        user, item, _ = line.split("\t")
        histories.setdefault(user, []).append(item)
    return {u: len(set().union(*(items[i] for i in rows[:-1]))) for u, rows in histories.items()}


def test_few_shot_from_new_runs_and_from_kept_checkpoints(tiny, tmp_path, capsys):
    counts = _distinct_sememes_before_last(tiny["root"])
    threshold = sorted(counts.values())[len(counts) // 3]  # about a third of the users
    chosen = sum(n <= threshold for n in counts.values())
    models = ["--models", "SASRec,SeeDRec"]
    kept = _command(tiny, tmp_path, *models, "--seed-list", "1", "--keep-checkpoints")
    assert cli.main(kept) == 0
    runs = tmp_path / DATA / "full" / "runs"
    assert "few_shot" not in json.loads((runs / "SASRec-seed1.json").read_text())

    # Seed 2 runs with the option; seed 1's kept checkpoints are evaluated again.
    few = ["--few-shot", str(threshold)]
    assert cli.main(_command(tiny, tmp_path, *models, "--seed-list", "1,2", *few)) == 0
    printed = capsys.readouterr().out
    assert f"few-shot (<= {threshold}) SeeDRecSASRec seed 1: evaluating " in printed
    for model in ("SASRec", "SeeDRecSASRec"):
        for seed, source in ((1, "checkpoint"), (2, "run")):
            record = json.loads((runs / f"{model}-seed{seed}.json").read_text())
            entry = record["few_shot"][str(threshold)]
            assert (entry["source"], entry["users"], entry["test_users"]) == (source, chosen, 30)
            assert entry["test"] == record["test"]  # full ranking: the same evaluation again
            assert set(entry["test_few_shot"]) == set(record["test"])
    report = json.loads((tmp_path / DATA / "full.json").read_text())
    part = report["few_shot"][str(threshold)]
    assert part["models"]["SASRec"]["users"] == [chosen]
    (test,) = [t for t in part["paired_tests"] if t["metric"] == "ndcg@10"]
    assert test["few_shot"]["pairs"] == test["all"]["pairs"] == 2
    text = (tmp_path / DATA / "full.md").read_text()
    assert f"## Few-shot users (≤ {threshold} distinct sememes)" in text
    assert f"| SASRec | 2 | {chosen} of 30 |" in text
    assert "Evaluated again from kept checkpoints: SASRec, SeeDRecSASRec." in text

    # Nothing left to do; another threshold: seed 2 kept no checkpoint, and says so.
    assert cli.main(_command(tiny, tmp_path, *models, "--seed-list", "1,2", *few)) == 0
    assert "evaluating" not in capsys.readouterr().out
    assert cli.main(_command(tiny, tmp_path, *models, "--seed-list", "1,2", "--few-shot", "0")) == 0
    printed = capsys.readouterr().out
    assert "few-shot (<= 0) SASRec seed 2: no checkpoint kept" in printed
    assert "few-shot (<= 0) SASRec seed 1: evaluating" in printed
    assert "--few_shot_max_sememes is set by the command; use --few-shot" in _refused(
        tiny, tmp_path, capsys
    )


def _refused(tiny, tmp_path, capsys):
    assert cli.main(_command(tiny, tmp_path, "--models", "SASRec", "--few_shot_max_sememes=3")) == 2
    return capsys.readouterr().err


def test_a_finished_run_s_checkpoint_is_found_without_its_s2idm_artifact(tmp_path):
    from comparison.few_shot import find_checkpoint

    record = {"model": "SeeDRecSASRec", "model_file": str(tmp_path / "moved.pth")}
    assert find_checkpoint(record, tmp_path) is None  # nothing kept
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "SeeDRecSASRec-S2IDM-Nov-24-2026_01-00-00-aaaa.pth").write_bytes(b"s2idm")
    (saved / "SeeDRecSASRec-Nov-24-2026_01-00-00-bbbb.pth").write_bytes(b"model")
    assert find_checkpoint(record, tmp_path).name == "SeeDRecSASRec-Nov-24-2026_01-00-00-bbbb.pth"
    (tmp_path / "moved.pth").write_bytes(b"named")
    assert find_checkpoint(record, tmp_path) == tmp_path / "moved.pth"  # the record's own path


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigterm_stops_the_running_children_and_writes_the_report(tiny, tmp_path, jobs):
    """``kill`` on the command is an interrupt: no orphaned run keeps the CPU busy."""
    command = _command(tiny, tmp_path, "--models", "SASRec", "--seeds", str(jobs))
    command += ["--jobs", str(jobs)]
    command += ["--epochs=100000", "--stopping_step=100000"]  # runs until stopped
    script = Path(cli.__file__).resolve().parents[1] / "compare.py"
    parent = subprocess.Popen(
        [sys.executable, str(script), *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    children = []
    try:
        for line in parent.stdout:
            if "running" in line:
                break
        deadline = time.monotonic() + 60
        while len(children) < jobs and time.monotonic() < deadline:
            time.sleep(0.1)
            children = _children_of(parent.pid)  # started by the parent's worker threads
        assert len(children) == jobs
        parent.send_signal(signal.SIGTERM)
        _, errors = parent.communicate(timeout=60)
    finally:
        parent.kill()
        for child in children:
            if Path(f"/proc/{child}").exists():
                os.kill(child, signal.SIGKILL)  # only when the test fails: leave nothing running
    assert parent.returncode == 130 and "interrupted; rerun to resume" in errors
    assert not [child for child in children if Path(f"/proc/{child}").exists()]
    assert (tmp_path / DATA / "full.md").is_file()


def _children_of(pid):
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def test_a_run_held_by_a_live_process_is_skipped_not_run_twice(tiny, tmp_path, capsys):
    """Two comparisons on one --out: the second leaves the running (model, seed) alone."""
    command = _command(tiny, tmp_path, "--models", "SASRec", "--seed-list", "5")
    work_dir = tmp_path / DATA / "full" / "logs" / "SASRec-seed5"
    work_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        (work_dir / "running.pid").write_text(f"{holder.pid} {boot}")
        assert cli.main(command) == 0
        assert "SASRec seed 5: skipped, running in process" in capsys.readouterr().out
        assert not (work_dir / "output.log").exists()  # the other process's log is untouched
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_claim_is_taken_over_and_released(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    lock = tmp_path / "running.pid"
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    lock.write_text(f"{ended.stdout.strip()} {boot}")
    with claim(tmp_path):
        assert lock.read_text() == f"{os.getpid()} {boot}"
        with pytest.raises(RunBusy, match=f"running in process {os.getpid()}"), claim(tmp_path):
            pass
    assert not lock.exists()
    # Made before the machine last started: its number now names another, live process.
    lock.write_text(f"{os.getpid()} an-earlier-boot")
    with claim(tmp_path):
        assert lock.read_text() == f"{os.getpid()} {boot}"
    assert not lock.exists()


def test_a_model_s_own_config_file_applies_to_its_runs_only(tiny, tmp_path, capsys):
    """--model-config: one model's file comes after the shared ones; the other models' runs,
    their inputs and their records are unchanged."""
    own = tmp_path / "sasrec-own.yaml"
    own.write_text("hidden_size: 24\ninner_size: 48\n")
    command = _command(tiny, tmp_path / "out", "--models", "SASRec,GRU4Rec", "--seed-list", "5")
    args, overrides = cli.build_parser().parse_known_args(command)
    shared = make_plan(args, overrides)
    args, overrides = cli.build_parser().parse_known_args(
        [*command, "--model-config", f"SASRec={own}"]
    )
    plan = make_plan(args, overrides)
    assert plan.spec("SASRec", 5)["config_files"][-1] == str(own.resolve())
    assert plan.spec("GRU4Rec", 5)["config_files"] == shared.spec("GRU4Rec", 5)["config_files"]
    assert plan.configs["SASRec"]["hidden_size"] == 24 != shared.configs["SASRec"]["hidden_size"]
    assert plan.fingerprint_for("GRU4Rec") == shared.fingerprint == plan.fingerprint
    assert plan.fingerprint_for("SASRec") != shared.fingerprint_for("SASRec")

    # A folder with a GRU4Rec record takes the new SASRec runs; one with a SASRec record made
    # without the file refuses them.
    runs = tmp_path / "out" / DATA / "full" / "runs"
    runs.mkdir(parents=True)
    for model in ("GRU4Rec", "SASRec"):
        record = {"model": model, "seed": 5, "fingerprint": shared.fingerprint_for(model),
                  "inputs": shared.inputs_for(model)}  # fmt: skip
        (runs / f"{model}-seed5.json").write_text(json.dumps(record))
        if model == "GRU4Rec":
            assert make_plan(args, overrides).fingerprint_for("GRU4Rec") == record["fingerprint"]
    with pytest.raises(ComparisonError, match=r"other inputs \(model_config_files differ"):
        make_plan(args, overrides)


def test_sampled_eval_benchmark_reads_the_first_users_of_another_data_set(
    synthetic, tmp_path, monkeypatch
):
    """``--dataset``: a copy with the first users' interactions and every item; both paths agree."""
    import sampled_eval_speed

    from tests.seedrec_data import NAME

    source = Path(synthetic["root"]) / NAME
    users = list(
        dict.fromkeys(
            line.split("\t")[0] for line in (source / f"{NAME}.inter").read_text().splitlines()[1:]
        )
    )
    data_path = sampled_eval_speed.first_users(NAME, synthetic["root"], 5, tmp_path)
    kept = (Path(data_path) / NAME / f"{NAME}.inter").read_text().splitlines()
    assert {line.split("\t")[0] for line in kept[1:]} == set(users[:5])
    expected = [
        line
        for line in (source / f"{NAME}.inter").read_text().splitlines()
        if line.split("\t")[0] in set(users[:5]) or line == kept[0]
    ]
    assert kept == expected  # the rows of the kept users, in file order, header first
    assert (Path(data_path) / NAME / f"{NAME}.item").read_text() == (
        source / f"{NAME}.item"
    ).read_text()
    monkeypatch.setitem(sampled_eval_speed.REDUCED_SASREC, "topk", [1, 3, 5])  # few items here
    monkeypatch.setitem(sampled_eval_speed.REDUCED_SASREC, "valid_metric", "NDCG@5")
    assert sampled_eval_speed.bench("uni10", 1, 4096, NAME, data_path) is True
