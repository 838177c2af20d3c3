"""The cross-domain command behind ``benchmarks/transfer.py`` (SeeDRec paper, section 4.4).

S2IDM is trained on the source data set's word sememes (``recbole-seedrec s2idm``, or an
artifact given with ``--source-s2idm``), then used frozen on the target: the target's raw
vectors are mapped into the source vocabulary by token (OOV words dropped and counted), and
only the target's backbone and IPE train. Four models on the target, seed by seed, through the
comparison's plan, runner and records (resumable): SASRec, w/ S2IDM, w/ IPE, SeeDRec.
"""

import argparse
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from .plan import (
    DEFAULT_DATA_PATH,
    Plan,
    check_overrides,
    check_run_counts,
    config_files_for,
    file_input,
    parse_seed_list,
    preflight,
    resolve_models,
)
from .protocols import PROTOCOLS, TRANSFER_QUICK, run_settings, seeds_for
from .records import (
    ComparisonError,
    Layout,
    check_same_inputs,
    file_digest,
    fingerprint,
    load_records,
    plain,
    read_json,
    write_json_atomic,
)
from .report import duration, shown_command
from .schedule import planned_runs, run_all, threads_per_run
from .transfer_report import write_transfer_report

MODELS = ["SASRec", "SeeDRecSASRecS2IDMOnly", "SeeDRecSASRecIPEOnly", "SeeDRecSASRec"]
# Options this command sets: an override would make the comparison another one.
REFUSED = {
    "SEMEME_FIELD": "--sememe-field",
    "s2idm_path": "--source-s2idm",
    "s2idm_vocabulary": "(align: the transfer maps by token)",
}
# Overrides with these prefixes reach the source S2IDM's training too.
SOURCE_PREFIXES = ("s2idm_", "sememe_")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="benchmarks/transfer.py",
        description="Cross-domain transfer: S2IDM trained on SOURCE's word sememes, frozen on "
        "TARGET; SASRec, w/ S2IDM, w/ IPE and SeeDRec on TARGET. Writes "
        "<out>/transfer/<source>-to-<target>[-quick].md and .json. Rerun to resume.",
        epilog="Any other option is --key=value and is given to every target run (s2idm_* "
        "and sememe_* ones to the source S2IDM's training too).",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--source", required=True, help="data set S2IDM learns from; a+b: several at once "
        "(one S2IDM on their union vocabulary)",
    )  # fmt: skip
    parser.add_argument("--target", required=True, help="data set the models train on")
    parser.add_argument("--data-path", default=str(DEFAULT_DATA_PATH), help="folder of both")
    parser.add_argument(
        "--sememe-field", default="word_sememes", help="the word field of both (default: "
        "word_sememes, the converter's title words)",
    )  # fmt: skip
    parser.add_argument("--source-s2idm", help="a trained S2IDM artifact to use (no training)")
    parser.add_argument(
        "--source-config_files", nargs="+", help="yaml files for the source S2IDM's training"
    )
    parser.add_argument("--config_files", nargs="+", help="yaml files for every target run")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="paper")
    parser.add_argument("--seeds", type=int, help="number of seeds from 2020 (default 5; quick 2)")
    parser.add_argument("--seed-list", help="explicit seeds, e.g. 1,2,3")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the reduced profile: <= 8 epochs (patience 2), S2IDM <= 10 epochs; outputs -quick",
    )
    parser.add_argument("--out", default="results", help="output folder (default results/)")
    parser.add_argument("--jobs", type=int, default=1, help="target runs at once (default 1)")
    parser.add_argument("--threads", type=int, help="torch threads per run")
    parser.add_argument("--keep-checkpoints", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="check, list the runs, run nothing")
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild the report from the finished runs' "
        "records; train and run nothing (a source artifact that is gone is read from its .json)",
    )  # fmt: skip
    return parser


def stem(args):
    protocol = "" if args.protocol == "paper" else f"-{args.protocol}"
    return f"{args.source}-to-{args.target}{protocol}{'-quick' if args.quick else ''}"


def check_transfer_overrides(overrides):
    check_overrides(overrides)
    for arg in overrides:
        key = arg[2:].partition("=")[0]
        if key in REFUSED:
            raise ComparisonError(f"--{key} is set by the command; use {REFUSED[key]}")


# ----- the source S2IDM -----------------------------------------------------------------------


def source_names(args):
    return [name for name in args.source.split("+") if name]


