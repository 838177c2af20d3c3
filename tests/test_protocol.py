"""One command line, one evaluation protocol: for this package's models and RecBole's alike."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from recbole.config import Config as RecBoleConfig

from recbole_seedrec.config import PROPERTIES, Config
from recbole_seedrec.errors import ConfigError
from recbole_seedrec.protocol import KEYS, describe_protocol, protocol_names, protocol_settings
from recbole_seedrec.registry import MODEL_ALIASES, get_model
from tests.conftest import result_line
from tests.seedrec_data import NAME, SYNTHETIC

REPO = Path(__file__).resolve().parents[1]
# this package's models and RecBole's: SASRec is ours (it keeps RecBole's name and config),
# GRU4Rec is RecBole's own
MODELS = ("SASRec", "GRU4Rec", "SeeDRecSASRec", "DiffuRec")
# what the synthetic data needs, and nothing of a protocol
DATA_OPTIONS = {k: v for k, v in SYNTHETIC.items() if k not in KEYS}


def config_for(model, synthetic, cmd_args=()):
    config_dict = {**DATA_OPTIONS, "data_path": str(synthetic["root"])}
    return Config(model, NAME, config_dict=config_dict, cmd_args=list(cmd_args))


def protocol_of(config):
    return {key: config[key] for key in KEYS}


def test_no_model_yaml_sets_a_protocol_option():
    """The protocol is the experiment's: no model's (or model type's) yaml may set it."""
    for path in [*PROPERTIES.glob("model/*.yaml"), *PROPERTIES.glob("quick_start_config/*.yaml")]:
        options = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        assert not set(options) & set(KEYS), path


def test_protocol_names():
    assert protocol_names() == ["recbole", "full", "paper"]
    assert protocol_settings("recbole") == {}
    assert protocol_settings("paper")["eval_args"]["mode"] == "uni999"


@pytest.mark.parametrize(
    "cmd_args", [[], ["--protocol=paper"], ["--protocol=full"], ["--protocol=paper", "--topk=[10]"]]
)
def test_every_model_gets_the_same_protocol(synthetic, cmd_args):
    configs = {model: config_for(model, synthetic, cmd_args) for model in MODELS}
    first = configs[MODELS[0]]
    for model, config in configs.items():
        assert protocol_of(config) == protocol_of(first), model
        assert describe_protocol(config) == describe_protocol(first), model


def test_the_default_is_recboles_own(synthetic):
    """Without --protocol a run scores exactly as RecBole's run_recbole does."""
    config_dict = {**DATA_OPTIONS, "data_path": str(synthetic["root"])}
    theirs = RecBoleConfig(
        "SASRec", NAME, config_dict={**config_dict, "train_neg_sample_args": None}
    )
    for model in MODELS:
        ours = config_for(model, synthetic)
        assert protocol_of(ours) == protocol_of(theirs), model
    assert theirs["eval_args"]["mode"] == {"valid": "full", "test": "full"}
    assert theirs["valid_metric"] == "MRR@10"


def test_paper_protocol_settings(synthetic):
    config = config_for("SASRec", synthetic, ["--protocol=paper"])
    assert config["eval_args"] == {
        "split": {"LS": "valid_and_test"},
        "order": "TO",
        "group_by": "user",
        "mode": {"valid": "uni999", "test": "uni999"},
    }
    assert (config["metrics"], config["topk"], config["valid_metric"]) == (
        ["NDCG", "Hit", "GAUC"],
        [5, 10, 20],
        "NDCG@10",
    )
    assert describe_protocol(config) == (
        "protocol: paper (leave-one-out in time order, 999 uniform negatives per target; "
        "NDCG, Hit, GAUC @5/10/20; selected on NDCG@10 (validation))"
    )


def test_a_protocol_from_a_config_file(synthetic, tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text("protocol: paper\n")
    config_dict = {**DATA_OPTIONS, "data_path": str(synthetic["root"])}
    config = Config("GRU4Rec", NAME, [str(path)], config_dict, cmd_args=[])
    assert config["protocol"] == "paper" and config["valid_metric"] == "NDCG@10"


def test_changed_options_are_named_and_partial_eval_args_complete_the_protocol(synthetic):
    config = config_for(
        "SeeDRecSASRec", synthetic, ["--protocol=paper", "--eval_args={'mode': 'full'}"]
    )
    # RecBole alone would fill the rest from its general defaults: a random 80/10/10 split
    assert config["eval_args"]["split"] == {"LS": "valid_and_test"}
    assert config["eval_args"]["order"] == "TO"
    assert config["eval_args"]["mode"] == {"valid": "full", "test": "full"}
    assert describe_protocol(config).startswith("protocol: paper, with the run's own eval_args (")
    same = config_for("SeeDRecSASRec", synthetic, ["--protocol=paper", "--topk=[5,10,20]"])
    assert describe_protocol(same).startswith("protocol: paper (")  # given, but not changed


def test_an_unknown_protocol_is_one_clear_error(synthetic):
    with pytest.raises(ConfigError) as caught:
        config_for("SASRec", synthetic, ["--protocol=papr"])
    assert str(caught.value) == (
        "--protocol papr: is not a protocol. Did you mean paper? Choose one of recbole, full, paper."
    )


def test_old_checkpoint_configs_are_described_without_a_name():
    described = describe_protocol(
        {"eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "RO", "mode": "pop100"},
         "metrics": "Recall", "topk": 10, "valid_metric": "Recall@10"}
    )  # fmt: skip
    assert described == (
        "protocol: unnamed (80/10/10 split in random order, 100 popularity negatives per "
        "target; Recall @10; selected on Recall@10 (validation))"
    )


def test_one_alias_table_for_every_command(synthetic):
    from comparison.plan import resolve_models

    assert MODEL_ALIASES == {"SeeDRec": "SeeDRecSASRec"}
    assert get_model("SeeDRec") is get_model("SeeDRecSASRec")
    assert resolve_models("SASRec,SeeDRec") == ["SASRec", "SeeDRecSASRec"]
    assert config_for("SeeDRec", synthetic)["model"] == "SeeDRecSASRec"


def _entry_point(model, synthetic, workdir, *args):
    config_file = workdir / "data.yaml"
    options = {**DATA_OPTIONS, "data_path": str(synthetic["root"]), "state": "INFO"}
    config_file.write_text(yaml.safe_dump(options))
    command = [
        sys.executable, str(REPO / "run_recbole_seedrec.py"), "--model", model, "--dataset",
        NAME, "--config_files", str(config_file), f"--checkpoint_dir={workdir / model}", *args,
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    protocol_lines = {
        line.split("protocol: ", 1)[1] for line in output.splitlines() if "protocol: " in line
    }
    return protocol_lines, list(result_line(output, "test result"))


@pytest.mark.parametrize("args", [(), ("--protocol", "paper")])
def test_the_entry_point_scores_recboles_model_and_ours_alike(synthetic, tmp_path, args):
    """The issue's two commands: SASRec and SeeDRec with the same arguments, one protocol."""
    sasrec = _entry_point("SASRec", synthetic, tmp_path, *args)
    seedrec = _entry_point("SeeDRec", synthetic, tmp_path, *args)
    assert len(sasrec[0]) == 1  # the same line at the start and beside the test result
    assert sasrec == seedrec
    expected = "paper (" if args else "recbole ("
    assert next(iter(sasrec[0])).startswith(expected)
