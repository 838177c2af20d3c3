"""What every run of a comparison is given: the protocol, the profile, the seeds, the data yaml.

Precedence inside a run, lowest first: the data set's yaml (``benchmarks/configs/<data>.yaml``),
the user's ``--config_files``, then the protocol and the ``--quick`` profile (a config dict),
then the user's ``--key=value`` overrides. The protocol is the point of the command, so an
override may not change it: :data:`PROTOCOL_OPTIONS` are refused.
"""

from recbole_seedrec.protocol import KEYS as PROTOCOL_KEYS
from recbole_seedrec.protocol import OPTION as PROTOCOL_OPTION
from recbole_seedrec.protocol import protocol_settings
from recbole_seedrec.traits import trait

from . import DATA_CONFIGS

# The package's protocols (recbole_seedrec/properties/protocol/): one definition for both.
PROTOCOLS = {name: protocol_settings(name) for name in ("paper", "full")}

PROTOCOL_TEXT = {
    "paper": "leave-one-out in time order (each user's last item is the test target, the one "
    "before it the validation target), 999 uniformly drawn negatives per target (RecBole's "
    "sampler, which excludes only the target, unless the runs set `eval_negatives: unseen`: "
    "then 999 distinct items the user never interacted with), NDCG/Hit@5/10/20 and GAUC",
    "full": "leave-one-out in time order (each user's last item is the test target, the one "
    "before it the validation target), full ranking over all items, NDCG/Hit@5/10/20",
}

# Columns of the Markdown tables (RecBole's result keys); the JSON holds every metric.
HEADLINE_METRICS = {
    "paper": ["ndcg@10", "hit@10", "gauc"],
    "full": ["ndcg@10", "hit@10", "ndcg@20", "hit@20"],
}
SELECTION_METRIC = "ndcg@10"

# Settings of every run that are no part of a model: the same for all, for fair pairs.
COMMON = {
    "repeatable": True,  # RecBole's sequential default; stated for the other model types
    "metric_decimal_place": 6,  # RecBole rounds to 4: too coarse for paired tests
    "show_progress": False,
}

# --quick: a reduced profile; its outputs are named and titled "quick". Sized so that the Home
# comparison (SASRec and SeeDRec, 2 seeds, --jobs 2, --costs) ends within 30 minutes on 2 cores.
QUICK = {
    "epochs": 5,
    "stopping_step": 2,
    "s2idm_epochs": 10,
    "s2idm_stopping_step": 3,
}
# transfer.py's --quick trains its targets longer: a source's help shows in later epochs (and
# its committed demos were made so).
TRANSFER_QUICK = {**QUICK, "epochs": 8}


def quick_text(profile, costs=True):
    """The profile in words, for the reports."""
    return (
        f"at most {profile['epochs']} training epochs with patience {profile['stopping_step']} "
        f"(`epochs: {profile['epochs']}`, `stopping_step: {profile['stopping_step']}`), the S2IDM "
        f"stage at most {profile['s2idm_epochs']} epochs with patience "
        f"{profile['s2idm_stopping_step']} (`s2idm_epochs: {profile['s2idm_epochs']}`, "
        f"`s2idm_stopping_step: {profile['s2idm_stopping_step']}`), 2 seeds unless "
        "--seeds/--seed-list say otherwise"
        + (", and the --costs benchmarks shortened" if costs else "")
    )


DEFAULT_SEEDS, QUICK_SEEDS, FIRST_SEED = 5, 2, 2020

# Options the command sets itself: an override of these would make the outputs lie.
PROTOCOL_OPTIONS = {*PROTOCOL_KEYS, "valid_metric_bigger", PROTOCOL_OPTION}
COMMAND_OPTIONS = {
    "model": "--models",
    "dataset": "--data",
    "data_path": "--data-path",
    "seed": "--seeds or --seed-list",
    "checkpoint_dir": "(set per run by the command)",
    "few_shot_max_sememes": "--few-shot",
}


def output_stem(protocol, quick):
    """``paper`` or ``paper-quick``: the name of the .md/.json and of the runs' folder."""
    return f"{protocol}-quick" if quick else protocol


def seeds_for(count=None, seed_list=None, quick=False):
    if seed_list:
        return list(seed_list)
    count = count or (QUICK_SEEDS if quick else DEFAULT_SEEDS)
    return [FIRST_SEED + i for i in range(count)]


def data_config(data):
    """The data set's own yaml (sememe fields, backbone sizes), when the repository has one."""
    path = DATA_CONFIGS / f"{data}.yaml"
    return path if path.is_file() else None


def run_settings(protocol, quick, profile=QUICK):
    """The config dict every run of the comparison gets (seed and paths are added per run)."""
    return {**COMMON, **PROTOCOLS[protocol], **(profile if quick else {})}


def refused_override(key):
    """Why ``--key=value`` may not be given to compare.py, or None when it may."""
    if key in PROTOCOL_OPTIONS:
        return f"--{key} is fixed by the protocol; choose --protocol paper or full"
    if key in COMMAND_OPTIONS:
        return f"--{key} is set by the command; use {COMMAND_OPTIONS[key]}"
    return None


def backbone_of(model_class):
    """The model a SeeDRec variant is built on (SeeDRecCL4SRec -> CL4SRec; both ablations ->
    SASRec), read from the class: ``class X(..., SememeInterestMixin, Backbone)``."""
    from recbole.model.abstract_recommender import AbstractRecommender

    from recbole_seedrec.model.seedrec.sememe_interest import SememeInterestMixin

    mro = model_class.__mro__
    if SememeInterestMixin not in mro:
        return None
    after = mro[mro.index(SememeInterestMixin) + 1 :]
    return next(cls.__name__ for cls in after if issubclass(cls, AbstractRecommender))


def trains_s2idm(model_class):
    return backbone_of(model_class) is not None and trait(model_class, "uses_s2idm")


# Options that reproduce the SeeDRec release's defects (docs/reproducing-the-paper.md): a run
# with one of them measures the release, and its report says so.
RELEASE_DEFECTS = {
    ("interest_scope", "release"): "leaky: the targets' own sememes enter the training prompts",
    ("selection_split", "test"): "selected and stopped on TEST, not validation",
}


def release_labels(config):
    """What a run's config does that this package's protocol forbids, in words (or [])."""
    return [text for (key, value), text in RELEASE_DEFECTS.items() if config.get(key) == value]
