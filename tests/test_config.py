"""Model names and yaml files resolve here first, then in RecBole; RecBole models run unchanged."""

import sys

import pytest
from recbole.config import Config as RecBoleConfig
from recbole.model.sequential_recommender.sasrec import SASRec as RecBoleSASRec

import recbole_seedrec.model
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.registry import UnknownModelError, get_model, own_model_names


@pytest.fixture
def shadow_model_dir(tmp_path, monkeypatch):
    """A model directory searched before the package's own, holding an 'SASRec' of ours."""
    (tmp_path / "sasrec.py").write_text(
        "from recbole.model.sequential_recommender.sasrec import SASRec as Base\n"
        "class SASRec(Base):\n    pass\n"
    )
    monkeypatch.setattr(
        recbole_seedrec.model, "__path__", [str(tmp_path), *recbole_seedrec.model.__path__]
    )
    yield tmp_path
    sys.modules.pop("recbole_seedrec.model.sasrec", None)


def test_recbole_model_resolves_to_recbole():
    from recbole.model.sequential_recommender.gru4rec import GRU4Rec

    assert get_model("GRU4Rec") is GRU4Rec


def test_sasrec_is_ours_under_recbole_name():
    """SASRec gains the release's BCE loss here and keeps RecBole's name and config."""
    model_class = get_model("SASRec")
    assert model_class is not RecBoleSASRec and issubclass(model_class, RecBoleSASRec)
    assert model_class.__module__ == "recbole_seedrec.model.sasrec"


def test_package_model_shadows_recbole(shadow_model_dir):
    model_class = get_model("SASRec")
    assert model_class is not RecBoleSASRec and issubclass(model_class, RecBoleSASRec)
    assert model_class.__module__ == "recbole_seedrec.model.sasrec"


def test_unknown_model_lists_models_and_suggests():
    with pytest.raises(UnknownModelError) as error:
        get_model("SASrec")
    message = str(error.value)
    assert "Did you mean SASRec" in message
    assert "GRU4Rec" in message and "BPR" in message  # RecBole's catalogue
    for name in own_model_names():
        assert name in message


def test_unknown_model_through_config_is_clear():
    with pytest.raises(UnknownModelError, match="Unknown model 'NoSuchModel'"):
        Config("NoSuchModel", "ml-100k", cmd_args=[])


def test_recbole_model_config_identical_to_recbole():
    settings = {"train_neg_sample_args": None, "epochs": 3}
    ours = Config("SASRec", "ml-100k", config_dict=dict(settings), cmd_args=[])
    theirs = RecBoleConfig("SASRec", "ml-100k", config_dict=dict(settings))
    naming = {"protocol": "recbole", "protocol_overrides": []}  # the protocol's name, only
    assert ours.final_config_dict == {**theirs.final_config_dict, **naming}


def test_ce_loss_turns_training_negatives_off_by_default():
    config = Config("SASRec", "ml-100k", cmd_args=[])
    assert config["train_neg_sample_args"]["distribution"] == "none"
    bpr = Config("GRU4Rec", "ml-100k", config_dict={"loss_type": "BPR"}, cmd_args=[])
    assert bpr["train_neg_sample_args"]["distribution"] == "uniform"


def test_ce_with_explicit_negatives_is_a_clear_error():
    negatives = {"train_neg_sample_args": {"distribution": "uniform", "sample_num": 1}}
    with pytest.raises(ConfigError, match="train_neg_sample_args: ~"):
        Config("SASRec", "ml-100k", config_dict=negatives, cmd_args=[])


def test_command_line_overrides_beat_dict_and_files(tmp_path):
    config_file = tmp_path / "a.yaml"
    config_file.write_text("learning_rate: 0.1\nhidden_size: 8\n")
    config = Config(
        "SASRec",
        "ml-100k",
        config_file_list=[str(config_file)],
        config_dict={"learning_rate": 0.2},
        cmd_args=["--learning_rate=0.3"],
    )
    assert (config["learning_rate"], config["hidden_size"]) == (0.3, 8)


@pytest.mark.parametrize("arg", ["learning_rate=0.1", "--learning_rate", "-x"])
def test_malformed_override_is_a_clear_error(arg):
    with pytest.raises(ConfigError, match="--key=value"):
        Config("SASRec", "ml-100k", cmd_args=[arg])


def test_missing_model_or_dataset_is_a_clear_error():
    with pytest.raises(ConfigError, match="No model given"):
        Config(dataset="ml-100k", cmd_args=[])
    with pytest.raises(ConfigError, match="No dataset given"):
        Config("SASRec", cmd_args=[])


def test_dataset_without_atomic_files_is_a_clear_error(tmp_path):
    with pytest.raises(
        ConfigError, match=r"--dataset mine: No atomic files for data set 'mine'.*data_path"
    ):
        Config("SASRec", "mine", config_dict={"data_path": str(tmp_path)}, cmd_args=[])


def test_valid_metric_outside_metrics_is_caught_before_training():
    with pytest.raises(ConfigError, match="--valid_metric MRR@10: is not computed"):
        Config("SASRec", "ml-100k", config_dict={"metrics": ["NDCG", "Hit"]}, cmd_args=[])
    with pytest.raises(ConfigError, match="valid_metric NDCG@5"):
        Config("SASRec", "ml-100k", config_dict={"valid_metric": "NDCG@5"}, cmd_args=[])
