"""Ray Tune search: space files, checks before any trial, and small searches run end to end."""

import csv
import math

import pytest
import ray
import yaml

from recbole_seedrec.cli.main import main as recbole_seedrec_main
from recbole_seedrec.cli.tune import search_from_command_line as search_cli
from recbole_seedrec.config import Config
from recbole_seedrec.quick_start import run_recbole_seedrec
from recbole_seedrec.tune import search as search_module
from recbole_seedrec.tune.search import most_reports
from recbole_seedrec.tune.sharing import s2idm_key
from recbole_seedrec.tune.space import SearchSpaceError, check_names, load_space
from recbole_seedrec.tune.summary import best_config
from tests.seedrec_data import NAME, SYNTHETIC

HYPER_TEST = """\
# RecBole's hyper.test lines, spaces and comments included
learning_rate loguniform -8, 0
embedding_size choice [64, 96, 128]
mlp_hidden_size choice ['[64,64,64]','[128,128]']
dropout_prob uniform 0.1,0.5
hidden_size quniform 16,64,16
weight_decay quniform 0,0.01,0.005
"""

HYPER_YAML = """\
loguniform: {learning_rate: [-8, 0]}
choice:
  embedding_size: [64, 96, 128]
  mlp_hidden_size: ['[64,64,64]', '[128,128]']
uniform: {dropout_prob: [0.1, 0.5]}
quniform: {hidden_size: [16, 64, 16], weight_decay: [0, 0.01, 0.005]}
"""


def _space(tmp_path, text, name="hyper.test"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _by_name(parameters):
    return {parameter.name: parameter for parameter in parameters}


def test_hyper_test_lines_mean_what_they_mean_in_recbole(tmp_path):
    space = _by_name(load_space(_space(tmp_path, HYPER_TEST)))
    assert space["embedding_size"].values == (64, 96, 128)
    assert space["mlp_hidden_size"].values == ("[64,64,64]", "[128,128]")
    learning_rate = space["learning_rate"].domain()
    # hyperopt's loguniform(-8, 0) is exp(uniform(-8, 0)): bounds are natural logarithms
    assert learning_rate.lower == pytest.approx(math.exp(-8)) and learning_rate.upper == 1.0
    # sizes on a whole-number grid come out as ints, which nn.Embedding needs
    hidden = [space["hidden_size"].domain().sample() for _ in range(20)]
    assert all(isinstance(v, int) and v % 16 == 0 and 16 <= v <= 64 for v in hidden)
    decay = space["weight_decay"].domain().sample()
    assert isinstance(decay, float) and 0 <= decay <= 0.01


def test_yaml_space_is_recbole_params_dict_form(tmp_path):
    from_lines = load_space(_space(tmp_path, HYPER_TEST))
    from_yaml = load_space(_space(tmp_path, HYPER_YAML, "space.yaml"))
    strip = sorted((p.name, p.kind, p.values) for p in from_lines)
    assert sorted((p.name, p.kind, p.values) for p in from_yaml) == strip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("learning_rate choice [0.1]\nembedding_size\n", r"hyper\.test:2: malformed line"),
        ("embedding_size choice []\n", r"hyper\.test:1: choice list for 'embedding_size' is empty"),
        ("lr choise [1, 2]\n", r"hyper\.test:1: unknown type 'choise' \(did you mean choice\?\)"),
        ("lr uniform 0.5,0.1\n", r"hyper\.test:1: uniform needs low < high"),
        ("lr quniform 1,8\n", r"hyper\.test:1: quniform takes 3 numbers"),
        ("lr choice [1, 2\n", r"hyper\.test:1: choice values .* are not a Python list"),
        (
            "lr choice [1]\nlr uniform 0,1\n",
            r"hyper\.test:2: 'lr' is already tuned at hyper\.test:1",
        ),
        ("# nothing\n", r"hyper\.test: no parameter to tune"),
    ],
)
def test_malformed_spaces_are_named_by_file_and_line(tmp_path, text, message):
    with pytest.raises(SearchSpaceError, match=message):
        load_space(_space(tmp_path, text))


def test_yaml_space_errors_name_the_entry(tmp_path):
    with pytest.raises(SearchSpaceError, match=r"space\.yaml: choice\.n_layers: choice list"):
        load_space(_space(tmp_path, "choice: {n_layers: []}\n", "space.yaml"))
    with pytest.raises(SearchSpaceError, match=r"space\.yaml: 'learning_rate' is not a type"):
        load_space(_space(tmp_path, "learning_rate: {uniform: [0, 1]}\n", "space.yaml"))


