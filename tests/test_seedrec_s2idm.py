"""SeeDRec's S2IDM stage through the model: the artifact, vocabulary alignment, resuming."""

import copy
from pathlib import Path

import pytest
import torch

from recbole_seedrec.cli.s2idm import main as s2idm_main
from recbole_seedrec.config import ConfigError
from recbole_seedrec.data.dataset import HISTORY_POSITION_FIELD
from recbole_seedrec.model.seedrec.s2idm import S2IDM
from recbole_seedrec.model.seedrec.s2idm_artifact import read_s2idm_artifact
from recbole_seedrec.trainer import SeeDRecTrainer, s2idm_stage
from tests.seedrec_data import (
    NAME,
    SYNTHETIC,
    build_data,
    build_model,
    default_histories,
    make_config,
    split_rows,
    time_weighted_vector,
    train_seedrec,
    training_lengths,
    write_atomic,
)


@pytest.fixture(scope="module")
def trained(synthetic, data, tmp_path_factory):
    checkpoints = str(tmp_path_factory.mktemp("checkpoints"))
    config = make_config("SeeDRecSASRec", synthetic["root"], NAME, checkpoint_dir=checkpoints)
    return (config, *train_seedrec(config, data))


def other_vocabulary_data(root, name, rename):
    """The default histories; sememe tokens renamed by ``rename`` (None keeps the token)."""
    histories = default_histories()
    sememes = {
        f"i{i}": [rename(f"s{i}") or f"s{i}", rename(f"g{i % 3}") or f"g{i % 3}"]
        for i in range(1, 16)
    }
    write_atomic(root, name, histories, sememes)
    return build_data(make_config("SeeDRecSASRec", root, name))


def must_not_retrain(*args, **kwargs):
    raise AssertionError("S2IDM trained again although it is ready")


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


# ----- 3. the artifact -----------------------------------------------------------------------
def test_stage_one_writes_an_artifact_that_loads_with_weights_only(trained):
    config, model, trainer = trained
    artifact = torch.load(trainer.s2idm_artifact, weights_only=True)
    assert trainer.s2idm_artifact.startswith(config["checkpoint_dir"])
    assert set(artifact) == {
        "hyperparameters", "state_dict", "vocabulary", "sememe_fields", "sources",
        "data_fingerprints",
    }  # fmt: skip
    assert artifact["sememe_fields"] == [] and artifact["sources"] == [NAME]
    assert artifact["vocabulary"] == model.sememe_table.vocabulary
    assert artifact["hyperparameters"]["hidden_dims"] == [32]
    assert states_equal(artifact["state_dict"], model.s2idm.state_dict())
    assert bool(model.s2idm_ready) and int(model.s2idm_epoch) == 2


def test_s2idm_learns_from_each_users_training_items_only(synthetic, data, tmp_path, monkeypatch):
    """Stage 1's vectors: one per user, the time-weighted vector of the items of the training
    split (all of them, and no valid or test item)."""
    config = make_config("SeeDRecSASRec", synthetic["root"], NAME, checkpoint_dir=str(tmp_path))
    model = build_model(config, data)
    trainer = SeeDRecTrainer(config, model)
    seen = []
    monkeypatch.setattr(
        s2idm_stage, "run_epoch", lambda s, vectors, *a: seen.append(vectors) or 0.0
    )
    held_out_loss = s2idm_stage.held_out_loss
    monkeypatch.setattr(
        s2idm_stage, "held_out_loss", lambda s, v, *a: seen.append(v) or held_out_loss(s, v, *a)
    )
    trainer.train_s2idm(data["train"], verbose=False, saved=False)
    vectors = torch.cat([seen[0], seen[1]])  # held-out users, then the others
    feat, users, _ = split_rows(data, "train")
    lengths = training_lengths(users, feat[HISTORY_POSITION_FIELD].tolist())
    vocabulary = model.sememe_table.vocabulary
    expected = torch.stack([
        time_weighted_vector(synthetic["histories"][u][:n], synthetic["sememes"], vocabulary)
        for u, n in sorted(lengths.items())
    ]).float()  # fmt: skip
    assert len(vectors) == len(expected)
    distance, match = torch.cdist(expected, vectors).min(dim=1)  # users come shuffled
    assert (distance < 1e-2).all() and len(set(match.tolist())) == len(expected)


