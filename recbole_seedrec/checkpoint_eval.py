"""A saved checkpoint evaluated again on its test split, with few-shot users if asked: the work
behind ``recbole-seedrec evaluate`` (:mod:`recbole_seedrec.cli.evaluate`), also called by the
benchmarks.

The checkpoint's own config is used; only :data:`UPDATABLE` options may change it. Sampled
negatives are drawn again from the run's ``seed``, so under ``uniN`` the metrics can differ
slightly from the run's own.
"""

from recbole.utils import init_seed

from recbole_seedrec.config import FEW_SHOT_OPTION, ConfigError
from recbole_seedrec.data.few_shot import few_shot_users
from recbole_seedrec.protocol import describe_protocol
from recbole_seedrec.run import load_data_and_model
from recbole_seedrec.trainer import get_trainer
from recbole_seedrec.trainer.subset_eval import evaluate_test, few_shot_fields

UPDATABLE = (
    FEW_SHOT_OPTION,
    "SEMEME_FIELD",
    "SEMEME_WORD_FIELDS",
    "data_path",
    "eval_batch_size",
    "eval_negatives",
    "show_progress",
)


def evaluate_checkpoint_report(model_file, config_updates=None):
    """Reload ``model_file`` and evaluate it on its test split: ``(config, test result,
    few-shot report or None)`` (the report of ``trainer.subset_eval.evaluate_test``)."""
    unknown = sorted(set(config_updates or {}) - set(UPDATABLE))
    if unknown:
        raise ConfigError(
            f"evaluate cannot change {', '.join(unknown)}: the checkpoint's config is used; "
            f"only {', '.join(UPDATABLE)} may be given."
        )
    config, model, dataset, train_data, _, test_data = load_data_and_model(
        model_file, config_updates
    )
    few_shot = few_shot_users(config, dataset, test_data)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.eval_collector.data_collect(train_data)  # what fit() does first (ItemCoverage, ...)
    init_seed(config["seed"], config["reproducibility"])  # the same negatives on every call
    test_result, few = evaluate_test(
        trainer, test_data, few_shot, load_best_model=False, show_progress=config["show_progress"]
    )
    return config, test_result, few


def evaluate_checkpoint(model_file, config_updates=None):
    """:func:`evaluate_checkpoint_report` as a dict: ``model``, ``dataset``, ``seed``,
    ``model_file``, ``protocol`` (in one line), ``test_result`` and, with ``few_shot_max_sememes``,
    ``test_result_few_shot``, ``few_shot_users``, ``test_users``, ``few_shot_max_sememes``."""
    config, test_result, few = evaluate_checkpoint_report(model_file, config_updates)
    result = {
        "model": config["model"],
        "dataset": config["dataset"],
        "seed": config["seed"],
        "model_file": model_file,
        "protocol": describe_protocol(config),
        "test_result": dict(test_result),
        **few_shot_fields(few),
    }
    if result.get("test_result_few_shot") is not None:
        result["test_result_few_shot"] = dict(result["test_result_few_shot"])
    return result
