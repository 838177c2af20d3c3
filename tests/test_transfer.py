"""Cross-domain transfer: vocabulary mapping, OOV counting, the standalone S2IDM command, a
frozen source S2IDM on a target, and the transfer command's plan and report (tiny data)."""

import copy
import json
from pathlib import Path

import pytest
import torch
from comparison import transfer
from comparison.transfer_report import markdown, transfer_report

from recbole_seedrec.cli.s2idm import main as s2idm_main
from recbole_seedrec.cli.s2idm import train_s2idm_on
from recbole_seedrec.config import ConfigError
from recbole_seedrec.model.seedrec.s2idm_artifact import (
    map_columns,
    map_vocabulary,
    read_s2idm_artifact,
    union_vocabulary,
)
from recbole_seedrec.quick_start import load_data_and_model
from recbole_seedrec.trainer import SeeDRecTrainer, s2idm_stage
from tests.seedrec_data import (
    NAME,
    SYNTHETIC,
    build_data,
    build_model,
    default_histories,
    make_config,
    write_atomic,
)

# The target: the source's sememes s1..s15/g0..g2, with s10..s15 and g2 renamed (OOV).
RENAMED = {"s10", "s11", "s12", "s13", "s14", "s15", "g2"}
TARGET = "seedtarget"


def target_sememes():
    rename = {token: f"t-{token}" for token in RENAMED}
    return {
        f"i{i}": [rename.get(f"s{i}", f"s{i}"), rename.get(f"g{i % 3}", f"g{i % 3}")]
        for i in range(1, 16)
    }


@pytest.fixture(scope="module")
def target(synthetic):
    write_atomic(synthetic["root"], TARGET, default_histories(seed=5), target_sememes())
    return build_data(make_config("SeeDRecSASRec", synthetic["root"], TARGET))


@pytest.fixture(scope="module")
def source_artifact(synthetic, tmp_path_factory):
    """S2IDM trained alone on the synthetic source by the standalone command."""
    out = tmp_path_factory.mktemp("s2idm") / "source-S2IDM.pth"
    summary = train_s2idm_on([(NAME, [])], str(out), overrides(synthetic["root"]), logging=False)
    return out, summary


def overrides(root):
    """The synthetic settings as --key=value, the way the command reads them."""
    keys = ("load_col", "s2idm_hidden_dims", "s2idm_epochs", "s2idm_learning_rate", "state")
    return [f"--data_path={root}"] + [f"--{key}={SYNTHETIC[key]!r}" for key in keys]


# ----- mapping by token ------------------------------------------------------------------------
def test_tokens_map_by_sememe_with_or_without_a_field_prefix():
    source = ["category_sememes:Drama", "word_sememes:love", "word_sememes:night"]
    fields = ["category_sememes", "word_sememes"]
    target = ["love", "lipstick", "night", "word_sememes:love"]
    mapping = map_vocabulary(target, source, [], fields)
    assert list(zip(mapping.target, mapping.source)) == [(0, 1), (2, 2), (3, 1)]
    assert mapping.oov == [1] and (mapping.target_q, mapping.source_q) == (4, 3)
    # two target words on one source column: their weights add up there, OOV is dropped
    mapped = map_columns(torch.tensor([[1.0, 5.0, 2.0, 0.5]]), mapping)
    assert mapped.tolist() == [[0.0, 1.5, 2.0]]


def test_union_vocabulary_joins_several_data_sets_by_sememe():
    union, fields, mappings = union_vocabulary(
        [(["love", "night", "girl"], []), (["word_sememes:love", "category_sememes:Nail"],
          ["word_sememes", "category_sememes"]), (["nail", "night"], [])]
    )  # fmt: skip
    assert union == ["love", "night", "girl", "category_sememes:Nail", "nail"]
    assert fields == ["word_sememes", "category_sememes"]
    assert [m.source for m in mappings] == [[0, 1, 2], [0, 3], [4, 1]]
    assert all(m.oov == [] and m.source_q == 5 for m in mappings)