def test_model_from_the_artifact_skips_stage_one_with_the_same_interests(
    synthetic, data, trained, monkeypatch
):
    config, model, trainer = trained
    reuse = make_config(
        "SeeDRecSASRec", synthetic["root"], NAME,
        s2idm_path=trainer.s2idm_artifact, s2idm_vocabulary="strict",
        checkpoint_dir=config["checkpoint_dir"],
    )  # fmt: skip
    loaded = build_model(reuse, data)
    assert bool(loaded.s2idm_ready)
    assert not any(p.requires_grad for p in loaded.s2idm.parameters())
    second = SeeDRecTrainer(reuse, loaded)
    monkeypatch.setattr(second, "train_s2idm", must_not_retrain)
    second.fit(data["train"], data["valid"], verbose=False, saved=False)
    assert not hasattr(second, "s2idm_artifact")
    assert torch.equal(loaded._interest_cache.values, model._interest_cache.values)


def test_another_vocabulary_is_read_in_the_artifacts_vocabulary(tmp_path, trained):
    """Sememes s9..s15 and g2 get new names: the shared ones feed S2IDM at their columns, the
    renamed ones are OOV (dropped, counted), and the interest keeps all of S2IDM's columns."""
    _, model, trainer = trained
    other = other_vocabulary_data(
        tmp_path, "renamed", lambda token: f"x{token}" if token in RENAMED else None
    )
    config = make_config(
        "SeeDRecSASRec", tmp_path, "renamed", s2idm_path=trainer.s2idm_artifact
    )  # s2idm_vocabulary: align, the default
    aligned = build_model(config, other)
    ours, theirs = aligned.sememe_table.vocabulary, model.sememe_table.vocabulary
    shared = [token for token in ours if token in theirs]
    assert len(shared) == len(theirs) - len(RENAMED) and 0 < len(shared) < len(ours)
    report = aligned.s2idm_transfer
    assert report["shared_types"] == len(shared) and report["oov_types"] == len(RENAMED)
    assert aligned.interest_q == len(theirs) == aligned.prompt_encoder.first.in_features

    raw = aligned.prefix_vectors(torch.arange(int(aligned.histories.offsets[-1])))
    x = torch.zeros(len(raw), len(theirs))
    for token in shared:
        x[:, theirs.index(token)] = raw[:, ours.index(token)]
    reference = S2IDM(**torch.load(trainer.s2idm_artifact, weights_only=True)["hyperparameters"])
    reference.load_state_dict(model.s2idm.state_dict())
    got = aligned.build_interest_cache().values.float()
    assert got.shape == (len(raw), len(theirs))
    torch.testing.assert_close(got, reference.generalise(x), rtol=2e-3, atol=2e-3)


RENAMED = {"s9", "s10", "s11", "s12", "s13", "s14", "s15", "g2"}


def test_strict_or_nothing_shared_is_a_config_error(tmp_path, trained):
    _, _, trainer = trained
    renamed = other_vocabulary_data(
        tmp_path, "renamed", lambda token: f"x{token}" if token in RENAMED else None
    )
    strict = make_config(
        "SeeDRecSASRec", tmp_path, "renamed",
        s2idm_path=trainer.s2idm_artifact, s2idm_vocabulary="strict",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="s2idm_vocabulary: align"):
        build_model(strict, renamed)
    disjoint = other_vocabulary_data(tmp_path, "disjoint", lambda token: f"new-{token}")
    align = make_config("SeeDRecSASRec", tmp_path, "disjoint", s2idm_path=trainer.s2idm_artifact)
    with pytest.raises(ConfigError, match="s2idm_path .*no sememe is shared"):
        build_model(align, disjoint)
    missing = make_config("SeeDRecSASRec", tmp_path, "disjoint", s2idm_path=str(tmp_path / "no"))
    with pytest.raises(FileNotFoundError, match="s2idm_path"):
        build_model(missing, disjoint)


def test_artifact_reader_names_a_file_that_is_not_an_artifact(tmp_path, trained):
    """A model checkpoint (torch's weights_only advice before), a truncated, empty or missing
    file, a folder: one line naming the file and what it is."""
    _, _, trainer = trained
    checkpoint = trainer.saved_model_file
    with pytest.raises(ConfigError) as error:
        read_s2idm_artifact(checkpoint)
    message = str(error.value)
    assert message.startswith(f"{checkpoint}: is a model checkpoint, not an S2IDM artifact. ")
    assert "weights_only" not in message and "\n" not in message
    cut = tmp_path / "cut.pth"
    cut.write_bytes(Path(trainer.s2idm_artifact).read_bytes()[:2000])
    with pytest.raises(ConfigError, match=f"^{cut}: is truncated or damaged"):
        read_s2idm_artifact(str(cut))
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(ConfigError, match="empty.pth: is empty"):
        read_s2idm_artifact(str(tmp_path / "empty.pth"))
    with pytest.raises(FileNotFoundError, match="s2idm_path: no S2IDM artifact at"):
        read_s2idm_artifact(str(tmp_path / "none.pth"))
    with pytest.raises(FileNotFoundError, match="is a folder"):
        read_s2idm_artifact(str(tmp_path))


