"""The run recipe and the reload: data, model and trainer built as every command builds them.

Called by the ``recbole-seedrec`` command (:mod:`recbole_seedrec.cli.main`), by Ray Tune's
trials and by the benchmarks; :mod:`recbole_seedrec.quick_start` re-exports its names as
RecBole's ``quick_start`` names its own.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from logging import getLogger

import torch
from recbole.utils import init_logger, init_seed, set_color

from recbole_seedrec.compat import load_checkpoint_file
from recbole_seedrec.config import Config, check_eval_negatives, check_few_shot
from recbole_seedrec.data.candidates import data_preparation
from recbole_seedrec.data.dataset import create_dataset, release_unsplit_lists
from recbole_seedrec.data.few_shot import few_shot_users
from recbole_seedrec.data.fingerprint import OPTION as FINGERPRINT_OPTION
from recbole_seedrec.data.fingerprint import check_same_data, data_fingerprint
from recbole_seedrec.distributed import group_line, group_settings
from recbole_seedrec.protocol import describe_protocol
from recbole_seedrec.release_options import init_from_path
from recbole_seedrec.speedups.fused_cross_entropy import OPTION as FUSED_CE_OPTION
from recbole_seedrec.speedups.fused_cross_entropy import use_fused_cross_entropy
from recbole_seedrec.speedups.native_gelu import OPTION as NATIVE_GELU_OPTION
from recbole_seedrec.speedups.native_gelu import use_native_gelu
from recbole_seedrec.speedups.read_out_only import OPTION as READ_OUT_OPTION
from recbole_seedrec.speedups.read_out_only import use_read_out_only_last_layer
from recbole_seedrec.trainer import get_trainer
from recbole_seedrec.trainer.checkpoints import resume_run
from recbole_seedrec.trainer.subset_eval import evaluate_test, few_shot_fields
from recbole_seedrec.trainer.warm_start import warm_start

# Options switching this package's faster, equal computations on (unset) or off (False).
SWITCH_OPTIONS = {
    FUSED_CE_OPTION: use_fused_cross_entropy,
    NATIVE_GELU_OPTION: use_native_gelu,
    READ_OUT_OPTION: use_read_out_only_last_layer,
}


def prepare_data(config: Config, init_logging: Callable = init_logger) -> tuple:
    """Seed, logger, data set and its split dataloaders, as RecBole's quick start does. The log
    states the config and, in one line, the evaluation protocol.

    Args:
        config: the run's Config (its ``data_fingerprint`` is set here).
        init_logging: ``init_logging(config)`` sets up the log (a Ray Tune trial sends it to
            its own folder).

    Returns:
        tuple: ``(dataset, train_data, valid_data, test_data)``.
    """
    init_seed(config["seed"], config["reproducibility"])
    init_logging(config)
    # every checkpoint pickles the config: it carries what it was trained on
    config[FINGERPRINT_OPTION] = data_fingerprint(config["data_path"], config["dataset"])
    logger = getLogger()
    logger.info(config)
    logger.info(describe_protocol(config))
    dataset = create_dataset(config)
    logger.info(dataset)
    return (dataset, *data_preparation(config, dataset))


def build_model_and_trainer(config: Config, train_data) -> tuple:
    """The model (seeded, on the configured device, warm-started with ``init_from``, with this
    package's speed switches) and its trainer.

    Args:
        config: the run's Config; the switches' resolved values are written back to it.
        train_data: the training dataloader (the model reads its data set's fields).

    Returns:
        tuple: ``(model, trainer)``.
    """
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = config.model_class(config, train_data._dataset).to(config["device"])
    if config["init_from"]:
        warm_start(model, init_from_path(config.final_config_dict))
    for option, switch in SWITCH_OPTIONS.items():
        # unset means on; written back so the run record and checkpoint say which path ran
        # (the log's config block is printed before this, at data preparation: hence the line)
        config[option] = config[option] is not False
        if config[option]:
            switch(model)
    getLogger().info(switches_line(config))
    if not config["single_spec"]:
        getLogger().info(group_line(config))
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    return model, trainer


def switches_line(config):
    """The build-time switches as the run resolved them: the config block cannot show them."""
    resolved = ", ".join(f"{option}={config[option]}" for option in SWITCH_OPTIONS)
    return f"training path switches (unset means True): {resolved}"


@dataclass
class Run:
    """A run's parts as the recipe builds them: what every command trains and tests."""

    config: Config
    dataset: object
    train_data: object
    valid_data: object
    test_data: object
    model: object
    trainer: object
    few_shot: object = None  # few_shot_max_sememes: the test users it keeps


def build_run(
    config: Config, init_logging: Callable = init_logger, before_model: Callable | None = None
) -> Run:
    """Data, few-shot users, model and trainer, as every command builds them.

    Args:
        config: the run's :class:`~recbole_seedrec.config.Config`.
        init_logging: ``init_logging(config)`` sets up the log (a Ray Tune trial sends it to
            its own folder).
        before_model: ``before_model(config, train_data)`` runs once the data is ready and
            before the model is built (a tuner's shared S2IDM, a benchmark's clock).

    Returns:
        Run: the parts; a trainer that audits test (``test_audit``) already holds the test data.
    """
    dataset, train_data, valid_data, test_data = prepare_data(config, init_logging)
    few_shot = few_shot_users(config, dataset, test_data)  # before training: fails early
    release_unsplit_lists(dataset)  # nothing reads the unsplit histories from here on
    if before_model is not None:
        before_model(config, train_data)
    model, trainer = build_model_and_trainer(config, train_data)
    if hasattr(trainer, "audit_with"):  # test_audit / selection_split: test (the release's)
        trainer.audit_with(test_data)
    return Run(config, dataset, train_data, valid_data, test_data, model, trainer, few_shot)


def fit_run(
    run: Run, saved: bool = True, show_progress: bool = False, callback_fn: Callable | None = None
) -> tuple:
    """Train on the training split, selecting and stopping early on validation.

    Args:
        run: what :func:`build_run` built.
        saved: keep the best epoch's checkpoint.
        show_progress: RecBole's progress bars.
        callback_fn: ``callback_fn(epoch_idx, valid_score)`` after every validation, where the
            trainer takes one (RecBole's ``Trainer.fit`` does; a few of its other trainers not).

    Returns:
        tuple: ``(best_valid_score, best_valid_result)`` of ``trainer.fit``.
    """
    options = {"saved": saved, "show_progress": show_progress}
    if callback_fn is not None and "callback_fn" in inspect.signature(run.trainer.fit).parameters:
        options["callback_fn"] = callback_fn
    return run.trainer.fit(run.train_data, run.valid_data, **options)


def evaluate_on_test(run: Run, load_best_model: bool = True, show_progress: bool = False) -> tuple:
    """The selected epoch on test, once (and on the few-shot users, when asked).

    Args:
        run: what :func:`build_run` built and :func:`fit_run` trained.
        load_best_model: evaluate the best epoch's checkpoint rather than the last weights.
        show_progress: RecBole's progress bars.

    Returns:
        tuple: ``(test_result, few_shot_report)``; the report is None unless
        ``few_shot_max_sememes`` is set.
    """
    return evaluate_test(
        run.trainer,
        run.test_data,
        run.few_shot,
        load_best_model=load_best_model,
        show_progress=show_progress,
    )


def run_recbole_seedrec(
    model: str | type | None = None,
    dataset: str | None = None,
    config_file_list: list[str] | None = None,
    config_dict: dict | None = None,
    saved: bool = True,
    cmd_args: list[str] | None = None,
    nproc: int = 1,
    world_size: int = -1,
    ip: str = "localhost",
    port: str = "5678",
    group_offset: int = 0,
) -> dict:
    """Train on the training split, select on validation, report on test.

    With ``nproc > 1`` or ``world_size > 0`` the run is distributed as RecBole's ``run_recbole``
    distributes it (:mod:`recbole_seedrec.distributed`): ``nproc`` processes here, ``world_size``
    in all, the group met at ``ip:port``, this machine's first rank ``group_offset``.

    Args:
        model: a model name or class (``None``: the config's ``model``).
        dataset: a data set name (``None``: the config's ``dataset``).
        config_file_list: yaml files, later ones win.
        config_dict: options, above the files.
        saved: keep the best epoch's checkpoint (and evaluate test with it).
        cmd_args: ``--key=value`` overrides, above everything; ``None`` reads ``sys.argv`` as
            RecBole does.
        nproc, world_size, ip, port, group_offset: RecBole's distributed options.

    Returns:
        dict: ``protocol`` (the evaluation protocol in one line), ``best_valid_score``,
        ``valid_score_bigger``, ``best_valid_result``, ``test_result``, ``model_file`` (the
        checkpoint for :func:`load_data_and_model`, None unless ``saved``), and
        ``test_audit`` or the few-shot fields when those options are on. A distributed run
        returns rank 0's.
    """
    if nproc > 1 or world_size > 0:
        settings = group_settings(nproc, world_size, ip, port, group_offset)
        return run_on_ranks(
            model, dataset, config_file_list, config_dict, saved, cmd_args, settings
        )
    config = Config(model, dataset, config_file_list, config_dict, cmd_args=cmd_args)
    run = build_run(config)
    if config["resume_checkpoint"]:
        resume_run(run.trainer, config["resume_checkpoint"])
    logger = getLogger()
    logger.info(run.model)
    show_progress = config["show_progress"]
    best_valid_score, best_valid_result = fit_run(run, saved, show_progress)
    if best_valid_result is None and saved and config["resume_checkpoint"]:
        # resumed after its last improvement: the best epoch's validation, from its weights
        best_valid_result = run.trainer.evaluate(run.valid_data, load_best_model=True)
    test_result, few = evaluate_on_test(run, load_best_model=saved, show_progress=show_progress)

    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")
    protocol = describe_protocol(config)
    logger.info(protocol)  # beside the figures it qualifies
    result = {
        "protocol": protocol,
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "model_file": run.trainer.saved_model_file if saved else None,
    }
    if getattr(run.trainer, "test_audit", None):
        result["test_audit"] = run.trainer.test_audit
    # few_shot_max_sememes: the same test evaluation over few-shot users
    result.update(few_shot_fields(few))
    return result


def run_on_ranks(model, dataset, config_file_list, config_dict, saved, cmd_args, settings):
    """Start ``settings["nproc"]`` ranks of one run here, as RecBole's ``run_recbole`` does, and
    return rank 0's result. The options are checked once, before any process starts."""
    import torch.multiprocessing as mp

    Config(model, dataset, config_file_list, config_dict, cmd_args=cmd_args)
    queue = mp.get_context("spawn").SimpleQueue()
    rank_options = {**(config_dict or {}), **settings}
    args = (model, dataset, config_file_list, rank_options, saved, cmd_args, queue)
    mp.spawn(_run_rank, args=args, nprocs=settings["nproc"], join=True)
    return None if queue.empty() else queue.get()


def _run_rank(local_rank, model, dataset, config_file_list, config_dict, saved, cmd_args, queue):
    """One rank (``mp.spawn`` gives ``local_rank``); rank 0 hands its result back."""
    config_dict = {**config_dict, "local_rank": local_rank}
    result = run_recbole_seedrec(model, dataset, config_file_list, config_dict, saved, cmd_args)
    torch.distributed.destroy_process_group()
    if local_rank == 0:
        queue.put(result)


def _device_available_here(config):
    """A checkpoint written on a GPU machine still loads on a CPU-only one."""
    use_gpu = config["use_gpu"] and torch.cuda.is_available()
    return torch.device("cuda") if use_gpu else torch.device("cpu")


def load_data_and_model(
    model_file: str, config_updates: dict | None = None, check: Callable | None = None
) -> tuple:
    """Reload a checkpoint of any model, with its data set and split dataloaders. The log says
    the checkpoint's evaluation protocol in one line, as the run's did. A checkpoint is a
    pickle: load only files you trust.

    Args:
        model_file: the ``.pth`` a run saved (``model_file`` of its result).
        config_updates: options changed before the data is loaded (e.g.
            ``few_shot_max_sememes``, ``data_path``).
        check: ``check(config)`` may refuse the checkpoint before the data is loaded (loading a
            large data set takes minutes).

    Returns:
        tuple: ``(config, model, dataset, train_data, valid_data, test_data)``, as RecBole's
        function of the same name: the checkpoint's Config, the model with its weights (on the
        configured device, or the CPU when no GPU is here), the data set, and its training,
        validation and test dataloaders.
    """
    checkpoint = load_checkpoint_file(model_file, map_location="cpu")  # one line if it is not
    config = checkpoint["config"]
    config["device"] = _device_available_here(config)
    config["single_spec"], config["local_rank"] = True, 0  # one process, whatever wrote it
    for key, value in (config_updates or {}).items():
        if key == "data_path":  # the folder holding <dataset>/, as RecBole's option
            value = os.path.join(value, config["dataset"])
        config[key] = value
    check_few_shot(config.final_config_dict)
    check_eval_negatives(config.final_config_dict)
    check_same_data(config[FINGERPRINT_OPTION], config["data_path"], config["dataset"], model_file)
    if check is not None:
        check(config)
    dataset, train_data, valid_data, test_data = prepare_data(config)
    init_seed(config["seed"], config["reproducibility"])
    model = config.model_class(config, train_data._dataset).to(config["device"])
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    return config, model, dataset, train_data, valid_data, test_data
