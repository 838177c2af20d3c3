"""The options that reproduce the SeeDRec release's choices (docs/reproducing-the-paper.md), off
(unset) by default, and their checks before any data is loaded."""

from pathlib import Path

from recbole_seedrec.data.unseen_negatives import TRAIN_CHOICES as TRAIN_NEGATIVES_CHOICES
from recbole_seedrec.data.unseen_negatives import TRAIN_OPTION as TRAIN_NEGATIVES_OPTION
from recbole_seedrec.errors import ConfigError
from recbole_seedrec.model.seedrec.interest import INTEREST_SCOPES
from recbole_seedrec.model.seedrec.ipe import IPE_INITS, PROMPT_INJECTIONS

SELECTION_SPLITS = ("valid", "test")  # test: the release's defect (trainer/test_audit.py)

# Options that reproduce the SeeDRec release's choices: off (unset) by default.
_RELEASE_CHOICES = {
    "interest_scope": INTEREST_SCOPES,
    "prompt_injection": PROMPT_INJECTIONS,
    "ipe_init": IPE_INITS,
    "selection_split": SELECTION_SPLITS,
    TRAIN_NEGATIVES_OPTION: TRAIN_NEGATIVES_CHOICES,
}


def init_from_path(final):
    """``init_from`` with ``{seed}`` replaced by the run's seed (one option for a whole
    comparison: each seed starts from its own checkpoint), or None."""
    value = final.get("init_from")
    if value is None:
        return None
    try:
        return str(value).format(seed=final.get("seed"))
    except (KeyError, IndexError, ValueError):
        raise ConfigError(
            "--init_from", f"{value!r} holds a placeholder other than {{seed}}", "Use {seed} only."
        ) from None


def check_release_options(final):
    """The release-reproduction options, checked before any data is loaded."""
    for option, choices in _RELEASE_CHOICES.items():
        value = final.get(option)
        if value is not None and value not in choices:
            raise ConfigError(
                f"--{option}", f"{value!r} is not one of {', '.join(choices)}", "Choose one."
            )
    if final.get("test_audit") not in (None, True, False):
        raise ConfigError(
            "--test_audit", f"{final['test_audit']!r} is not True or False", "Give True or False."
        )
    betas = final.get("adam_betas")
    if betas is not None and not (
        isinstance(betas, (list, tuple))
        and len(betas) == 2
        and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
    ):
        raise ConfigError(
            "--adam_betas", f"{betas!r} is not two numbers in [0, 1)", "Give e.g. [0.9, 0.98]."
        )
    decay = final.get("lr_decay")
    if decay is not None and not (isinstance(decay, (int, float)) and 0 < decay <= 1):
        raise ConfigError(
            "--lr_decay",
            f"{decay!r} is not a factor in (0, 1]",
            "Give the per-epoch factor, e.g. 0.99.",
        )
    init_from = init_from_path(final)
    if init_from is not None and not Path(init_from).is_file():
        raise ConfigError(
            "--init_from",
            f"no checkpoint at '{init_from}'",
            "Give the model_file of a finished run ({seed} in the path stands for the run's seed).",
        )
    split = (final.get("eval_args") or {}).get("split")
    if final.get("interest_scope") == "release" and split != {"LS": "valid_and_test"}:
        raise ConfigError(
            "--interest_scope release",
            "needs the leave-one-out split (eval_args split {'LS': 'valid_and_test'})",
            "It reads the validation row's prefix: use that split, or interest_scope prefix.",
        )