def source_command(args, overrides, out_path):
    """``recbole-seedrec s2idm`` for the source: its data yaml, the word field, the profile."""
    datasets = []
    for name in source_names(args):  # each data set with its own yaml: sememe fields differ
        files = config_files_for(name, args.source_config_files)
        datasets += ["--dataset", name, *map(str, files)]
    quick = [f"--{k}={TRANSFER_QUICK[k]}" for k in ("s2idm_epochs", "s2idm_stopping_step")]
    passed = [o for o in overrides if o[2:].startswith(SOURCE_PREFIXES)]
    return [
        *datasets, "--out", str(out_path), "--force",  # retrained when its inputs changed
        f"--data_path={Path(args.data_path).resolve()}", f"--SEMEME_FIELD={args.sememe_field}",
        "--show_progress=False", *(quick if args.quick else []), *passed,
    ]  # fmt: skip


def plan_source(args, overrides, layout):
    """Where the source S2IDM comes from: given (``--source-s2idm``), or trained by this
    command under ``<out>/transfer/s2idm/`` (kept, and reused while its inputs are the same)."""
    if args.source_s2idm:
        path = Path(args.source_s2idm).resolve()
        if args.report_only and not path.is_file():
            return {"path": str(path), "given": True, "sha256": recorded_source(path)["sha256"]}
        if not path.is_file():
            raise FileNotFoundError(f"--source-s2idm: no S2IDM artifact at {path}")
        return {"path": str(path), "given": True, "sha256": file_digest(path)}
    quick = "-quick" if args.quick else ""
    path = layout.folder / "s2idm" / f"{args.source}-{args.sememe_field}{quick}-S2IDM.pth"
    command = source_command(args, overrides, path)
    inputs = {"command": command, "files": {f: file_digest(f) for f in command if _yaml(f)}}
    sidecar = path.with_suffix(".json")
    if path.is_file() and sidecar.is_file():
        done = read_json(sidecar)
        same = _path_free(done.get("inputs", {})) == _path_free(inputs)
        if same and done.get("sha256") == file_digest(path):
            return done
    if args.report_only and not path.is_file():
        return recorded_source(path)
    shown = "recbole-seedrec s2idm " + shlex.join(command)
    return {"path": str(path), "given": False, "command": shown, "inputs": inputs, "sha256": None}


def recorded_source(path):
    """The source as the record beside its artifact describes it: enough for a report (whose
    records are checked against its digest) where the artifact itself was not kept."""
    sidecar = Path(path).with_suffix(".json")
    if not sidecar.is_file():
        raise FileNotFoundError(f"--report-only: neither the source S2IDM {path} nor its record")
    return read_json(sidecar, "; train the source again without --report-only")


def _path_free(inputs):
    """The source command as compared for reuse: yaml files by content and no --out, so a
    checkout elsewhere (a worktree, a fresh clone) reuses an artifact trained from the same
    inputs, as the runs' fingerprint does."""
    files, command, args = inputs.get("files", {}), [], iter(inputs.get("command", []))
    for arg in args:
        if arg == "--out":
            next(args, None)
        elif arg != "--force":  # --force changes no input (records made before it lack it)
            command.append(f"sha256:{files[arg]}" if arg in files else arg)
    return command