# ----- the standalone command ------------------------------------------------------------------
def test_standalone_command_writes_an_artifact_a_model_loads(source_artifact, synthetic, data):
    out, summary = source_artifact
    artifact = torch.load(out, weights_only=True)
    assert artifact["sources"] == [NAME] and artifact["hyperparameters"]["hidden_dims"] == [32]
    assert summary["users"] == 11 and summary["vocabulary"] == 18
    config = make_config(
        "SeeDRecSASRec", synthetic["root"], NAME, s2idm_path=str(out), s2idm_vocabulary="strict"
    )  # the same vocabulary: loads under strict, nothing mapped
    model = build_model(config, data)
    assert model.s2idm_tokens == artifact["vocabulary"] == model.sememe_table.vocabulary
    assert model.s2idm_transfer is None and model.interest_q == 18 and bool(model.s2idm_ready)
    assert not list(out.parent.glob("*.partial"))


def test_standalone_command_trains_on_the_trainers_rows(synthetic, data, tmp_path, monkeypatch):
    """The same training-history vectors as SeeDRec's own stage: one shared function."""
    seen = []

    def capture(s2idm, vectors, *args, **kwargs):
        seen.append(vectors.clone())
        return 0.0

    monkeypatch.setattr("recbole_seedrec.trainer.seedrec.fit_s2idm", capture)
    monkeypatch.setattr("recbole_seedrec.cli.s2idm.fit_s2idm", capture)
    config = make_config("SeeDRecSASRec", synthetic["root"], NAME, checkpoint_dir=str(tmp_path))
    model = build_model(config, data)
    SeeDRecTrainer(config, model).train_s2idm(data["train"], verbose=False, saved=False)
    train_s2idm_on([(NAME, [])], str(tmp_path / "a.pth"), overrides(synthetic["root"]), False)
    assert torch.equal(seen[0], seen[1])


def test_standalone_command_on_two_data_sets_shares_one_vocabulary(synthetic, target, tmp_path):
    out = tmp_path / "both.pth"
    code = None
    try:
        s2idm_main(["--dataset", NAME, "--dataset", TARGET, "--out", str(out)]
                   + overrides(synthetic["root"]))  # fmt: skip
    except SystemExit as exit_:
        code = exit_.code
    assert code is None
    artifact = read_s2idm_artifact(str(out))
    assert artifact["sources"] == [NAME, TARGET]
    assert len(artifact["vocabulary"]) == 18 + len(RENAMED)
    assert set(artifact["vocabulary"]) >= {f"t-{token}" for token in RENAMED} | {"s1", "g0"}


