"""Which options exist, and the values they may take: checked before any data is loaded.

RecBole accepts any ``--key=value`` and runs with the default when the key is misspelled
(``--prompt_nmu=5``); it takes ``--learning_rate=fast`` as a string and fails an epoch later. A
run of this package refuses both at once, in one line that names the option and the fix.
"""

import difflib
import functools
import re
from numbers import Integral, Real
from pathlib import Path

import recbole
import yaml

from recbole_seedrec.errors import ConfigError

_PACKAGE = Path(__file__).parent
_RECBOLE = Path(recbole.__file__).parent
_READ_KEY = re.compile(r"""config\[\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\]""")

# Options RecBole reads from the command line or the environment, outside its yaml and code
# patterns above (distributed runs, quick-start switches).
_EXTRA_KNOWN = {
    *("nproc", "world_size", "ip", "port", "offset", "local_rank", "config_files"),
    "resume_checkpoint",  # continues a killed run (run.py)
}


_YAML_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:", re.MULTILINE)
_OPTION_CONSTANT = re.compile(r"""^\w*OPTION\w*\s*=\s*["']([A-Za-z_]\w*)["']""", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def known_options():
    """Every option of RecBole and of this package: the top-level keys of their yaml files, the
    keys their code reads as ``config["..."]``, and this package's ``*OPTION = "..."`` names."""
    names = set(_EXTRA_KNOWN)
    for root in (_RECBOLE / "properties", _PACKAGE / "properties"):
        for path in root.rglob("*.yaml"):
            names.update(_YAML_KEY.findall(path.read_text(encoding="utf-8", errors="replace")))
    for root in (_RECBOLE, _PACKAGE):
        for path in root.rglob("*.py"):
            text = path.read_text(encoding="utf-8", errors="replace")
            names.update(_READ_KEY.findall(text))
            names.update(_OPTION_CONSTANT.findall(text))
    return frozenset(names)


def check_option_names(given, also_known=()):
    """Refuse a ``--key=value`` that no configuration defines.

    Args:
        given: the command line's option names.
        also_known: names the user's config files and config dict define.

    Raises:
        ConfigError: naming the option and, when there is one, the close match.
    """
    known = known_options() | set(also_known)
    for name in given:
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.75)
        hint = f"Did you mean {', '.join('--' + c for c in close)}? " if close else ""
        raise ConfigError(
            f"--{name}",
            "no option of RecBole or recbole-seedrec has this name",
            f"{hint}Names are case-sensitive; an option of your own goes in a --config_files yaml.",
        )


# (option, kind, lowest allowed, what it is): checked when set.
_NUMBERS = [
    ("learning_rate", Real, "positive", "the optimiser's step size, e.g. 0.001"),
    ("epochs", Integral, 1, "training epochs"),
    ("train_batch_size", Integral, 1, "rows per training batch"),
    ("eval_batch_size", Integral, 1, "rows per evaluation batch"),
    ("eval_step", Integral, 0, "epochs between evaluations (0: none)"),
    ("MAX_ITEM_LIST_LENGTH", Integral, 1, "the longest history a row keeps"),
    ("hidden_size", Integral, 1, "the hidden size"),
    ("n_layers", Integral, 1, "Transformer layers"),
    ("n_heads", Integral, 1, "attention heads"),
    ("prompt_num", Integral, 1, "k, the prompts before the items"),
    ("s2idm_steps", Integral, 1, "T, S2IDM's diffusion steps"),
    ("s2idm_epochs", Integral, 1, "S2IDM's training epochs"),
    ("s2idm_batch_size", Integral, 1, "users per S2IDM batch"),
    ("s2idm_learning_rate", Real, "positive", "S2IDM's learning rate"),
    ("s2idm_time_emb_dim", Integral, 1, "the size of S2IDM's step embedding"),
    ("interest_cache_rank", Integral, 0, "principal components a cache row keeps (0: all)"),
    ("trim_memory_every", Integral, 0, "training batches between memory trims (0: never)"),
]
_PROBABILITIES = ("hidden_dropout_prob", "attn_dropout_prob", "s2idm_dropout", "dropout_prob")
# Options with a fixed set of values: (option, values, what each means).
_CHOICES = [
    ("interest_cache", ("compact", "dense"),
     "compact stores S2IDM's hidden codes in int8 where q is larger, dense the vectors"),
    ("interest_cache_dtype", ("float32", "bfloat16"),
     "the precision S2IDM's reverse process runs in while the cache is built"),
]  # fmt: skip