def train_source(source, layout, name):
    """Run ``recbole-seedrec s2idm`` in a child process (its log beside the runs' logs)."""
    path = Path(source["path"])
    log_dir = layout.logs / "source-s2idm"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"source S2IDM: training on {name} (log: {log_dir / 'output.log'})", flush=True)
    start = time.perf_counter()
    with open(log_dir / "output.log", "w", encoding="utf-8") as log:
        child = subprocess.run(
            [sys.executable, "-m", "recbole_seedrec", "s2idm", *source["inputs"]["command"]],
            cwd=log_dir, stdout=log, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if child.returncode != 0 or not path.is_file():
        raise ComparisonError(
            f"source S2IDM failed (exit {child.returncode}); see {log_dir / 'output.log'}"
        )
    source = {
        **source,
        "wall_s": time.perf_counter() - start,
        "sha256": file_digest(path),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(path.with_suffix(".json"), source)
    print(f"source S2IDM: {path} in {duration(source['wall_s'])}", flush=True)
    return source


def _yaml(arg):
    return arg.endswith((".yaml", ".yml")) and Path(arg).is_file()


# ----- the target runs ------------------------------------------------------------------------


def check_args(args, overrides):
    """What can be checked before anything trains."""
    check_run_counts(args)
    if args.target in source_names(args):
        raise ComparisonError(f"--target {args.target} is a --source too: not a transfer")
    check_transfer_overrides(overrides)


def make_transfer_plan(args, overrides, layout, source):
    """The comparison's Plan for the four target models, with the frozen source S2IDM; every
    target config is built now (the artifact itself is read only by the runs)."""
    seeds = seeds_for(
        args.seeds, parse_seed_list(args.seed_list) if args.seed_list else None, args.quick
    )
    files = config_files_for(args.target, args.config_files)
    settings = {
        **run_settings(args.protocol, args.quick, TRANSFER_QUICK),
        "SEMEME_FIELD": args.sememe_field,
        "s2idm_path": source["path"],
    }
    inputs = {
        "source": args.source,
        "target": args.target,
        "protocol": args.protocol,
        "quick": args.quick,
        "config_files": [file_input(f) for f in files],
        "settings": plain({k: v for k, v in settings.items() if k != "s2idm_path"}),
        "source_s2idm_sha256": source["sha256"],
        "overrides": list(overrides),
    }
    plan = Plan(
        data=args.target,
        protocol=args.protocol,
        quick=args.quick,
        models=resolve_models(",".join(MODELS)),
        seeds=seeds,
        data_path=Path(args.data_path).resolve(),
        config_files=files,
        overrides=list(overrides),
        settings=settings,
        layout=layout,
        inputs=inputs,
        fingerprint=fingerprint(inputs),
        threads=threads_per_run(args.threads, args.jobs),
        jobs=args.jobs,
        keep_checkpoints=args.keep_checkpoints,
    )
    plan.configs = preflight(plan)
    return plan


def check_runs_before_the_source(plan):
    """Records made with other target inputs stop the command before the source S2IDM trains
    (the artifact's digest, unknown until then, is checked by ``settle_source``)."""
    check_same_inputs(
        load_records(plan.layout.runs),
        plan.inputs,
        plan.layout.runs,
        ignore={"source_s2idm_sha256"},
    )


def settle_source(plan, source):
    """The trained artifact's digest joins the inputs: runs made with another one never mix."""
    plan.inputs["source_s2idm_sha256"] = source["sha256"]
    plan.fingerprint = fingerprint(plan.inputs)
    check_same_inputs(load_records(plan.layout.runs), plan.inputs, plan.layout.runs)


def run_transfer(plan, source, command):
    """Every run without a record, then the report (rebuilt after each run)."""
    failed = []
    run_all(plan, failed, lambda failed: write_transfer_report(plan, source, command, failed))
    return failed


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args, overrides = build_parser().parse_known_args(argv)
    from recbole_seedrec.config import ConfigError

    command = shown_command("transfer.py", argv)
    layout = Layout(args.out, "transfer", stem(args))
    try:
        check_args(args, overrides)
        source = plan_source(args, overrides, layout)
        plan = make_transfer_plan(args, overrides, layout, source)
        print(
            f"{args.source} -> {args.target}, {plan.protocol} protocol"
            f"{' (QUICK profile)' if plan.quick else ''}: {len(plan.models)} models x "
            f"{len(plan.seeds)} seeds -> {layout.markdown}",
            flush=True,
        )
        check_runs_before_the_source(plan)
        if args.dry_run:
            trained = "to train: " + source["command"] if source["sha256"] is None else "ready"
            print(f"  source S2IDM {source['path']}: {trained}")
            for model, seed in planned_runs(plan):
                done = layout.record(model, seed).exists()
                print(f"  {model} seed {seed}: {'done' if done else 'to run'}")
            return 0
        if args.report_only:
            settle_source(plan, source)
            write_transfer_report(plan, source, command, [])
            print(f"wrote {layout.markdown} and {layout.json} (no run)")
            return 0
        if source["sha256"] is None:
            source = train_source(source, layout, args.source)
        settle_source(plan, source)
    except (ComparisonError, ConfigError, FileNotFoundError) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    try:
        failed = run_transfer(plan, source, command)
    except KeyboardInterrupt:
        write_transfer_report(plan, source, command, [])
        print(f"interrupted; rerun to resume: {command}", file=sys.stderr)
        return 130
    write_transfer_report(plan, source, command, failed)
    print(f"wrote {layout.markdown} and {layout.json}")
    return 1 if failed else 0