def test_standalone_command_refuses_disagreeing_s2idm_options(synthetic, tmp_path, capsys):
    other = tmp_path / "other.yaml"
    other.write_text("s2idm_dropout: 0.1\n")
    argv = ["--dataset", NAME, "--dataset", TARGET, str(other), "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as exit_:
        s2idm_main(argv + overrides(synthetic["root"]))
    assert exit_.value.code == 2
    assert "s2idm_dropout is 0.5 for seedsyn but 0.1 for seedtarget" in capsys.readouterr().err


# ----- the model on another vocabulary ---------------------------------------------------------
def test_oov_target_sememes_are_counted_and_the_interest_is_in_the_source_vocabulary(
    source_artifact, synthetic, target
):
    out, _ = source_artifact
    config = make_config("SeeDRecSASRecS2IDMOnly", synthetic["root"], TARGET, s2idm_path=str(out))
    model = build_model(config, target)
    report = model.s2idm_transfer
    assert (report["source_q"], report["target_q"]) == (18, 18)
    assert report["shared_types"] == 18 - len(RENAMED) and report["oov_types"] == len(RENAMED)
    # links by hand: items 10..15 carry a renamed own sememe, items 2, 5, 8, 11, 14 the
    # renamed g2; 30 item-sememe links in all
    oov_links = sum(1 for tokens in target_sememes().values() for t in tokens if t[:2] == "t-")
    assert report["oov_links"] == oov_links == 11 and report["links"] == 30
    assert report["oov_link_share"] == pytest.approx(11 / 30)
    assert report["items_without_shared_sememe"] == 2  # i11 and i14: both sememes renamed
    assert model.fusion.interest[0].in_features == 18 == model.interest_q
    assert model.build_interest_cache().values.shape[1] == 18


def test_no_shared_sememe_is_a_config_error_that_says_what_to_do(source_artifact, synthetic):
    out, _ = source_artifact
    sememes = {item: [f"z-{t}" for t in tokens] for item, tokens in target_sememes().items()}
    write_atomic(synthetic["root"], "seeddisjoint", default_histories(), sememes)
    config = make_config("SeeDRecSASRec", synthetic["root"], "seeddisjoint", s2idm_path=str(out))
    with pytest.raises(ConfigError) as error:
        build_model(config, build_data(config))
    message = str(error.value)
    for part in ("s2idm_path", "no sememe is shared", "18 sememes", "'z-s1'", "'s1'", "To fix"):
        assert part in message


def test_frozen_source_s2idm_stays_unchanged_while_the_target_trains(
    source_artifact, synthetic, target, tmp_path
):
    out, _ = source_artifact
    config = make_config(
        "SeeDRecSASRec", synthetic["root"], TARGET, s2idm_path=str(out),
        checkpoint_dir=str(tmp_path), epochs=2,
    )  # fmt: skip
    model = build_model(config, target)
    s2idm_before = copy.deepcopy(model.s2idm.state_dict())
    ipe_before = copy.deepcopy(model.prompt_encoder.state_dict())
    trainer = SeeDRecTrainer(config, model)
    trainer.fit(target["train"], target["valid"], verbose=False, saved=True)
    after = model.s2idm.state_dict()
    assert all(torch.equal(s2idm_before[key], after[key]) for key in after)
    assert not torch.equal(ipe_before["first.weight"], model.prompt_encoder.first.weight)
    assert not hasattr(trainer, "s2idm_artifact")  # nothing trained, nothing saved
    _, reloaded, *_ = load_data_and_model(trainer.saved_model_file)
    assert reloaded.s2idm_transfer["oov_types"] == len(RENAMED)
    assert torch.equal(reloaded.s2idm_columns, model.s2idm_columns)


def test_s2idm_stage_functions_are_the_only_training_loop():
    """SeeDRecTrainer keeps no loop of its own: it calls the shared stage."""
    assert not hasattr(SeeDRecTrainer, "_s2idm_epoch") and not hasattr(
        SeeDRecTrainer, "held_out_loss"
    )
    assert callable(s2idm_stage.fit_s2idm)


# ----- the transfer command --------------------------------------------------------------------
def transfer_args(root, out, artifact, *extra):
    parser = transfer.build_parser()
    argv = ["--source", NAME, "--target", TARGET, "--data-path", str(root), "--out", str(out),
            "--sememe-field", "category_sememes", "--seeds", "2", *extra]  # fmt: skip
    if artifact:
        argv += ["--source-s2idm", str(artifact)]
    return parser.parse_known_args(argv)


def one_seed_command(synthetic, tmp_path):
    """The command's arguments for the synthetic pair: one seed, the tiny settings as a yaml."""
    yaml_file = tmp_path / "tiny.yaml"
    yaml_file.write_text(json.dumps({k: v for k, v in SYNTHETIC.items() if k != "seed"}))
    return ["--source", NAME, "--target", TARGET, "--data-path", str(synthetic["root"]),
            "--out", str(tmp_path), "--sememe-field", "category_sememes", "--seeds", "1",
            "--config_files", str(yaml_file)]  # fmt: skip


def test_transfer_plan_runs_four_models_with_the_frozen_source(
    source_artifact, synthetic, target, tmp_path
):
    out, _ = source_artifact
    yaml_file = tmp_path / "tiny.yaml"
    yaml_file.write_text(json.dumps({k: v for k, v in SYNTHETIC.items() if k != "seed"}))
    args, extra = transfer_args(synthetic["root"], tmp_path, out, "--config_files", str(yaml_file))
    transfer.check_args(args, extra)
    layout = transfer.Layout(args.out, "transfer", transfer.stem(args))
    source = transfer.plan_source(args, extra, layout)
    plan = transfer.make_transfer_plan(args, extra, layout, source)
    assert plan.models == transfer.MODELS and plan.seeds == [2020, 2021]
    assert layout.markdown == tmp_path.resolve() / "transfer" / f"{NAME}-to-{TARGET}.md"
    spec = plan.spec("SeeDRecSASRec", 2020)
    assert spec["data"] == TARGET and spec["config_dict"]["s2idm_path"] == str(out.resolve())
    assert spec["config_dict"]["SEMEME_FIELD"] == "category_sememes"
    assert plan.inputs["source_s2idm_sha256"] == source["sha256"]
    assert plan.configs["SeeDRecSASRecIPEOnly"]["s2idm_path"] == str(out.resolve())

    record = {"model": "SASRec", "seed": 2020, "test": {"ndcg@10": 0.2, "hit@10": 0.3},
              "valid": {}, "best_epoch": 1, "epochs_run": 2, "wall_s": 3.0,
              "peak_rss_mib": 1.0, "parameters": {}, "config": plan.configs["SASRec"]}  # fmt: skip
    seedrec = {**record, "model": "SeeDRecSASRec", "test": {"ndcg@10": 0.25, "hit@10": 0.3},
               "s2idm_transfer": {"source_q": 18, "target_q": 18, "shared_types": 11,
                                  "oov_types": 7, "oov_type_share": 7 / 18, "oov_links": 11,
                                  "links": 30, "oov_link_share": 11 / 30,
                                  "items_without_shared_sememe": 2, "items": 15,
                                  "shared_examples": ["s1"], "oov_examples": ["t-g2"]}}  # fmt: skip
    for r in (record, seedrec):
        transfer.write_json_atomic(layout.record(r["model"], r["seed"]), r)
    text = "\n".join(markdown(transfer_report(plan, source, "python benchmarks/transfer.py", [])))
    assert "| 18 | 18 | 11 | 7 (38.9%) | 36.7% (11 of 30) | 2 of 15 |" in text
    assert "| `SeeDRecSASRec` | SeeDRec: frozen source S2IDM + IPE |" in text and "+25.0%" in text


def test_transfer_command_refuses_what_it_sets_and_reports_the_source_to_train(
    synthetic, tmp_path, capsys
):
    argv = ["--source", NAME, "--target", TARGET, "--out", str(tmp_path)]
    assert transfer.main(argv + ["--s2idm_path=x.pth"]) == 2
    assert "--s2idm_path is set by the command; use --source-s2idm" in capsys.readouterr().err
    assert transfer.main(argv + ["--source", TARGET, "--seeds", "1"]) == 2
    assert "is a --source too: not a transfer" in capsys.readouterr().err
    args, extra = transfer_args(synthetic["root"], tmp_path, None, "--quick")
    source = transfer.plan_source(args, extra, transfer.Layout(tmp_path, "transfer", "x"))
    assert source["sha256"] is None and source["path"].endswith(
        f"{NAME}-category_sememes-quick-S2IDM.pth"
    )
    assert source["command"].startswith(f"recbole-seedrec s2idm --dataset {NAME} ")
    assert "--SEMEME_FIELD=category_sememes" in source["command"]
    assert "--s2idm_epochs=10" in source["command"]
    assert Path(source["path"]).parent == tmp_path.resolve() / "transfer" / "s2idm"
    args, extra = transfer_args(synthetic["root"], tmp_path, None)
    args.source = f"{NAME}+{TARGET}-like"  # several sources: one S2IDM on their union
    command = transfer.source_command(args, extra, tmp_path / "x.pth")
    assert command[:4] == ["--dataset", NAME, "--dataset", f"{TARGET}-like"]


def test_a_trained_source_is_reused_from_another_checkout_while_its_inputs_are_the_same(
    synthetic, tmp_path
):
    """Yaml files count by content, not path (a worktree or a fresh clone reuses the artifact)."""
    first, second = tmp_path / "a" / "tiny.yaml", tmp_path / "b" / "tiny.yaml"
    for yaml_file in (first, second):
        yaml_file.parent.mkdir()
        yaml_file.write_text("s2idm_epochs: 3\n")
    layout = transfer.Layout(tmp_path / "out", "transfer", "x")

    def planned(yaml_file):
        args, extra = transfer_args(
            synthetic["root"], tmp_path / "out", None, "--source-config_files", str(yaml_file)
        )
        return transfer.plan_source(args, extra, layout)

    source = planned(first)
    assert source["sha256"] is None
    artifact = Path(source["path"])
    artifact.parent.mkdir(parents=True)
    artifact.write_bytes(b"trained")
    done = {**source, "sha256": transfer.file_digest(artifact)}
    transfer.write_json_atomic(artifact.with_suffix(".json"), done)
    assert planned(second)["sha256"] == done["sha256"]
    second.write_text("s2idm_epochs: 4\n")
    assert planned(second)["sha256"] is None


def test_runs_made_with_other_target_inputs_stop_the_command_before_the_source_trains(
    synthetic, target, tmp_path, capsys
):
    argv = one_seed_command(synthetic, tmp_path) + ["--dry-run"]
    assert transfer.main(argv) == 0
    assert "source S2IDM" in capsys.readouterr().out  # to train: nothing on disk yet
    runs = tmp_path / "transfer" / f"{NAME}-to-{TARGET}" / "runs"
    runs.mkdir(parents=True)
    other = {
        "model": "SASRec",
        "seed": 2020,
        "fingerprint": "0",
        "inputs": {"overrides": ["--epochs=4"]},
    }
    (runs / "SASRec-seed2020.json").write_text(json.dumps(other))
    assert transfer.main(argv) == 2
    assert "holds runs made with other inputs" in capsys.readouterr().err


def test_report_only_rebuilds_the_report_from_records_when_the_source_artifact_is_gone(
    synthetic, target, tmp_path, capsys
):
    argv = one_seed_command(synthetic, tmp_path)
    assert transfer.main(argv + ["--report-only"]) == 2
    assert "--report-only: neither the source S2IDM" in capsys.readouterr().err

    args, extra = transfer.build_parser().parse_known_args(argv)
    layout = transfer.Layout(args.out, "transfer", transfer.stem(args))
    source = {**transfer.plan_source(args, extra, layout), "sha256": "ab" * 32}
    artifact = Path(source["path"])  # trained once, its record kept, the artifact not
    artifact.parent.mkdir(parents=True)
    transfer.write_json_atomic(artifact.with_suffix(".json"), source)
    plan = transfer.make_transfer_plan(args, extra, layout, source)
    record = {"model": "SASRec", "seed": 2020, "test": {"ndcg@10": 0.2, "hit@10": 0.3},
              "valid": {}, "best_epoch": 1, "epochs_run": 2, "wall_s": 3.0,
              "peak_rss_mib": 1.0, "parameters": {}, "config": plan.configs["SASRec"],
              "fingerprint": plan.fingerprint, "inputs": plan.inputs}  # fmt: skip
    transfer.write_json_atomic(layout.record("SASRec", 2020), record)

    assert transfer.main(argv + ["--report-only"]) == 0
    assert "(no run)" in capsys.readouterr().out
    assert not artifact.exists() and not (layout.logs / "source-s2idm").exists()
    text = layout.markdown.read_text()
    assert "| `SASRec` | target SASRec |" in text
    assert f"python benchmarks/transfer.py --source {NAME}" in text and "--report-only" not in text
    other = {**source, "sha256": "cd" * 32}  # a record of another artifact: the runs are not its
    transfer.write_json_atomic(artifact.with_suffix(".json"), other)
    assert transfer.main(argv + ["--report-only"]) == 2
    assert "holds runs made with other inputs" in capsys.readouterr().err
