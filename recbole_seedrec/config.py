"""RecBole's Config, resolving model names and yaml files in this package first."""

from pathlib import Path

import recbole
import yaml
from recbole.config import Config as RecBoleConfig
from recbole.utils import EvaluatorType, InputType, ModelType

from recbole_seedrec.data.batching import BATCHING_CHOICES
from recbole_seedrec.data.unseen_negatives import CHOICES as NEGATIVES_CHOICES
from recbole_seedrec.data.unseen_negatives import OPTION as NEGATIVES_OPTION
from recbole_seedrec.distributed import check_gpu_ids, is_distributed, join_cpu_group, uses_cuda
from recbole_seedrec.errors import ConfigError
from recbole_seedrec.options import (
    check_config_file,
    check_option_names,
    check_option_values,
    check_time_field_loaded,
)
from recbole_seedrec.protocol import DEFAULT as DEFAULT_PROTOCOL
from recbole_seedrec.protocol import OPTION as PROTOCOL_OPTION
from recbole_seedrec.protocol import OVERRIDES_OPTION as PROTOCOL_OVERRIDES_OPTION
from recbole_seedrec.protocol import changed_options, merged_eval_args, protocol_file
from recbole_seedrec.registry import get_model, is_own_model, keeps_recbole_name
from recbole_seedrec.release_options import check_release_options
from recbole_seedrec.speedups.fused_cross_entropy import OPTION as FUSED_CE_OPTION
from recbole_seedrec.speedups.native_gelu import OPTION as NATIVE_GELU_OPTION
from recbole_seedrec.speedups.read_out_only import OPTION as READ_OUT_OPTION
from recbole_seedrec.traits import trait

PROPERTIES = Path(__file__).parent / "properties"
RECBOLE_PROPERTIES = Path(recbole.__file__).parent / "properties"

_BASE_YAML_BY_TYPE = {ModelType.SEQUENTIAL: "sequential.yaml"}


FEW_SHOT_OPTION = "few_shot_max_sememes"


def few_shot_threshold(final):
    """``few_shot_max_sememes`` of a final config dict: a whole number >= 0, or None (off)."""
    value = final.get(FEW_SHOT_OPTION)
    if value is None or value is False or (isinstance(value, str) and value.lower() == "none"):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"--{FEW_SHOT_OPTION}",
            f"{value!r} is not a whole number >= 0",
            "Give the most distinct sememes a test user's history may have to count as "
            "few-shot, or leave it unset.",
        )
    return value


def check_eval_negatives(final):
    """``eval_negatives``: unset, 'recbole', or 'unseen' for a sequential model under uniN."""
    value = final.get(NEGATIVES_OPTION)
    if value is not None and value not in NEGATIVES_CHOICES:
        raise ConfigError(
            f"--{NEGATIVES_OPTION}",
            f"{value!r} is not recbole or unseen",
            "Give 'recbole' (default: RecBole's sampler, which for sequential data excludes only "
            "the target and may repeat an item) or 'unseen' (distinct items the user never "
            "interacted with).",
        )
    if value != "unseen":
        return
    if final.get("MODEL_TYPE") != ModelType.SEQUENTIAL:
        raise ConfigError(
            f"--{NEGATIVES_OPTION} unseen",
            f"is for sequential models, and {final['model']} is not one",
            "Leave it out: this model's RecBole sampler already excludes the user's training "
            "items.",
        )
    mode = (final.get("eval_args") or {}).get("mode", "full")
    for phase in ("valid", "test"):
        phase_mode = mode.get(phase, "full") if isinstance(mode, dict) else mode
        if not str(phase_mode).startswith("uni"):
            raise ConfigError(
                f"--{NEGATIVES_OPTION} unseen",
                f"draws uniform negatives, but the {phase} mode is {phase_mode}",
                "Use eval_args mode uniN, or leave eval_negatives out.",
            )


def sememe_fields(final):
    """The item field(s) named by ``SEMEME_FIELD``, as a list."""
    fields = final.get("SEMEME_FIELD")
    if not fields:
        raise ConfigError(
            "--SEMEME_FIELD",
            f"is not set, but {FEW_SHOT_OPTION} counts sememes",
            "Name the .item token_seq field(s) that hold them, e.g. "
            "--SEMEME_FIELD=category_sememes.",
        )
    return [fields] if isinstance(fields, str) else list(fields)


def check_few_shot(final):
    """Few-shot evaluation: any sequential model, ranking metrics, ``SEMEME_FIELD`` set (read
    from the data set, or from its .item file when the model does not load it: the option
    never changes what is trained). Returns the threshold, None when off."""
    threshold = few_shot_threshold(final)
    if threshold is None:
        return None
    if final.get("MODEL_TYPE") != ModelType.SEQUENTIAL:
        raise ConfigError(
            f"--{FEW_SHOT_OPTION}",
            f"needs a sequential model (the history before each test item), and "
            f"{final.get('model')} is {final.get('MODEL_TYPE')}",
            "Leave it out for this model.",
        )
    if final.get("eval_type") != EvaluatorType.RANKING:
        raise ConfigError(
            f"--{FEW_SHOT_OPTION}",
            f"needs ranking metrics, not {final.get('metrics')}",
            "Use ranking metrics (NDCG, Hit, ...) or leave it out.",
        )
    sememe_fields(final)
    return threshold


