"""Bad inputs of ``recbole-seedrec evaluate``, ``case-study`` and ``s2idm`` (see bad_inputs.py)."""

import torch

from tests.bad_inputs import Case

LOAD_COL = "--load_col={'inter': ['user_id', 'item_id', 'timestamp']}"


def s2idm_data(ws):
    """The synthetic data set as ``recbole-seedrec s2idm`` reads it: one quick epoch."""
    return ["--dataset", ws.name, f"--data_path={ws.data_path}", LOAD_COL, "--s2idm_epochs=1",
            "--s2idm_hidden_dims=[32]", "--state=ERROR", "--show_progress=False"]  # fmt: skip


def write_head(source, target, share=0.5):
    """A copy of ``source`` cut short, as an interrupted copy or save leaves it."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * share)])


def with_s2idm_path(ws, target, s2idm_path):
    """A copy of the SeeDRec checkpoint whose config points ``s2idm_path`` elsewhere."""
    checkpoint = torch.load(ws.seedrec_file, map_location="cpu", weights_only=False)
    checkpoint["config"]["s2idm_path"] = str(s2idm_path)
    torch.save(checkpoint, target)


def model_files(ws):
    return [ws.model_file, ws.seedrec_file, ws.s2idm_file]


CASES = [
    # ----- evaluate ------------------------------------------------------------------------
    Case(
        id="evaluate-without-model-file",
        command="evaluate",
        argv=lambda ws: [],
        message="the following arguments are required: --model-file",
    ),
    Case(
        id="evaluate-model-file-missing",
        command="evaluate",
        argv=lambda ws: ["--model-file", str(ws.root / "SASRec-none.pth")],
        message="SASRec-none.pth: does not exist",
    ),
    Case(
        id="evaluate-model-file-is-a-folder",
        command="evaluate",
        argv=lambda ws: ["--model-file", str(ws.root)],
        message="is a folder, not a model checkpoint",
    ),
    Case(
        id="evaluate-model-file-truncated",
        command="evaluate",
        setup=lambda ws: write_head(ws.model_file, ws.root / "cut.pth"),
        argv=lambda ws: ["--model-file", str(ws.root / "cut.pth")],
        message="cut.pth: is truncated or damaged",
        unchanged=lambda ws: [ws.root / "cut.pth"],
    ),
    Case(
        id="evaluate-model-file-not-a-torch-file",
        command="evaluate",
        setup=lambda ws: (ws.root / "notes.txt").write_text("my best model\n"),
        argv=lambda ws: ["--model-file", str(ws.root / "notes.txt")],
        message="notes.txt: is not a file torch.save wrote",
    ),
    Case(
        id="evaluate-model-file-is-an-s2idm-artifact",
        command="evaluate",
        argv=lambda ws: ["--model-file", str(ws.s2idm_file)],
        message="is an S2IDM artifact, not a model checkpoint. Give it to a SeeDRec run as --s2idm_path=",
        unchanged=model_files,
    ),
    Case(
        id="evaluate-option-it-cannot-change",
        command="evaluate",
        argv=lambda ws: ["--model-file", str(ws.model_file), "--epochs=3"],
        message="evaluate cannot change epochs",
    ),
    Case(
        id="evaluate-option-not-key-value",
        command="evaluate",
        argv=lambda ws: ["--model-file", str(ws.model_file), "few_shot_max_sememes", "3"],
        message="unrecognised argument 'few_shot_max_sememes'",
    ),
    Case(
        id="evaluate-json-exists",
        command="evaluate",
        setup=lambda ws: (ws.root / "result.json").write_text('{"earlier": 1}\n'),
        argv=lambda ws: [
            "--model-file",
            str(ws.seedrec_file),
            "--json",
            str(ws.root / "result.json"),
        ],
        message="result.json: exists. Give --force to replace it",
        unchanged=lambda ws: [ws.root / "result.json", *model_files(ws)],
    ),
    Case(
        id="evaluate-json-in-a-missing-folder",
        command="evaluate",
        argv=lambda ws: [
            "--model-file",
            str(ws.model_file),
            "--json",
            str(ws.root / "results" / "r.json"),
        ],
        message="r.json: its folder does not exist",
    ),
    Case(
        id="evaluate-json-is-a-folder",
        command="evaluate",
        argv=lambda ws: ["--model-file", str(ws.model_file), "--json", str(ws.root)],
        message=": is a folder. Give a file name",
    ),
    Case(
        id="evaluate-checkpoint-whose-s2idm-path-is-a-checkpoint",
        command="evaluate",
        setup=lambda ws: with_s2idm_path(ws, ws.root / "moved.pth", ws.model_file),
        argv=lambda ws: ["--model-file", str(ws.root / "moved.pth")],
        message="is a model checkpoint, not an S2IDM artifact",
        unchanged=model_files,
    ),
    Case(
        id="evaluate-checkpoint-whose-s2idm-artifact-is-gone",
        command="evaluate",
        setup=lambda ws: with_s2idm_path(ws, ws.root / "moved.pth", ws.root / "gone.pth"),
        argv=lambda ws: ["--model-file", str(ws.root / "moved.pth")],
        message="s2idm_path: no S2IDM artifact at",
    ),
    # ----- case-study ----------------------------------------------------------------------
    Case(
        id="case-study-without-out-dir",
        command="case-study",
        argv=lambda ws: ["--model-file", str(ws.seedrec_file)],
        message="the following arguments are required: --out-dir",
    ),
    Case(
        id="case-study-model-without-s2idm",
        command="case-study",
        argv=lambda ws: ["--model-file", str(ws.model_file), "--out-dir", str(ws.root / "fig")],
        message="SASRec has no S2IDM",
    ),
    Case(
        id="case-study-model-file-is-an-s2idm-artifact",
        command="case-study",
        argv=lambda ws: ["--model-file", str(ws.s2idm_file), "--out-dir", str(ws.root / "fig")],
        message="is an S2IDM artifact, not a model checkpoint",
    ),
    Case(
        id="case-study-model-file-truncated",
        command="case-study",
        setup=lambda ws: write_head(ws.seedrec_file, ws.root / "cut.pth", 0.9),
        argv=lambda ws: ["--model-file", str(ws.root / "cut.pth"), "--out-dir", str(ws.root)],
        message="cut.pth: is truncated or damaged",
    ),
    Case(
        id="case-study-unknown-user",
        command="case-study",
        argv=lambda ws: [
            "--model-file",
            str(ws.seedrec_file),
            "--users",
            "u5,nobody",
            "--out-dir",
            str(ws.root / "fig"),
        ],
        message="--users: unknown user(s) nobody",
    ),
    Case(
        id="case-study-top-0",
        command="case-study",
        argv=lambda ws: [
            "--model-file",
            str(ws.seedrec_file),
            "--top",
            "0",
            "--out-dir",
            str(ws.root / "fig"),
        ],
        message="--top 0: give 1 or more",
    ),
    Case(
        id="case-study-sample-not-a-number",
        command="case-study",
        argv=lambda ws: [
            "--model-file",
            str(ws.seedrec_file),
            "--sample",
            "all",
            "--out-dir",
            str(ws.root / "fig"),
        ],
        message="argument --sample: invalid int value: 'all'",
    ),
    Case(
        id="case-study-out-dir-is-a-file",
        command="case-study",
        setup=lambda ws: (ws.root / "fig").write_text("not a folder\n"),
        argv=lambda ws: ["--model-file", str(ws.seedrec_file), "--out-dir", str(ws.root / "fig")],
        message="fig: is a file, not a folder",
        unchanged=lambda ws: [ws.root / "fig"],
    ),
    # ----- s2idm ---------------------------------------------------------------------------
    Case(
        id="s2idm-without-out",
        command="s2idm",
        argv=lambda ws: s2idm_data(ws),
        message="the following arguments are required: --out",
    ),
    Case(
        id="s2idm-no-data",
        command="s2idm",
        argv=lambda ws: [
            "--dataset",
            "nosuch",
            "--out",
            str(ws.root / "a.pth"),
            f"--data_path={ws.root}",
        ],
        message="--dataset nosuch: No atomic files for data set 'nosuch'",
    ),
    Case(
        id="s2idm-out-exists",
        command="s2idm",
        setup=lambda ws: (ws.root / "S2IDM.pth").write_bytes(ws.s2idm_file.read_bytes()),
        argv=lambda ws: [*s2idm_data(ws), "--out", str(ws.root / "S2IDM.pth")],
        message="S2IDM.pth: exists. Give --force to replace it",
        unchanged=lambda ws: [ws.root / "S2IDM.pth"],
    ),
    Case(
        id="s2idm-out-is-a-folder",
        command="s2idm",
        argv=lambda ws: [*s2idm_data(ws), "--out", str(ws.root)],
        message=": is a folder. Give the artifact's file name",
    ),
    Case(
        id="s2idm-dataset-twice",
        command="s2idm",
        argv=lambda ws: [*s2idm_data(ws), "--dataset", ws.name, "--out", str(ws.root / "a.pth")],
        message="names a data set twice",
    ),
    Case(
        id="s2idm-unknown-sememe-field",
        command="s2idm",
        argv=lambda ws: [*s2idm_data(ws), "--SEMEME_FIELD=sememes", "--out", str(ws.root / "a")],
        message="Sememe field 'sememes' is not an item field",
    ),
    Case(
        id="s2idm-config-file-missing",
        command="s2idm",
        argv=lambda ws: [
            *s2idm_data(ws),
            "--config_files",
            "s2idm.yaml",
            "--out",
            str(ws.root / "a.pth"),
        ],
        message="--config_files: no such file: s2idm.yaml",
    ),
]