def run_s2idm_command(argv, capsys):
    """``recbole-seedrec s2idm`` on the synthetic data: (exit code, stderr)."""
    keys = ("load_col", "s2idm_hidden_dims", "state", "show_progress")
    settings = [f"--{key}={SYNTHETIC[key]!r}" for key in keys] + ["--s2idm_epochs=1"]
    try:
        s2idm_main(["--dataset", NAME, *argv, *settings])
        code = 0
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def test_s2idm_command_refuses_to_replace_an_artifact_without_force(synthetic, tmp_path, capsys):
    out = tmp_path / "S2IDM.pth"
    out.write_bytes(b"an earlier artifact")
    data = f"--data_path={synthetic['root']}"
    code, err = run_s2idm_command(["--out", str(out), data], capsys)
    assert code == 2 and err == (
        f"error: --out {out}: exists. Give --force to replace it, or another file name.\n"
    )
    assert out.read_bytes() == b"an earlier artifact"
    code, err = run_s2idm_command(["--out", str(tmp_path), data], capsys)
    assert code == 2 and err.startswith(f"error: --out {tmp_path}: is a folder. ")
    code, _ = run_s2idm_command(["--out", str(out), "--force", data], capsys)
    assert code == 0 and read_s2idm_artifact(str(out))["sources"] == [NAME]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S2IDM.pth"]


# ----- 4. resuming -----------------------------------------------------------------------------
class Interrupted(Exception):
    pass


def test_checkpoint_from_stage_one_resumes_stage_one(synthetic, data, tmp_path, monkeypatch):
    """Stop after stage 1's first save; a fresh model + trainer resumes from that checkpoint
    with S2IDM's weights, importance-sampling history, epoch and AdamW state, and runs only
    the remaining S2IDM epochs."""
    config = make_config(
        "SeeDRecSASRec", synthetic["root"], NAME, checkpoint_dir=str(tmp_path), s2idm_epochs=3,
        s2idm_batch_size=16,  # several batches an epoch: a loss history worth restoring
    )  # fmt: skip
    model = build_model(config, data)
    first = SeeDRecTrainer(config, model)
    saved = {}
    save = first._save_checkpoint

    def save_then_stop(epoch, **kwargs):
        save(epoch, **kwargs)
        saved.update(
            state=copy.deepcopy(model.state_dict()),
            optimizer=copy.deepcopy(model.s2idm_optimizer_state),
        )
        raise Interrupted

    monkeypatch.setattr(first, "_save_checkpoint", save_then_stop)
    with pytest.raises(Interrupted):
        first.fit(data["train"], data["valid"], verbose=False, saved=True)
    assert int(saved["state"]["s2idm_epoch"]) == 1 and not bool(saved["state"]["s2idm_ready"])
    assert int(saved["state"]["s2idm.diffusion.loss_count"].sum()) > 0

    fresh = build_model(config, data)
    second = SeeDRecTrainer(config, fresh)
    second.resume_checkpoint(first.saved_model_file)
    assert states_equal(fresh.state_dict(), saved["state"])
    assert second.start_epoch == 0
    restored, expected = fresh.s2idm_optimizer_state, saved["optimizer"]
    assert restored["param_groups"] == expected["param_groups"]
    for key, value in expected["state"].items():
        assert states_equal(restored["state"][key], value)

    epochs = []
    original = s2idm_stage.run_epoch
    monkeypatch.setattr(s2idm_stage, "run_epoch", lambda *args: epochs.append(1) or original(*args))
    second.fit(data["train"], None, verbose=False, saved=False)
    assert len(epochs) == 2 and int(fresh.s2idm_epoch) == 3 and bool(fresh.s2idm_ready)


def test_checkpoint_after_stage_one_resumes_without_retraining(data, trained, monkeypatch):
    config, model, trainer = trained
    fresh = build_model(config, data)
    second = SeeDRecTrainer(config, fresh)
    second.resume_checkpoint(trainer.saved_model_file)
    assert bool(fresh.s2idm_ready) and int(fresh.s2idm_epoch) == int(model.s2idm_epoch)
    assert states_equal(fresh.s2idm.state_dict(), model.s2idm.state_dict())
    monkeypatch.setattr(second, "train_s2idm", must_not_retrain)
    second.fit(data["train"], data["valid"], verbose=False, saved=False)
    assert torch.equal(fresh._interest_cache.values, model._interest_cache.values)
