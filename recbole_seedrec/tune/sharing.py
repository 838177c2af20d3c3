"""One trained S2IDM per distinct S2IDM setting, shared by the trials of a search.

SeeDRec's first stage does not depend on the backbone's options, so trials that tune only the
backbone (learning rate, prompts, layers, ...) would train the same S2IDM again and again.
Trials compute a key from the options S2IDM training reads; the first trial with a key trains
S2IDM and saves it under that key, the others wait for it and load it with ``s2idm_path``.
"""

import hashlib
import json
import os

from filelock import FileLock
from recbole.utils.argument_list import dataset_arguments

from recbole_seedrec.model.seedrec.sememe_interest import S2IDM_OPTIONS, SEMEME_OPTIONS
from recbole_seedrec.run import build_model_and_trainer
from recbole_seedrec.traits import trait

# Which users, items and training rows there are, and the randomness of the stage.
_DATA_OPTIONS = set(dataset_arguments) | {
    "dataset",
    "data_path",
    "eval_args",
    "seed",
    "reproducibility",
}


def trains_s2idm(model_class, config):
    """A model whose trainer trains S2IDM first, and no artifact given to reuse."""
    return bool(trait(model_class, "uses_s2idm")) and not config["s2idm_path"]


def s2idm_options(config):
    """The options S2IDM training depends on (more than needed is safe: it only shares less)."""
    final = config.final_config_dict
    read = {*S2IDM_OPTIONS, *SEMEME_OPTIONS, *_DATA_OPTIONS}
    return {key: final.get(key) for key in sorted(read)}


def s2idm_key(config):
    encoded = json.dumps(s2idm_options(config), sort_keys=True, default=str)
    return hashlib.sha1(encoded.encode("utf-8")).hexdigest()[:12]


def shared_s2idm(config, train_data, share_dir):
    """Path of the S2IDM for ``config``'s setting, trained here if no trial has yet.

    The stage runs on a model of its own, so the trial then goes on exactly as a run given
    ``s2idm_path`` does: the best config's yaml reproduces its scores.
    """
    os.makedirs(share_dir, exist_ok=True)
    path = os.path.join(share_dir, f"S2IDM-{s2idm_key(config)}.pth")
    with FileLock(f"{path}.lock"):  # trials with the same key wait instead of training it too
        if not os.path.isfile(path):
            _train_s2idm_alone(config, train_data, path)
    return path


def _train_s2idm_alone(config, train_data, path):
    config["s2idm_save_path"] = path  # the trainer writes it atomically (temp file + rename)
    try:
        _, trainer = build_model_and_trainer(config, train_data)
        trainer.train_s2idm(train_data, verbose=True, saved=False)
    finally:
        config["s2idm_save_path"] = None