class Config(RecBoleConfig):
    """Adds to RecBole's precedence, for this package's models only (not for one that keeps a
    RecBole model's name, such as BERT4Rec, which keeps RecBole's configuration):

    RecBole defaults < our base yaml for the model type < ``properties/model/<Model>.yaml``
    < ``properties/dataset/<dataset>.yaml`` < config files < config dict < command line;

    and, for every model, the evaluation protocol named by ``protocol``
    (``properties/protocol/<name>.yaml``, see :mod:`recbole_seedrec.protocol`) just before the
    config files. ``eval_args`` given in part complete the protocol's.

    ``cmd_args`` (a list of ``--key=value``) replaces ``sys.argv`` as the command line; leave it
    ``None`` to read ``sys.argv`` as RecBole does.
    """

    def __init__(
        self, model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=None
    ):
        self._cmd_args = cmd_args
        super().__init__(model, dataset, config_file_list, config_dict)

    def _init_device(self):
        """RecBole's; a rank of a distributed run without a GPU joins its group with ``gloo``
        on the CPU, where RecBole 1.2.1 requires ``nccl`` and CUDA (``distributed.py``)."""
        if not is_distributed(self.final_config_dict):
            return super()._init_device()
        if not uses_cuda(self.final_config_dict):
            return join_cpu_group(self.final_config_dict)
        check_gpu_ids(self.final_config_dict)
        return super()._init_device()

    def _load_config_files(self, file_list):
        for path in file_list or []:
            check_config_file(path)  # one line naming the file, not yaml's traceback
        return super()._load_config_files(file_list)

    def _load_cmd_line(self):
        if self._cmd_args is None:
            return super()._load_cmd_line()
        parsed = {}
        for arg in self._cmd_args:
            key, sep, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
            if not key or not sep:
                raise ConfigError(arg, "is not an override", "Overrides take the form --key=value.")
            parsed[key] = value
        return self._convert_config_dict(parsed)

    def _get_model_and_dataset(self, model, dataset):
        if model is None:
            model = self.external_config_dict.get("model")
            if model is None:
                raise ConfigError(
                    "--model",
                    "No model given",
                    "Pass --model NAME, or set `model:` in a config file.",
                )
        if isinstance(model, str):
            model = get_model(model)
        if dataset is None and "dataset" not in self.external_config_dict:
            raise ConfigError(
                "--dataset",
                "No dataset given",
                "Pass --dataset NAME, or set `dataset:` in a config file.",
            )
        return super()._get_model_and_dataset(model, dataset)

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        layers = []
        if is_own_model(model_class) and not keeps_recbole_name(model_class):
            base_yaml = _BASE_YAML_BY_TYPE.get(model_class.type)
            layers = [
                PROPERTIES / "quick_start_config" / base_yaml if base_yaml else None,
                PROPERTIES / "model" / f"{model}.yaml",
                PROPERTIES / "dataset" / f"{dataset}.yaml",
            ]
        # the experiment's protocol, the same for every model: after the models' yamls
        layers.append(protocol_file(self.external_config_dict.get(PROTOCOL_OPTION)))
        for path in layers:
            if path is not None and path.is_file():
                self._update_internal_config_dict(str(path))

    def _get_final_config_dict(self):
        internal, external = self.internal_config_dict, dict(self.external_config_dict)
        final = super()._get_final_config_dict()
        if "eval_args" in external:  # the user's dicts stay as given
            external["eval_args"] = merged_eval_args(
                internal.get("eval_args"), external["eval_args"]
            )
            final["eval_args"] = external["eval_args"]
        final[PROTOCOL_OPTION] = external.get(PROTOCOL_OPTION) or DEFAULT_PROTOCOL
        final[PROTOCOL_OVERRIDES_OPTION] = changed_options(internal, external)
        if final.get("MODEL_TYPE") == ModelType.SEQUENTIAL and final.get("loss_type") == "CE":
            self._check_no_negatives_for_ce(final)
        if final.get("loss_type") in ("BCE", "BPR") and final.get("train_neg_sample_args") is None:
            final["train_neg_sample_args"] = {"distribution": "uniform", "sample_num": 1}
        return final

    def _check_no_negatives_for_ce(self, final):
        """CE scores every item, so training negatives are off unless the user asked for them."""
        if "train_neg_sample_args" not in self.external_config_dict:
            final["train_neg_sample_args"] = None
        elif final["train_neg_sample_args"] not in (None, "None"):
            raise ConfigError(
                "--train_neg_sample_args",
                f"is {final['train_neg_sample_args']}, but loss_type CE scores all items and "
                "takes no training negatives",
                "Set `train_neg_sample_args: ~` (--train_neg_sample_args=None), or use loss_type "
                "BPR.",
            )

    def _set_default_parameters(self):
        super()._set_default_parameters()
        if self.final_config_dict.get("loss_type") == "BCE":  # RecBole knows only CE and BPR
            self.final_config_dict["MODEL_INPUT_TYPE"] = InputType.PAIRWISE
        self._check_dataset_files()
        self._check_valid_metric()
        self._check_train_batching()
        self._check_switches()
        self._check_eval_negatives()
        check_option_names(
            self.cmd_config_dict, set(self.file_config_dict) | set(self.variable_config_dict)
        )
        check_option_values(self.final_config_dict)
        check_time_field_loaded(
            self.final_config_dict,
            Path(self.final_config_dict["data_path"]) / f"{self.dataset}.inter",
        )
        check_release_options(self.final_config_dict)
        self._load_required_item_fields()
        self._check_few_shot()

    def _check_dataset_files(self):
        """A data set with no atomic files makes RecBole try a download that fails offline."""
        data_path = Path(self.final_config_dict["data_path"])
        if (data_path / f"{self.dataset}.inter").is_file() or _recbole_can_download(self.dataset):
            return
        raise ConfigError(
            f"--dataset {self.dataset}",
            f"No atomic files for data set '{self.dataset}' at "
            f"{data_path / (self.dataset + '.inter')}",
            f"Set `data_path` to the folder that holds {self.dataset}/, or convert your data "
            "with `recbole-seedrec prepare`.",
        )

    def _check_valid_metric(self):
        """RecBole finds a valid_metric missing from metrics only after a training epoch."""
        name, _, k = self.final_config_dict["valid_metric"].lower().partition("@")
        metrics = [metric.lower() for metric in self.final_config_dict["metrics"]]
        topk = self.final_config_dict["topk"]
        if name not in metrics or (k and int(k) not in topk):
            raise ConfigError(
                f"--valid_metric {self.final_config_dict['valid_metric']}",
                f"is not computed: metrics are {self.final_config_dict['metrics']} at topk {topk}",
                "Add it to `metrics`/`topk`, or choose a valid_metric among them.",
            )

    def _check_train_batching(self):
        choice = self.final_config_dict.get("train_batching")
        if choice is not None and choice not in BATCHING_CHOICES:
            raise ConfigError(
                "--train_batching",
                f"'{choice}' is not one of {', '.join(BATCHING_CHOICES)}",
                "Choose one (auto: length-grouped batches for models exact under trimming).",
            )

    def _check_switches(self):
        self._check_switch(
            FUSED_CE_OPTION, "CE's backward in one pass over the logits", "PyTorch's cross_entropy"
        )
        self._check_switch(
            NATIVE_GELU_OPTION, "PyTorch's one-op gelu", "RecBole's gelu, built from five ops"
        )
        self._check_switch(
            READ_OUT_OPTION, "the last layer for the read-out row", "the whole last layer"
        )

    def _check_switch(self, option, when_on, when_off):
        """An on/off option of this package: unset (on), True or False."""
        value = self.final_config_dict.get(option)
        if value is not None and not isinstance(value, bool):
            raise ConfigError(
                f"--{option}",
                f"{value!r} is not True or False",
                f"Give True (default: {when_on}) or False ({when_off}).",
            )

    def _check_eval_negatives(self):
        check_eval_negatives(self.final_config_dict)

    def _load_required_item_fields(self):
        """Add the item fields a model reads (e.g. its sememe field) to ``load_col``.

        RecBole loads only the listed columns of a custom data set; a model that needs an item
        field declares the config keys naming it in ``required_item_field_keys``.
        """
        keys = trait(self.model_class, "required_item_field_keys")
        fields = []
        for key in keys:
            value = self.final_config_dict.get(key)
            if value is None:
                raise ConfigError(
                    f"--{key}", f"is not set, and model {self.model} needs it", "Set it."
                )
            fields += [value] if isinstance(value, str) else list(value)
        load_col = self.final_config_dict.get("load_col")
        if not fields or load_col is None:  # load_col: ~ already loads every column
            return
        item_columns = list(load_col.get("item") or [self.final_config_dict["ITEM_ID_FIELD"]])
        item_columns += [f for f in fields if f not in item_columns]
        self.final_config_dict["load_col"] = {**load_col, "item": item_columns}

    def _check_few_shot(self):
        check_few_shot(self.final_config_dict)


def _recbole_can_download(dataset):
    with open(RECBOLE_PROPERTIES / "dataset" / "url.yaml", encoding="utf-8") as handle:
        return dataset.lower() in (yaml.safe_load(handle) or {})
