"""Hyperparameter search with Ray Tune: the checks, the run and its record (the command line:
:mod:`recbole_seedrec.cli.tune`).

Everything the search needs is checked and resolved before Ray starts, then saved with the
experiment as ``search.json``, from which ``--resume`` continues an interrupted search.
"""

import contextlib
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import ray
from ray import air, tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from recbole_seedrec.atomic import write_text_atomic
from recbole_seedrec.config import Config, ConfigError
from recbole_seedrec.protocol import describe_protocol
from recbole_seedrec.tune.sharing import trains_s2idm
from recbole_seedrec.tune.space import (
    Parameter,
    SearchSpaceError,
    check_names,
    load_space,
    search_space,
)
from recbole_seedrec.tune.summary import (
    write_summary,
)
from recbole_seedrec.tune.trial import BEST_VALID, EPOCHS_RUN, TrialSetup, run_trial

RECORD = "search.json"
# Path options a trial reads; made absolute, since Ray runs each trial in its own directory.
_PATH_OPTIONS = ("s2idm_path", "dataset_save_path", "dataloaders_save_path")


# ----- before Ray: everything checked and resolved ------------------------------------------
def plan_search(args, overrides):
    """The search's record (plain data, saved as search.json); raises on any bad input."""
    if not args.params_file:
        raise SearchSpaceError("--params_file is required: a hyper.test-style or .yaml space.")
    config_files = args.config_files  # checked and split by the command line
    parameters = load_space(args.params_file)
    base = base_config(args.model, args.dataset, config_files, overrides)
    check_names(parameters, base.final_config_dict, base.cmd_config_dict)
    search_space(parameters, grid=args.search == "grid")  # checks the grid before Ray starts
    if not base["eval_step"] or base["eval_step"] <= 0:
        raise ConfigError("eval_step must be > 0: trials report the validation metric.")
    metric = base["valid_metric"].lower()
    name = args.name or f"{base.model}-{base.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    storage_path = os.path.abspath(args.storage_path)
    experiment_dir = os.path.join(storage_path, name)
    if os.path.exists(os.path.join(experiment_dir, RECORD)):
        raise ConfigError(
            f"search '{experiment_dir}' exists: continue it with --resume {experiment_dir}, "
            "or choose another --name."
        )
    share = not args.no_s2idm_sharing and trains_s2idm(base.model_class, base)
    setup = TrialSetup(
        model=base.model,
        dataset=base.dataset,
        metric=metric,
        config_files=tuple(os.path.abspath(f) for f in config_files or ()),
        fixed=fixed_options(base),
        share_dir=os.path.join(experiment_dir, "s2idm") if share else None,
        threads=max(1, int(args.cpus_per_trial)),
    )
    grid = args.search == "grid"
    return {
        "name": name,
        "storage_path": storage_path,
        "experiment_dir": experiment_dir,
        "model": base.model,
        "dataset": base.dataset,
        "metric": metric,
        "protocol": describe_protocol(base),
        "mode": "max" if base["valid_metric_bigger"] else "min",
        "space_file": os.path.abspath(args.params_file),
        "space": [asdict(parameter) for parameter in parameters],
        "parameters": [parameter.name for parameter in parameters],
        "search": args.search,
        "num_samples": args.num_samples or (1 if grid else 10),
        "scheduler": args.scheduler,
        "max_t": most_reports(base, parameters),
        "grace_period": args.grace_period,
        "reduction_factor": args.reduction_factor,
        "max_concurrent": args.max_concurrent,
        "cpus_per_trial": args.cpus_per_trial,
        "gpus_per_trial": args.gpus_per_trial,
        "file_options": _json_ready(base.file_config_dict),
        "setup": _json_ready(asdict(setup)),
    }


