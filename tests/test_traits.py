"""Model traits: declared once (recbole_seedrec/traits.py), read through one function."""

import re
from pathlib import Path

import pytest
from recbole.model.sequential_recommender import GRU4Rec

from recbole_seedrec.data.dataset import SememeSequentialDataset
from recbole_seedrec.registry import get_model
from recbole_seedrec.traits import TRAITS, ModelTraits, trait

REPO = Path(__file__).resolve().parents[1]


def test_a_recbole_model_has_the_defaults():
    for name in TRAITS:
        assert trait(GRU4Rec, name) == getattr(ModelTraits, name), name


def test_this_packages_models_declare_theirs():
    seedrec, ipe_only = get_model("SeeDRecSASRec"), get_model("SeeDRecSASRecIPEOnly")
    assert trait(seedrec, "uses_s2idm") is True and trait(ipe_only, "uses_s2idm") is False
    assert trait(seedrec, "dataset_class") is SememeSequentialDataset
    assert trait(seedrec, "required_item_field_keys") == ("SEMEME_FIELD",)
    assert trait(get_model("SASRec"), "exact_under_trimming") is True


def test_a_misspelt_trait_is_an_error_not_a_default():
    with pytest.raises(AttributeError, match="not a model trait"):
        trait(GRU4Rec, "uses_s2dim")


def test_no_module_reads_a_trait_around_the_accessor():
    names = "|".join(TRAITS)
    reads = re.compile(rf"getattr\([^,]+,\s*[\"']({names})[\"']")
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("recbole_seedrec", "benchmarks")
        for path in (REPO / folder).rglob("*.py")
        if path.name != "traits.py" and reads.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
