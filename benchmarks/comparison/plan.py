"""What a comparison will run, checked in full before the first run starts.

Every mistake in the command (an unknown model, a missing data set or config file, an override
that would change the protocol, runs on disk made with other inputs) stops the command here, in
one line naming the option, so that a long comparison never fails half-way on a typo.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import REPO
from .protocols import (
    backbone_of,
    data_config,
    output_stem,
    refused_override,
    run_settings,
    seeds_for,
)
from .records import (
    ComparisonError,
    Layout,
    check_same_inputs,
    file_digest,
    fingerprint,
    load_records,
    plain,
)
from .schedule import threads_per_run

DEFAULT_DATA_PATH = REPO / "dataset"


@dataclass
class Plan:
    data: str
    protocol: str
    quick: bool
    models: list
    seeds: list
    data_path: Path
    config_files: list
    overrides: list
    settings: dict
    layout: Layout
    inputs: dict
    fingerprint: str
    configs: dict = field(default_factory=dict)  # model -> final config of its first seed
    threads: int = None
    jobs: int = 1  # runs at once (--jobs)
    keep_checkpoints: bool = False
    few_shot: int = None  # --few-shot N: not an input of the runs' fingerprint
    model_config_files: dict = field(default_factory=dict)  # --model-config: model -> [Path]

    def files_for(self, model):
        """Every run's config files, then the model's own (``--model-config``)."""
        return [*self.config_files, *self.model_config_files.get(model, [])]

    def inputs_for(self, model):
        """The inputs of ``model``'s runs: a model's own files are its runs' inputs only, so
        adding one leaves the other models' records valid."""
        own = self.model_config_files.get(model)
        if not own:
            return self.inputs
        return {**self.inputs, "model_config_files": [file_input(f) for f in own]}

    def fingerprint_for(self, model):
        return fingerprint(self.inputs_for(model))

    def run_config_dict(self, seed, work_dir):
        return run_config_dict(self.settings, seed, self.data_path, work_dir)

    def spec(self, model, seed):
        """What a run's subprocess is given (``runner.train_and_evaluate``)."""
        return {
            "model": model,
            "data": self.data,
            "seed": seed,
            "config_files": [str(path) for path in self.files_for(model)],
            "config_dict": self.run_config_dict(seed, self.layout.work_dir(model, seed)),
            "overrides": list(self.overrides),
            "threads": self.threads,
            "few_shot_max_sememes": self.few_shot,
            "protocol": self.protocol,  # named in the run's log and record
        }


def run_config_dict(settings, seed, data_path, work_dir):
    """A run's config_dict: the protocol's settings, its seed, the data and its checkpoints."""
    return {
        **settings,
        "seed": seed,
        "data_path": str(data_path),
        "checkpoint_dir": str(Path(work_dir) / "saved"),
    }


def resolve_models(text):
    """``SASRec,SeeDRec`` -> canonical names, each checked by the package's registry."""
    from recbole_seedrec.registry import UnknownModelError, canonical_name, get_model

    names = [canonical_name(n.strip()) for n in text.split(",") if n.strip()]
    if not names:
        raise ComparisonError("--models is empty: give model names, e.g. --models SASRec,SeeDRec")
    for name in names:
        try:
            get_model(name)
        except UnknownModelError as error:
            first = str(error).splitlines()[0].split(": ", 1)[-1]  # without "--model NAME: "
            raise ComparisonError(f"--models: {first}") from None
    return list(dict.fromkeys(names))


def parse_seed_list(text):
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds:
        raise ComparisonError(f"--seed-list '{text}': give integers separated by commas, e.g. 1,2")
    return list(dict.fromkeys(seeds))


def check_overrides(overrides):
    for arg in overrides:
        key, sep, _ = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if not key or not sep:
            raise ComparisonError(f"unrecognised argument '{arg}': overrides take --key=value")
        reason = refused_override(key)
        if reason:
            raise ComparisonError(reason)


def config_files_for(data, user_files):
    """The data set's yaml (when the repository has one), then the user's files."""
    from recbole_seedrec.cli.arguments import split_config_files

    files = [data_config(data)] if data_config(data) else []
    return files + [Path(f).resolve() for f in split_config_files(user_files) or []]