def test_best_config_holds_the_values_trials_got():
    """Config evaluates the strings of RecBole's list choices; the yaml must hold the lists."""
    record = {"name": "s", "model": "NeuMF", "dataset": "ml-100k", "metric": "ndcg@10",
              "file_options": {"epochs": 5}, "setup": {"fixed": {"epochs": 2}}}  # fmt: skip
    best = {"trial": "t1", "valid ndcg@10": 0.5, "mlp_hidden_size": "[64,64]", "dropout": 0.1}
    options = yaml.safe_load(best_config(record, best, ["mlp_hidden_size", "dropout"]))
    assert options["mlp_hidden_size"] == [64, 64] and options["dropout"] == 0.1
    assert options["epochs"] == 2 and options["model"] == "NeuMF"


def test_names_are_checked_against_the_resolved_config(tmp_path):
    config = Config("SASRec", "ml-100k", cmd_args=["--epochs=3"])
    known = config.final_config_dict
    check_names(load_space(_space(tmp_path, "n_layers choice [1, 2]\n")), known)
    with pytest.raises(SearchSpaceError, match=r"unknown parameter 'learnig_rate'.*learning_rate"):
        check_names(load_space(_space(tmp_path, "learnig_rate choice [0.1]\n")), known)
    with pytest.raises(SearchSpaceError, match="valid_metric' cannot be tuned"):
        check_names(load_space(_space(tmp_path, "valid_metric choice ['Hit@10']\n")), known)
    with pytest.raises(SearchSpaceError, match="both tuned and fixed by --epochs"):
        check_names(load_space(_space(tmp_path, "epochs choice [1, 2]\n")), known, {"epochs"})


def test_asha_horizon_lets_the_longest_trial_report_its_test_metrics(tmp_path):
    config = Config("SASRec", "ml-100k", cmd_args=["--epochs=6", "--eval_step=2"])
    assert most_reports(config, []) == 3 + 1  # 3 validations, then the final report
    epochs = load_space(_space(tmp_path, "epochs choice [4, 10]\n"))
    assert most_reports(config, epochs) == 5 + 1


def test_trials_share_s2idm_unless_its_settings_differ(synthetic):
    def key(**options):
        settings = {**SYNTHETIC, "data_path": str(synthetic["root"]), **options}
        return s2idm_key(Config("SeeDRecSASRec", NAME, config_dict=settings, cmd_args=[]))

    base = key()
    # backbone options, and how many reverse steps run after training, leave S2IDM as it is
    assert key(learning_rate=0.01, prompt_num=5, hidden_size=32, s2idm_inference_steps=3) == base
    for changed in ({"s2idm_noise_scale": 0.1}, {"sememe_w_max": 0.9}, {"seed": 7},
                    {"s2idm_hidden_dims": [64]}):  # fmt: skip
        assert key(**changed) != base, changed