def base_config(model, dataset, config_files, overrides):
    """The configuration every trial starts from, with all of RecBole's and our checks.

    RecBole's Config sets CUDA_VISIBLE_DEVICES to ``gpu_id``; Ray, started afterwards, would
    then see only that GPU. The driver's environment is left as it was.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    try:
        return Config(model, dataset, config_files, cmd_args=overrides)
    finally:
        if visible is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = visible


def fixed_options(base):
    """The --key=value overrides, with paths made absolute (relative to this directory)."""
    fixed = dict(base.cmd_config_dict)
    external = base.external_config_dict
    if base.dataset != "ml-100k":  # RecBole reads ml-100k from its own package whatever this is
        fixed["data_path"] = str(Path(base["data_path"]).resolve().parent)
    fixed.update(
        {key: os.path.abspath(external[key]) for key in _PATH_OPTIONS if external.get(key)}
    )
    if "s2idm_save_path" in base:  # one path for all trials would collide; the tuner decides
        fixed["s2idm_save_path"] = None
    return fixed


def most_reports(base, parameters):
    """ASHA's max_t: validations of the longest trial, plus the trial's final report (test
    metrics). A trial reaching max_t is stopped at that report, so the +1 lets it finish."""
    epochs = max([base["epochs"]] + [p.largest() or 0 for p in parameters if p.name == "epochs"])
    tuned_step = any(p.name == "eval_step" for p in parameters)
    eval_step = 1 if tuned_step else base["eval_step"]
    return math.ceil(epochs / eval_step) + 1


def _json_ready(value):
    return json.loads(json.dumps(value, default=str))


def load_record(experiment_dir):
    path = Path(experiment_dir) / RECORD
    if not path.is_file() or not tune.Tuner.can_restore(str(experiment_dir)):
        raise ConfigError(
            f"no search to resume at '{experiment_dir}': expected {RECORD} and Ray's "
            "experiment state there (the folder printed when the search started)."
        )
    return json.loads(path.read_text(encoding="utf-8"))


# ----- the run ----------------------------------------------------------------------------
def run_search(record, args):
    """Run (or resume) the search described by ``record``; returns its rows and best row."""
    resuming = bool(getattr(args, "resume", None))
    _print_plan(record, resuming)
    started_here = start_ray(args.address, args.num_cpus)
    try:
        if record["gpus_per_trial"] is None:
            record["gpus_per_trial"] = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        if not resuming:
            os.makedirs(record["experiment_dir"], exist_ok=True)
            write_text_atomic(
                os.path.join(record["experiment_dir"], RECORD), json.dumps(record, indent=1)
            )
        trainable = _trainable(record)
        with _legacy_progress_output():
            if resuming:
                tuner = tune.Tuner.restore(
                    record["experiment_dir"],
                    trainable,
                    resume_unfinished=True,
                    restart_errored=bool(args.retry_failed),
                )
            else:
                tuner = _new_tuner(record, trainable)
            results = tuner.fit()
        return write_summary(record["experiment_dir"], results, record)
    finally:
        if started_here:
            ray.shutdown()


def start_ray(address=None, num_cpus=None):
    """Join ``address``, or start a local instance; False when Ray was already running."""
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address)
        return True
    # Ray 2.6 imports pkg_resources in every process it starts; setuptools 81 warns about it
    # each time. The processes inherit this filter from ours.
    previous = os.environ.get("PYTHONWARNINGS")
    quiet = "ignore:pkg_resources is deprecated:UserWarning"
    os.environ["PYTHONWARNINGS"] = f"{previous},{quiet}" if previous else quiet
    try:
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False)
    finally:
        if previous is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = previous
    return True


def _trainable(record):
    setup = dict(record["setup"], config_files=tuple(record["setup"]["config_files"]))
    resources = {"cpu": record["cpus_per_trial"], "gpu": record["gpus_per_trial"]}
    return tune.with_resources(
        tune.with_parameters(run_trial, setup=TrialSetup(**setup)), resources
    )


def _new_tuner(record, trainable):
    parameters = [Parameter(**dict(p, values=tuple(p["values"]))) for p in record["space"]]
    metric, mode = record["metric"], record["mode"]
    if record["scheduler"] == "asha":
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            max_t=record["max_t"],
            grace_period=record["grace_period"],
            reduction_factor=record["reduction_factor"],
        )
    else:
        scheduler = FIFOScheduler()
    reporter = tune.CLIReporter(
        parameter_columns=record["parameters"],
        metric_columns={metric: f"valid {metric}", BEST_VALID: "best", EPOCHS_RUN: "epochs"},
        sort_by_metric=True,  # metric and mode come from TuneConfig
        max_report_frequency=15,
    )
    return tune.Tuner(
        trainable,
        param_space=search_space(parameters, grid=record["search"] == "grid"),
        tune_config=tune.TuneConfig(
            metric=metric,
            mode=mode,
            scheduler=scheduler,
            num_samples=record["num_samples"],
            max_concurrent_trials=record["max_concurrent"],
            trial_dirname_creator=trial_dirname,
        ),
        run_config=air.RunConfig(
            name=record["name"],
            storage_path=record["storage_path"],
            verbose=1,  # the trial table; no per-result dumps
            progress_reporter=reporter,
            failure_config=air.FailureConfig(max_failures=0, fail_fast=False),
        ),
    )


def trial_dirname(trial):
    """Short and unique: Ray's default puts every sampled value in the folder name."""
    return f"trial_{trial.trial_id}"


@contextlib.contextmanager
def _legacy_progress_output():
    """Ray 2.6's new output engine (on by default) ignores ``progress_reporter``; its legacy
    engine shows our CLIReporter's table with the chosen columns."""
    previous = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = previous


def _print_plan(record, resuming):
    verb = "Resuming" if resuming else "Searching"
    lines = [f"{verb} {record['model']} on {record['dataset']}: {record['experiment_dir']}"]
    lines += [
        f"  {Parameter(**dict(p, values=tuple(p['values']))).describe()}" for p in record["space"]
    ]
    lines.append(
        f"  {record['search']} x {record['num_samples']}, scheduler {record['scheduler']}, "
        f"selection on validation {record['metric']} ({record['mode']})"
    )
    if record["setup"]["share_dir"]:
        lines.append("  S2IDM: trained once per distinct S2IDM setting, shared by trials")
    lines.append(f"  interrupted? continue with --resume {record['experiment_dir']}")
    print("\n".join(lines), flush=True)