def parse_model_configs(pairs, models):
    """``--model-config MODEL=FILE ...`` -> {model: [resolved paths]}, checked."""
    from recbole_seedrec.registry import canonical_name

    chosen = {}
    for pair in pairs or []:
        model, sep, path = pair.partition("=")
        model = canonical_name(model.strip())
        if not sep or not model or not path:
            raise ComparisonError(f"--model-config '{pair}': give MODEL=FILE, e.g. DiffuRec=x.yaml")
        if model not in models:
            raise ComparisonError(
                f"--model-config '{pair}': {model} is not in --models ({', '.join(models)})"
            )
        if not Path(path).is_file():
            raise ComparisonError(f"--model-config '{pair}': no file '{path}'")
        chosen.setdefault(model, []).append(Path(path).resolve())
    return chosen


def file_input(path):
    """A config file as the inputs record it: shown path and content digest."""
    return {"path": shown_path(path), "sha256": file_digest(path)}


def shown_path(path):
    """A config file as the inputs record it: relative to the repository when inside it."""
    try:
        return os.path.relpath(path, REPO) if Path(path).is_relative_to(REPO) else str(path)
    except ValueError:
        return str(path)


def check_run_counts(args):
    if args.seeds is not None and args.seeds < 1:
        raise ComparisonError(f"--seeds {args.seeds}: give 1 or more")
    if args.jobs < 1:
        raise ComparisonError(f"--jobs {args.jobs}: give 1 or more runs at once")


def make_plan(args, overrides):
    """Check the command and build its plan; raises ComparisonError (or the package's own
    ConfigError / FileNotFoundError) with a one-line message."""
    check_run_counts(args)
    if args.few_shot is not None and args.few_shot < 0:
        raise ComparisonError(f"--few-shot {args.few_shot}: give a number of sememes, 0 or more")
    models = resolve_models(args.models)
    seeds = seeds_for(
        args.seeds, parse_seed_list(args.seed_list) if args.seed_list else None, args.quick
    )
    check_overrides(overrides)
    files = config_files_for(args.data, args.config_files)
    settings = run_settings(args.protocol, args.quick)
    inputs = {
        "data": args.data,
        "protocol": args.protocol,
        "quick": args.quick,
        "config_files": [file_input(f) for f in files],
        "settings": plain(settings),
        "overrides": list(overrides),
    }
    plan = Plan(
        data=args.data,
        protocol=args.protocol,
        quick=args.quick,
        models=models,
        seeds=seeds,
        data_path=Path(args.data_path).resolve(),
        config_files=files,
        overrides=list(overrides),
        settings=settings,
        layout=Layout(args.out, args.data, output_stem(args.protocol, args.quick)),
        inputs=inputs,
        fingerprint=fingerprint(inputs),
        threads=threads_per_run(args.threads, args.jobs),
        jobs=args.jobs,
        keep_checkpoints=args.keep_checkpoints,
        few_shot=args.few_shot,
        model_config_files=parse_model_configs(args.model_config, models),
    )
    if getattr(args, "report_only", False):
        # rebuilt from the records alone, whose inputs were checked when they ran: no data,
        # no checkpoint, and no absolute path of the machine that ran them is needed
        plan.configs = {}
        return plan
    plan.configs = preflight(plan)
    records = load_records(plan.layout.runs)
    for model in dict.fromkeys(record.get("model") for record in records):
        check_same_inputs(
            [record for record in records if record.get("model") == model],
            plan.inputs_for(model),
            plan.layout.runs,
        )
    return plan


def preflight(plan):
    """Build every model's Config as its first run will: a missing data set, a bad option or
    an impossible setting fails now (RecBole would find some only after an epoch)."""
    from recbole_seedrec.config import Config, ConfigError

    configs = {}
    for model in plan.models:
        config_dict = plan.run_config_dict(plan.seeds[0], plan.layout.work_dir(model, 0))
        files = [str(f) for f in plan.files_for(model)] or None
        try:
            config = Config(model, plan.data, files, config_dict, cmd_args=plan.overrides)
            if plan.few_shot is not None:  # its sememe field must be there for every model
                few_shot = {**config_dict, "few_shot_max_sememes": plan.few_shot}
                Config(model, plan.data, files, few_shot, cmd_args=plan.overrides)
        except ConfigError as error:
            hint = " (compare.py: --data-path DIR)" if "data_path" in str(error) else ""
            raise ConfigError(f"{model}: {error}{hint}") from None
        configs[model] = plain(dict(config.final_config_dict))
    return configs


def backbones_for(models):
    from recbole_seedrec.registry import get_model

    return {model: backbone_of(get_model(model)) for model in models}
