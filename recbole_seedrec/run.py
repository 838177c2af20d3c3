"""The run recipe and the reload: data, model and trainer built as every command builds them.

Moved out of ``quick_start`` (which keeps the ``recbole-seedrec`` command and re-exports these
names) so that the commands it dispatches to can use them without importing it back.
"""

import os
from logging import getLogger

import torch
from recbole.utils import init_logger, init_seed, set_color

from recbole_seedrec.compat import load_checkpoint_file
from recbole_seedrec.config import (
    Config,
    check_eval_negatives,
    check_few_shot,
    init_from_path,
)
from recbole_seedrec.data.candidates import data_preparation
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.data.few_shot import few_shot_users
from recbole_seedrec.data.fingerprint import OPTION as FINGERPRINT_OPTION
from recbole_seedrec.data.fingerprint import check_same_data, data_fingerprint
from recbole_seedrec.model.layers.activation import OPTION as NATIVE_GELU_OPTION
from recbole_seedrec.model.layers.activation import use_native_gelu
from recbole_seedrec.model.layers.softmax_loss import OPTION as FUSED_CE_OPTION
from recbole_seedrec.model.layers.softmax_loss import use_fused_cross_entropy
from recbole_seedrec.protocol import describe_protocol
from recbole_seedrec.registry import get_model
from recbole_seedrec.trainer import get_trainer
from recbole_seedrec.trainer.checkpoints import resume_run
from recbole_seedrec.trainer.subset_eval import evaluate_test, few_shot_fields
from recbole_seedrec.trainer.warm_start import warm_start

# Options switching this package's faster, equal computations on (unset) or off (False).
SWITCH_OPTIONS = {FUSED_CE_OPTION: use_fused_cross_entropy, NATIVE_GELU_OPTION: use_native_gelu}


def prepare_data(config, init_logging=init_logger):
    """Seed, logger, data set and its split dataloaders, as RecBole's quick start does.

    ``init_logging(config)`` sets up the log (a Ray Tune trial sends it to its own folder)."""
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


def build_model_and_trainer(config, train_data):
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    if config["init_from"]:
        warm_start(model, init_from_path(config.final_config_dict))
    for option, switch in SWITCH_OPTIONS.items():
        # unset means on; written back so the run record and checkpoint say which path ran
        # (the log's config block is printed before this, at data preparation: hence the line)
        config[option] = config[option] is not False
        if config[option]:
            switch(model)
    getLogger().info(switches_line(config))
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    return model, trainer


def switches_line(config):
    """The build-time switches as the run resolved them: the config block cannot show them."""
    resolved = ", ".join(f"{option}={config[option]}" for option in SWITCH_OPTIONS)
    return f"training path switches (unset means True): {resolved}"


def run_recbole_seedrec(
    model=None, dataset=None, config_file_list=None, config_dict=None, saved=True, cmd_args=None
):
    """Train on the training split, select on validation, report on test.

    Args:
        model: a model name or class (``None``: the config's ``model``).
        dataset: a data set name (``None``: the config's ``dataset``).
        config_file_list: yaml files, later ones win.
        config_dict: options, above the files.
        saved: keep the best epoch's checkpoint (and evaluate test with it).
        cmd_args: ``--key=value`` overrides, above everything; ``None`` reads ``sys.argv`` as
            RecBole does.

    Returns:
        dict: ``protocol`` (the evaluation protocol in one line), ``best_valid_score``,
        ``valid_score_bigger``, ``best_valid_result``, ``test_result``, ``model_file`` (the
        checkpoint for :func:`load_data_and_model`, None unless ``saved``), and
        ``test_audit`` or the few-shot fields when those options are on.
    """
    config = Config(model, dataset, config_file_list, config_dict, cmd_args=cmd_args)
    dataset, train_data, valid_data, test_data = prepare_data(config)
    few_shot = few_shot_users(config, dataset, test_data)  # before training: fails early
    model, trainer = build_model_and_trainer(config, train_data)
    if hasattr(trainer, "audit_with"):  # test_audit / selection_split: test (the release's)
        trainer.audit_with(test_data)
    if config["resume_checkpoint"]:
        resume_run(trainer, config["resume_checkpoint"])
    logger = getLogger()
    logger.info(model)
    show_progress = config["show_progress"]
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, saved=saved, show_progress=show_progress
    )
    if best_valid_result is None and saved and config["resume_checkpoint"]:
        # resumed after its last improvement: the best epoch's validation, from its weights
        best_valid_result = trainer.evaluate(valid_data, load_best_model=True)
    test_result, few = evaluate_test(
        trainer, test_data, few_shot, load_best_model=saved, show_progress=show_progress
    )

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
        "model_file": trainer.saved_model_file if saved else None,
    }
    if getattr(trainer, "test_audit", None):
        result["test_audit"] = trainer.test_audit
    # few_shot_max_sememes: the same test evaluation over few-shot users
    result.update(few_shot_fields(few))
    return result


def _device_available_here(config):
    """A checkpoint written on a GPU machine still loads on a CPU-only one."""
    use_gpu = config["use_gpu"] and torch.cuda.is_available()
    return torch.device("cuda") if use_gpu else torch.device("cpu")


def load_data_and_model(model_file, config_updates=None, check=None):
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
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    return config, model, dataset, train_data, valid_data, test_data
