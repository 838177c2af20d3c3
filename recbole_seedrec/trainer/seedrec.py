"""Two stages: train S2IDM on users' sememe vectors, freeze it, then the backbone with IPE."""

import copy
import os
import time

import torch
from recbole.trainer import Trainer
from recbole.utils import set_color
from tqdm import tqdm

from recbole_seedrec.data.dataset import HISTORY_POSITION_FIELD
from recbole_seedrec.trainer.checkpoints import SafeCheckpointMixin, unique_checkpoint_path
from recbole_seedrec.trainer.sampled_eval import CandidateScoringMixin


class SeeDRecTrainer(CandidateScoringMixin, SafeCheckpointMixin, Trainer):
    """RecBole's trainer, preceded by the S2IDM stage (skipped when S2IDM is already trained:
    loaded from ``s2idm_path`` or restored from a checkpoint)."""

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False,
            callback_fn=None):  # fmt: skip
        raw_cache = None
        if self.model.s2idm is not None and bool(self.model.s2idm_ready):
            self.model.freeze_s2idm()  # restored from a checkpoint or loaded: stays frozen
        if not bool(self.model.s2idm_ready):
            raw_cache = self.model.raw_interest_cache()
            self.train_s2idm(raw_cache, train_data, verbose, saved, show_progress)
        if self.model._interest_cache is None:
            start = time.time()
            cache = self.model.build_interest_cache(raw_cache)
            if verbose:
                self.logger.info(
                    f"interest cache: {len(cache.values):,} prefixes x {cache.values.shape[1]:,} "
                    f"sememes, {cache.nbytes / 2**20:.1f} MiB, built in {time.time() - start:.1f}s"
                )
        return super().fit(train_data, valid_data, verbose, saved, show_progress, callback_fn)

    # ----- stage 1 ---------------------------------------------------------------------------
    def training_history_rows(self, train_data):
        """Per user, the history row whose prefix is the user's whole training history."""
        histories = self.model.histories
        feat = train_data._dataset.inter_feat
        users, positions = feat[self.model.USER_ID], feat[HISTORY_POSITION_FIELD]
        last = torch.zeros(len(histories.offsets) - 1, dtype=torch.long)
        last.scatter_reduce_(0, users, positions, reduce="amax")
        present = last > 0
        lengths = histories.offsets[1:] - histories.offsets[:-1]
        position = torch.minimum(last + 1, lengths - 1)[present]
        return histories.offsets[:-1][present] + position

    def train_s2idm(self, raw_cache, train_data, verbose=True, saved=True, show_progress=False):
        config, model, s2idm = self.config, self.model, self.model.s2idm
        vectors = raw_cache.values[self.training_history_rows(train_data)].float()
        order = torch.randperm(len(vectors), generator=torch.Generator().manual_seed(config["seed"]))
        n_held_out = max(1, int(len(vectors) * config["s2idm_valid_ratio"]))
        held_out, train = vectors[order[:n_held_out]], vectors[order[n_held_out:]]

        s2idm.requires_grad_(True)
        optimizer = torch.optim.AdamW(
            s2idm.parameters(),
            lr=config["s2idm_learning_rate"],
            weight_decay=config["s2idm_weight_decay"],
        )
        if model.s2idm_optimizer_state:
            optimizer.load_state_dict(model.s2idm_optimizer_state)
        best_loss, best_state, patience = self.held_out_loss(held_out), None, 0
        epochs = range(int(model.s2idm_epoch), config["s2idm_epochs"])
        progress = tqdm(epochs, desc=set_color("S2IDM", "pink"), ncols=100, disable=not show_progress)
        for epoch in progress:
            start = time.time()
            train_loss = self._s2idm_epoch(train, optimizer)
            loss = self.held_out_loss(held_out)
            improved = loss < best_loss
            model.s2idm_epoch.fill_(epoch + 1)
            if verbose:
                self.logger.info(
                    f"S2IDM epoch {epoch} [time: {time.time() - start:.2f}s, train loss: "
                    f"{train_loss:.4f}, held-out loss: {loss:.4f}{' *' if improved else ''}]"
                )
            progress.set_postfix(held_out=f"{loss:.4f}")
            if improved:
                best_loss, best_state, patience = loss, copy.deepcopy(s2idm.state_dict()), 0
                model.s2idm_optimizer_state = optimizer.state_dict()
                if saved:  # resumable: a checkpoint of epoch -1 resumes in this stage
                    self._save_checkpoint(-1, verbose=False)
            else:
                patience += 1
                if patience >= config["s2idm_stopping_step"]:
                    break
        if best_state is not None:
            s2idm.load_state_dict(best_state)
        model.freeze_s2idm()
        model.s2idm_optimizer_state = None
        self._save_s2idm_artifact(verbose)

    def _s2idm_epoch(self, vectors, optimizer):
        self.model.s2idm.train()
        total, batch_size = 0.0, self.config["s2idm_batch_size"]
        for batch in torch.randperm(len(vectors)).split(batch_size):
            loss = self.model.s2idm.training_loss(vectors[batch].to(self.device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        return total / max(len(vectors), 1)

    @torch.no_grad()
    def held_out_loss(self, vectors):
        """The same loss on held-out users, with fixed noise: comparable across epochs."""
        s2idm = self.model.s2idm
        s2idm.eval()
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.config["seed"])
            total = 0.0
            for batch in vectors.split(self.config["s2idm_batch_size"]):
                total += s2idm.training_loss(batch.to(self.device)).item() * len(batch)
        return total / max(len(vectors), 1)

    def _save_s2idm_artifact(self, verbose):
        path = self.config["s2idm_save_path"] or unique_checkpoint_path(
            self.checkpoint_dir, f"{self.config['model']}-S2IDM"
        )
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.model.save_s2idm(path)
        self.s2idm_artifact = path
        if verbose:
            self.logger.info(f"S2IDM saved (reuse with s2idm_path): {path}")