def test_bad_input_stops_before_ray_starts(tmp_path, monkeypatch, capsys):
    def no_ray(*args, **kwargs):
        raise AssertionError("Ray must not start on bad input")

    monkeypatch.setattr(search_module, "start_ray", no_ray)
    space = _space(tmp_path, "learning_rate choice [0.1]\nhidden_sise choice [8]\n")
    argv = ["tune", "--model", "SASRec", "--dataset", "ml-100k", "--params_file", str(space)]
    with pytest.raises(SystemExit) as stop:
        recbole_seedrec_main(argv + ["--storage_path", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert err.startswith("error: hyper.test:2: unknown parameter 'hidden_sise'")
    assert "hidden_size" in err
    with pytest.raises(SystemExit):
        search_cli(["--model", "SASRec", "--params_file", str(tmp_path / "none.test")])
    assert "search space file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        search_cli(["--model", "SASRec", "--params_file", str(space), "stray"])
    assert "--key=value" in capsys.readouterr().err


# ----- searches on tiny data ----------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module's searches (starting one costs seconds)."""
    search_module.start_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def synthetic_config(synthetic, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune_config")
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump({**SYNTHETIC, "data_path": str(synthetic["root"])}))
    return path


def _read_rows(experiment_dir):
    with open(experiment_dir / "summary.csv", encoding="utf-8") as handle:
        return {row["trial"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def baseline_search(local_ray, synthetic_config, tmp_path_factory):
    """SASRec, two learning rates, one epoch each, every trial to its end (fifo)."""
    folder = tmp_path_factory.mktemp("search")
    space = _space(folder, "learning_rate choice [0.01, 0.0001]\n")
    rows, best = search_cli([
        "--model", "SASRec", "--dataset", NAME, "--config_files", str(synthetic_config),
        "--params_file", str(space), "--search", "grid", "--scheduler", "fifo",
        "--storage_path", str(folder / "results"), "--name", "lr",
        "--valid_metric=NDCG@10",
    ])  # fmt: skip
    return folder / "results" / "lr", rows, best


def test_search_records_every_trial_and_selects_on_validation(baseline_search):
    experiment_dir, _, best = baseline_search
    saved = _read_rows(experiment_dir)
    assert len(saved) == 2 and {row["status"] for row in saved.values()} == {"completed"}
    assert {float(row["learning_rate"]) for row in saved.values()} == {0.01, 0.0001}
    for row in saved.values():
        assert row["epochs"] == "1" and 0 <= float(row["valid ndcg@10"]) <= 1
        assert 0 <= float(row["test/ndcg@10"]) <= 1 and row["model_file"].endswith(".pth")
        assert f"trial_{row['trial']}" in row["model_file"]  # each trial's own checkpoints
    valid = {trial: float(row["valid ndcg@10"]) for trial, row in saved.items()}
    assert best["trial"] == max(valid, key=valid.get)
    markdown = (experiment_dir / "summary.md").read_text()
    assert "Selection: best validation ndcg@10 (max)" in markdown
    assert f"Best trial: {best['trial']}" in markdown


def test_best_config_reproduces_the_best_trial(baseline_search):
    experiment_dir, _, best = baseline_search
    best_yaml = experiment_dir / "best_config.yaml"
    options = yaml.safe_load(best_yaml.read_text())
    assert options["learning_rate"] == best["learning_rate"] and options["model"] == "SASRec"
    result = run_recbole_seedrec("SASRec", NAME, [str(best_yaml)], cmd_args=[])
    # the summary's score is the validation score (the rerun's test score is another number)
    assert result["best_valid_score"] == pytest.approx(best["valid ndcg@10"], abs=1e-9)
    assert result["test_result"]["ndcg@10"] == pytest.approx(best["test/ndcg@10"], abs=1e-9)


def test_finished_search_resumes_to_the_same_record(baseline_search, capsys):
    experiment_dir, rows, _ = baseline_search
    resumed_rows, _ = search_cli(["--resume", str(experiment_dir)])
    assert [row["trial"] for row in resumed_rows] == [row["trial"] for row in rows]
    assert [row["valid ndcg@10"] for row in resumed_rows] == [row["valid ndcg@10"] for row in rows]
    with pytest.raises(SystemExit):
        search_cli(["--resume", str(experiment_dir.parent / "nothing-here")])
    assert "no search to resume" in capsys.readouterr().err


def test_seedrec_trials_share_s2idm_and_a_crash_is_recorded(local_ray, synthetic_config, tmp_path):
    """Two SeeDRec trials under ASHA that differ in no S2IDM setting: one S2IDM is trained.
    Asking for more reverse steps than S2IDM has crashes one trial, after the shared stage."""
    space = _space(tmp_path, "s2idm_inference_steps choice [5, 20]\n")
    rows, best = search_cli([
        "--model", "SeeDRecSASRec", "--dataset", NAME, "--config_files", str(synthetic_config),
        "--params_file", str(space), "--search", "grid", "--storage_path", str(tmp_path),
        "--name", "seedrec", "--s2idm_steps=10",
    ])  # fmt: skip
    artifacts = sorted((tmp_path / "seedrec" / "s2idm").glob("S2IDM-*.pth"))
    assert len(artifacts) == 1
    by_steps = {row["s2idm_inference_steps"]: row for row in rows}
    assert by_steps[5]["status"] == "completed" and by_steps[5]["s2idm_path"] == str(artifacts[0])
    assert by_steps[20]["status"] == "failed"
    assert "steps must be an integer in [1, 10], got 20" in by_steps[20]["error"]
    assert best["trial"] == by_steps[5]["trial"]
    options = yaml.safe_load((tmp_path / "seedrec" / "best_config.yaml").read_text())
    assert options["s2idm_path"] == str(artifacts[0]) and options["s2idm_inference_steps"] == 5