def check_option_values(final):
    """The numbers a run cannot work with, named with the fix (``final``: the config dict)."""
    for option, kind, lowest, meaning in _NUMBERS:
        value = final.get(option)
        if value is None:
            continue
        wrong_type = isinstance(value, bool) or not isinstance(value, kind)
        if lowest == "positive":
            if wrong_type or value <= 0:
                raise ConfigError(
                    f"--{option}", f"{value!r} is not a number > 0", f"Give {meaning}."
                )
        elif wrong_type or value < lowest:
            raise ConfigError(
                f"--{option}", f"{value!r} is not a whole number >= {lowest}", f"Give {meaning}."
            )
    for option in _PROBABILITIES:
        value = final.get(option)
        if value is not None and not (
            isinstance(value, Real) and not isinstance(value, bool) and 0 <= value < 1
        ):
            raise ConfigError(
                f"--{option}", f"{value!r} is not a probability in [0, 1)", "Give e.g. 0.2."
            )
    for option, values, meaning in _CHOICES:
        value = final.get(option)
        if value is not None and value not in values:
            raise ConfigError(
                f"--{option}",
                f"{value!r} is not one of {', '.join(values)}",
                f"Choose one: {meaning}.",
            )
    hidden, heads = final.get("hidden_size"), final.get("n_heads")
    if isinstance(hidden, int) and isinstance(heads, int) and heads and hidden % heads:
        raise ConfigError(
            "--n_heads",
            f"{heads} heads do not divide hidden_size {hidden}",
            "Give a hidden_size that is a multiple of n_heads.",
        )


def check_config_file(path):
    """A config file that exists and parses, or one line naming it and the problem."""
    if not Path(path).is_file():
        raise ConfigError(
            str(path), "no such config file", "Check the path given to --config_files."
        )
    try:
        yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(where, f"not valid YAML ({problem})", "Fix the file.") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not a UTF-8 text file", "Give a yaml file.") from None


def check_time_field_loaded(final, inter_file):
    """Ordering by time (``eval_args.order: TO``, every sequential model) needs ``TIME_FIELD``
    among the loaded columns; RecBole's default ``load_col`` loads only the two ids, and says
    ``[timestamp] is not exist`` once the data has loaded."""
    time_field = final.get("TIME_FIELD")
    order = (final.get("eval_args") or {}).get("order")
    load_col = final.get("load_col")
    if not time_field or order != "TO" or not isinstance(load_col, dict):
        return
    loaded = list(load_col.get("inter") or [])
    if time_field in loaded:
        return
    header = _header_fields(inter_file)
    if header is not None and time_field not in header:
        raise ConfigError(
            f"{inter_file}",
            f"has no {time_field} column, which eval_args order TO needs",
            "Convert the data with its timestamps, or set eval_args order RO.",
        )
    wanted = [*loaded, time_field]
    raise ConfigError(
        "--load_col",
        f"the inter columns {loaded} leave out {time_field}, which eval_args order TO needs",
        f"Add it in a config file (load_col: {{inter: {wanted}}}), or set load_col: ~ to load "
        "every column.",
    )


def _header_fields(path):
    """The field names of an atomic file's header (``name:type`` columns), or None."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline().rstrip("\n")
    except OSError:
        return None
    return [column.split(":")[0] for column in first.split("\t")]
