"""Epoch-level resume of one run: a run stopped by Ctrl-C, ``kill`` or a session's end goes on
after its last validated epoch instead of starting again from epoch 0.

After each validated epoch the run saves what RecBole's checkpoint holds (weights, optimiser,
early-stopping state) and what ``Trainer.resume_checkpoint`` leaves out: the best epoch's
validation result and checkpoint path, the random states the next epoch draws from (torch,
NumPy, Python, the training loader's generator), the losses and the stage clock. Restored just
before the next training epoch, they make the resumed run compute what the uninterrupted run
would have: bit for bit in one process (``tests/test_resume.py``); a new process may round a
float sum differently (losses 2e-8 apart, relative, on the tests' data). The S2IDM stage is
not covered: a run stopped there starts again. A resumed SeeDRec run rebuilds its interest
cache, which is deterministic.
"""

import json
import resource
import time
from pathlib import Path

from recbole_seedrec.atomic import replacing
from recbole_seedrec.random_state import global_random_states, set_global_random_states

from .records import file_digest, write_json_atomic

STATE = "latest-epoch.pth"
SUMMARY = "latest-epoch.json"  # what the parent reads without torch: the epoch and the identity


def identity(spec):
    """What must match for a saved state to continue a run: its spec, config files by content
    (so that another checkout of the repository continues it), without the thread count, the
    few-shot threshold and the protocol's name (its settings are in ``config_dict``), which
    change neither the training nor the selection."""
    ignored = ("threads", "few_shot_max_sememes", "protocol")
    kept = {k: v for k, v in spec.items() if k not in ignored}
    return {**kept, "config_files": [file_digest(path) for path in spec["config_files"]]}


def saved_dir(spec):
    return Path(spec["config_dict"]["checkpoint_dir"])


def resumable_epoch(spec):
    """The last saved epoch of an interrupted run of ``spec``, or None (nothing to resume)."""
    try:
        summary = json.loads((saved_dir(spec) / SUMMARY).read_text(encoding="utf-8"))
        if summary.get("identity") != json.loads(json.dumps(identity(spec))):
            return None
    except (OSError, ValueError):  # unreadable: a summary or config file gone or half-written
        return None
    if not (saved_dir(spec) / STATE).is_file():
        return None
    return summary["epoch"]


def resume_note(spec, text):
    """``text`` with the epoch a run of ``spec`` resumes after (``{epoch}``), or "" if none."""
    after = resumable_epoch(spec)
    return "" if after is None else text.format(epoch=after)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class EpochResume:
    """Saves a run's state after each validated epoch and restores it in a new process."""

    def __init__(self, spec, trainer, train_data, clock, best, started):
        self.spec, self.trainer, self.train_data = spec, trainer, train_data
        self.clock, self.best, self.started = clock, best, started
        self.earlier = {"wall_s": 0.0, "fit_s": 0.0, "peak_rss_mib": 0.0, "segments": 0}
        self.resumed_after = None
        self.fit_started = None

    # ----- saving ----------------------------------------------------------------------------
    def save(self, epoch_idx):
        import torch

        trainer, now = self.trainer, time.perf_counter()
        state = {  # RecBole's checkpoint keys (its resume_checkpoint reads them), then ours
            "config": trainer.config,
            "epoch": epoch_idx,
            "cur_step": trainer.cur_step,
            "best_valid_score": trainer.best_valid_score,
            "best_valid_result": trainer.best_valid_result,
            "best_model_file": trainer.saved_model_file,
            "best_epoch": self.best["epoch"],
            "state_dict": trainer.model.state_dict(),
            "other_parameter": trainer.model.other_parameter(),
            "optimizer": trainer.optimizer.state_dict(),
            "clock": {
                "epochs_s": list(self.clock.epochs_s),
                "train_loss": list(self.clock.train_loss),
                "s2idm_train_s": self.clock.s2idm_train_s,
                "interest_cache_s": self.clock.interest_cache_s,
            },
            "earlier": {
                "wall_s": self.earlier["wall_s"] + now - self.started,
                "fit_s": self.earlier["fit_s"] + now - self.fit_started,
                "peak_rss_mib": max(self.earlier["peak_rss_mib"], peak_rss_mib()),
                "segments": self.earlier["segments"] + 1,
            },
            "random": random_states(self.train_data),
            "test_audit": list(getattr(trainer, "test_audit", None) or []),
        }
        folder = saved_dir(self.spec)
        with replacing(folder / STATE) as partial:
            torch.save(state, partial)
        write_json_atomic(folder / SUMMARY, {"epoch": epoch_idx, "identity": identity(self.spec)})

    def discard(self):
        for name in (SUMMARY, STATE):
            (saved_dir(self.spec) / name).unlink(missing_ok=True)

    # ----- restoring -------------------------------------------------------------------------
    def restore(self):
        """Load the saved state of this run, if any; the random states wait for the first
        training epoch (SeeDRec's interest cache and the loaders come first)."""
        if resumable_epoch(self.spec) is None:
            self.discard()  # another run's, or half-saved: never continue a different run
            return None
        from recbole_seedrec.compat import load_trusted_checkpoint

        trainer, path = self.trainer, saved_dir(self.spec) / STATE
        trainer.resume_checkpoint(path)  # RecBole's part: weights, optimiser, early stopping
        state = load_trusted_checkpoint(path, map_location="cpu")  # random states stay on CPU
        trainer.best_valid_result = state["best_valid_result"]
        trainer.saved_model_file = state["best_model_file"]  # RecBole pointed it at the state
        self.best["epoch"] = state["best_epoch"]
        self.clock.epochs_s[:0] = state["clock"]["epochs_s"]
        self.clock.train_loss[:0] = state["clock"]["train_loss"]
        self.clock.s2idm_train_s = state["clock"]["s2idm_train_s"]
        self.clock.interest_cache_s = state["clock"]["interest_cache_s"]
        self.earlier = state["earlier"]
        if hasattr(trainer, "test_audit"):
            trainer.test_audit[:0] = state.get("test_audit", [])
        self.resumed_after = state["epoch"]
        self._restore_random_before_next_epoch(state["random"])
        trainer.logger.info(
            f"resumed after epoch {state['epoch']} ({self.earlier['segments']} earlier "
            f"segment(s), {self.earlier['wall_s']:.1f}s); best epoch so far {self.best['epoch']}"
        )
        return state["epoch"]

    def _restore_random_before_next_epoch(self, states):
        trainer = self.trainer
        train_epoch = trainer._train_epoch

        def first_epoch(*args, **kwargs):
            trainer._train_epoch = train_epoch
            set_random_states(states, self.train_data)
            return train_epoch(*args, **kwargs)

        trainer._train_epoch = first_epoch

    def summary(self):
        """The record's account of the interruptions (None for a run that was not resumed)."""
        if self.resumed_after is None:
            return None
        return {"after_epoch": self.resumed_after, **self.earlier}


def random_states(train_data):
    """The global streams and the training loader's generator."""
    return {**global_random_states(), "loader": train_data.generator.get_state()}


def set_random_states(states, train_data):
    set_global_random_states(states)
    train_data.generator.set_state(states["loader"])
