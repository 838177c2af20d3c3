"""The test-selection audit: what selecting on test, as the SeeDRec release does, would report.

The release evaluates the test set every 20 epochs with freshly drawn negatives, stops early on
test NDCG@10 and reports the best test figures. With ``test_audit: True`` every validation also
scores the test set, and the run keeps each epoch's figures: the best of them is the figure the
release's protocol would report, beside the honest, validation-selected one. The audit draws
its negatives without touching the random streams training reads, so it changes nothing else
in the run. ``selection_split: test`` goes further and selects and stops on test: a release
defect, warned about and never the default.
"""

from recbole.utils import calculate_valid_score

from recbole_seedrec.random_state import preserved_random_state

TEST_SELECTION_WARNING = (
    "selection_split: test: the epoch is selected and training stops on TEST figures, as the "
    "SeeDRec release does. Its test results are optimistic; use it only to measure the release."
)


class TestAuditMixin:
    """Mix in before RecBole's ``Trainer``; call :meth:`audit_with` with the test loader."""

    def __init__(self, config, model):
        super().__init__(config, model)
        self.selection_split = config["selection_split"] or "valid"
        self.audit_data = None
        self.test_audit = []  # one entry per validation: epoch, valid and test results
        self._epoch = None
        if self.selection_split == "test":
            self.logger.warning(TEST_SELECTION_WARNING)

    def audit_with(self, test_data):
        """Score ``test_data`` at every validation when ``test_audit`` or ``selection_split:
        test`` asks for it (otherwise nothing is done)."""
        if self.config["test_audit"] or self.selection_split == "test":
            self.audit_data = test_data

    def _train_epoch(self, train_data, epoch_idx, *args, **kwargs):
        self._epoch = epoch_idx
        return super()._train_epoch(train_data, epoch_idx, *args, **kwargs)

    def _valid_epoch(self, valid_data, show_progress=False):
        valid_score, valid_result = super()._valid_epoch(valid_data, show_progress=show_progress)
        if self.audit_data is None:
            if self.selection_split == "test":
                raise RuntimeError("selection_split: test needs the test data: audit_with()")
            return valid_score, valid_result
        with preserved_random_state():
            test_result = self.evaluate(
                self.audit_data, load_best_model=False, show_progress=show_progress
            )
        test_score = calculate_valid_score(test_result, self.valid_metric)
        self.test_audit.append(
            {
                "epoch": self._epoch,
                "valid": {key: float(value) for key, value in valid_result.items()},
                "test": {key: float(value) for key, value in test_result.items()},
            }
        )
        self.logger.info(f"test audit, epoch {self._epoch}: {self.valid_metric} {test_score:.6f}")
        if self.selection_split == "test":
            return test_score, test_result
        return valid_score, valid_result


def best_of_test(audit, metric="ndcg@10"):
    """The audit entry with the best test ``metric``: what the release's protocol reports.

    Args:
        audit: a run's ``test_audit`` list.
        metric: RecBole's result key.

    Returns:
        dict or None: ``epoch``, ``valid`` and ``test`` of that evaluation.
    """
    return max(audit, key=lambda entry: entry["test"][metric]) if audit else None
