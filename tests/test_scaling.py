"""benchmarks/scaling.py: the replicated data and the growth exponents (its runs take hours)."""

import pytest
import scaling

from tests.seedrec_data import default_histories, default_sememes, write_atomic


def test_replicas_are_new_users_with_the_same_items(tmp_path):
    root = write_atomic(tmp_path / "data", "syn", default_histories(), default_sememes())
    name = scaling.replicate(root, "syn", 3, tmp_path / "work")
    original = (root / "syn" / "syn.inter").read_text().splitlines()
    grown = (tmp_path / "work" / name / f"{name}.inter").read_text().splitlines()
    assert name == "syn-x3" and grown[0] == original[0]
    assert len(grown) - 1 == 3 * (len(original) - 1)
    users = {line.split("\t")[0] for line in grown[1:]}
    assert len(users) == 3 * len({line.split("\t")[0] for line in original[1:]})
    assert sorted(line.split("\t", 1)[1] for line in grown[1:]) == sorted(
        line.split("\t", 1)[1] for line in original[1:] for _ in range(3)
    )
    assert scaling.replicate(root, "syn", 3, tmp_path / "work") == name  # kept, not rewritten


def test_growth_exponents():
    assert scaling.growth_exponent([1, 2, 4, 8], [3, 6, 12, 24]) == pytest.approx(1.0)
    assert scaling.growth_exponent([1, 2, 4], [1, 4, 16]) == pytest.approx(2.0)
    assert scaling.growth_exponent([1], [5]) is None
    records = {("SASRec", 1): {"epoch_s": 10.0}, ("SASRec", 2): {"epoch_s": 20.0}}
    assert "epoch_s 1.00" in scaling.report(records, [1, 2])
