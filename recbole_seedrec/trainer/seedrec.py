"""Two stages: train S2IDM on users' sememe vectors, freeze it, then the backbone with IPE."""

import os
import time

import torch
from recbole.trainer import Trainer

from recbole_seedrec.distributed import broadcast_state, rank_and_size, shared_across_local_ranks
from recbole_seedrec.trainer.checkpoints import SafeCheckpointMixin, unique_checkpoint_path
from recbole_seedrec.trainer.s2idm_stage import fit_s2idm, training_history_rows
from recbole_seedrec.trainer.sampled_eval import CandidateScoringMixin


class SeeDRecTrainer(CandidateScoringMixin, SafeCheckpointMixin, Trainer):
    """RecBole's trainer, preceded by the S2IDM stage (skipped when S2IDM is already trained:
    loaded from ``s2idm_path`` or restored from a checkpoint)."""

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False,
            callback_fn=None):  # fmt: skip
        if self.model.s2idm is not None and bool(self.model.s2idm_ready):
            self.model.freeze_s2idm()  # restored from a checkpoint or loaded: stays frozen
        if not bool(self.model.s2idm_ready):
            self.train_s2idm(train_data, verbose, saved, show_progress)
        if self.model._interest_cache is None:
            start = time.time()
            cache = self.model.build_interest_cache(
                share=self._share_within_machine,
                sync=lambda module: broadcast_state(module, self.config),
            )
            if verbose:
                self.logger.info(
                    f"interest cache: {len(cache.values):,} prefixes x {cache.values.shape[1]:,} "
                    f"{cache.describe()}, {cache.nbytes / 2**20:.1f} MiB, "
                    f"built in {time.time() - start:.1f}s"
                )
        return super().fit(train_data, valid_data, verbose, saved, show_progress, callback_fn)

    # ----- stage 1 ---------------------------------------------------------------------------
    def train_s2idm(self, train_data, verbose=True, saved=True, show_progress=False):
        """S2IDM on each user's training-history vector (``s2idm_stage``), resumable. In a
        distributed run rank 0 trains it and the other ranks take its weights."""
        model = self.model
        if rank_and_size(self.config)[0] == 0:
            rows = training_history_rows(model.histories, train_data._dataset, model.USER_ID)

            def improved(optimizer):
                model.s2idm_optimizer_state = optimizer.state_dict()
                if saved:  # resumable: a checkpoint of epoch -1 resumes in this stage
                    self._save_checkpoint(-1, verbose=False)

            fit_s2idm(
                model.s2idm,
                model.prefix_vectors(rows),
                self.config,
                self.device,
                first_epoch=int(model.s2idm_epoch),
                optimizer_state=model.s2idm_optimizer_state,
                on_epoch=lambda epoch: model.s2idm_epoch.fill_(epoch + 1),
                on_improved=improved,
                log=self.logger.info if verbose else None,
                show_progress=show_progress,
            )
        broadcast_state(model.s2idm, self.config)
        model.freeze_s2idm()
        model.s2idm_optimizer_state = None
        self._save_s2idm_artifact(verbose)

    def _share_within_machine(self, build):
        """The interest cache's values, built once per machine in a distributed run (beside the
        checkpoint, named for the machine's first rank), ``build()`` in one process."""
        path = f"{self.saved_model_file}.rank{self.config['offset']}-interest-cache"
        return shared_across_local_ranks(self.config, build, path)

    def _save_s2idm_artifact(self, verbose):
        path = self.config["s2idm_save_path"] or unique_checkpoint_path(
            self.checkpoint_dir, f"{self.config['model']}-S2IDM"
        )
        names = [path]
        if not self.config["single_spec"]:  # rank 0 writes it; every rank reports its name
            torch.distributed.broadcast_object_list(names, src=0)
        path = names[0]
        if rank_and_size(self.config)[0] == 0:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            dataset = self.config["dataset"]
            self.model.save_s2idm(path, {dataset: self.config["data_fingerprint"]})
        self.s2idm_artifact = path
        if verbose:
            self.logger.info(f"S2IDM saved (reuse with s2idm_path): {path}")
