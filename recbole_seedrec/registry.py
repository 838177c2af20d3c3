"""Find models and trainers by name: this package first, then RecBole."""

import difflib
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import recbole.model

from recbole_seedrec.errors import UserError
from recbole_seedrec.trainer import get_trainer  # its home; importable from here as before

_OWN_MODEL_PACKAGE = "recbole_seedrec.model"
_RECBOLE_MODEL_SUBPACKAGES = (
    "general_recommender",
    "context_aware_recommender",
    "sequential_recommender",
    "knowledge_aware_recommender",
    "exlib_recommender",
)


# Other names of this package's models, for every command (the entry point, compare.py, tune):
# the paper calls its SASRec-based model SeeDRec.
MODEL_ALIASES = {"SeeDRec": "SeeDRecSASRec"}


def canonical_name(model_name: str) -> str:
    """``model_name`` with an alias (``SeeDRec``) replaced by the model's own name.

    Args:
        model_name: a name as the user gave it.

    Returns:
        str: the class name the alias stands for, or ``model_name`` itself.
    """
    return MODEL_ALIASES.get(model_name, model_name)


class UnknownModelError(UserError):
    """Raised for a model name that neither this package nor RecBole defines."""


def _class_names_in(package_dir):
    """Model class names by reading the files, not importing them (RecBole has ~90)."""
    names = []
    for info in pkgutil.iter_modules([str(package_dir)]):
        if info.ispkg or info.name.startswith("_"):
            continue
        source = (Path(package_dir) / f"{info.name}.py").read_text(encoding="utf-8")
        for class_name in re.findall(r"^class (\w+)\(", source, flags=re.MULTILINE):
            if class_name.lower() == info.name:
                names.append(class_name)
    return names


def own_model_names():
    package_dir = Path(__file__).parent / "model"
    return sorted(_class_names_in(package_dir))


def recbole_model_names():
    root = Path(recbole.model.__file__).parent
    return sorted(
        name for sub in _RECBOLE_MODEL_SUBPACKAGES for name in _class_names_in(root / sub)
    )


def _import_model(module_path, model_name):
    try:
        if importlib.util.find_spec(module_path) is None:
            return None
    except ModuleNotFoundError:  # e.g. exlib_recommender without xgboost installed
        return None
    return getattr(importlib.import_module(module_path), model_name, None)


def is_own_model(model_class):
    return model_class.__module__.startswith(_OWN_MODEL_PACKAGE + ".")


def keeps_recbole_name(model_class):
    """A model of ours subclassing RecBole's model of the same name (a faster BERT4Rec, say)
    stands in for it, so it keeps that model's configuration: RecBole's yaml, none of ours."""
    return is_own_model(model_class) and any(
        base.__name__ == model_class.__name__ and base.__module__.startswith("recbole.model.")
        for base in model_class.__mro__[1:]
    )


def get_model(model_name: str) -> type:
    """The model class called ``model_name`` (or one of :data:`MODEL_ALIASES`).

    Args:
        model_name: a model of this package or of RecBole; this package's is found first.

    Returns:
        type: the model class.

    Raises:
        UnknownModelError: naming the close matches and every known model.
    """
    model_name = canonical_name(model_name)
    module_name = model_name.lower()
    candidates = [f"{_OWN_MODEL_PACKAGE}.{module_name}"] + [
        f"recbole.model.{sub}.{module_name}" for sub in _RECBOLE_MODEL_SUBPACKAGES
    ]
    for module_path in candidates:
        model_class = _import_model(module_path, model_name)
        if model_class is not None:
            return model_class
    raise UnknownModelError(_unknown_model_message(model_name))


def _unknown_model_message(model_name):
    own, theirs = own_model_names(), recbole_model_names()
    # SASRec, BERT4Rec: ours stand in for RecBole's
    names = list(dict.fromkeys(own + theirs + list(MODEL_ALIASES)))
    close = difflib.get_close_matches(model_name, names, n=3, cutoff=0.6)
    close += [n for n in names if n.lower() == model_name.lower() and n not in close]
    hint = f"Did you mean {', '.join(close)}? " if close else ""
    aliases = ", ".join(f"{alias} = {name}" for alias, name in MODEL_ALIASES.items())
    return (
        f"--model {model_name}: Unknown model '{model_name}'. {hint}Model names are "
        "case-sensitive.\n"
        f"recbole-seedrec models: {', '.join(own) or '(none)'} (aliases: {aliases})\n"
        f"RecBole models: {', '.join(theirs)}"
    )


__all__ = [
    "MODEL_ALIASES",
    "UnknownModelError",
    "canonical_name",
    "get_model",
    "get_trainer",
    "is_own_model",
    "keeps_recbole_name",
    "own_model_names",
    "recbole_model_names",
]
