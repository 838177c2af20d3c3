"""S2IDM's training stage, one implementation for SeeDRec's trainer and for the standalone
``recbole-seedrec s2idm`` command: which vectors it learns from, the held-out split, AdamW,
early stopping on held-out loss, the best epoch's weights."""

import copy
import time

import torch
from recbole.utils import set_color
from tqdm import tqdm

from recbole_seedrec.data.dataset import HISTORY_POSITION_FIELD


def training_history_rows(histories, train_dataset, user_field):
    """Per user with training rows, the history row whose prefix is the user's whole training
    history: every training item and no validation or test item."""
    feat = train_dataset.inter_feat
    users, positions = feat[user_field], feat[HISTORY_POSITION_FIELD]
    last = torch.zeros(len(histories.offsets) - 1, dtype=torch.long)
    last.scatter_reduce_(0, users, positions, reduce="amax")
    present = last > 0
    lengths = histories.offsets[1:] - histories.offsets[:-1]
    position = torch.minimum(last + 1, lengths - 1)[present]
    return histories.offsets[:-1][present] + position


def split_held_out(vectors, config):
    """A seeded ``s2idm_valid_ratio`` of the users, held out for early stopping."""
    generator = torch.Generator().manual_seed(config["seed"])
    order = torch.randperm(len(vectors), generator=generator)
    n_held_out = max(1, int(len(vectors) * config["s2idm_valid_ratio"]))
    return vectors[order[:n_held_out]], vectors[order[n_held_out:]]


def run_epoch(s2idm, vectors, optimizer, batch_size, device):
    """One pass over ``vectors`` in a random order; the mean training loss."""
    s2idm.train()
    total = 0.0
    for batch in torch.randperm(len(vectors)).split(batch_size):
        loss = s2idm.training_loss(vectors[batch].to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return total / max(len(vectors), 1)


@torch.no_grad()
def held_out_loss(s2idm, vectors, batch_size, seed, device):
    """The same loss on held-out users, with fixed noise: comparable across epochs."""
    s2idm.eval()
    devices = [device] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        total = 0.0
        for batch in vectors.split(batch_size):
            total += s2idm.training_loss(batch.to(device)).item() * len(batch)
    return total / max(len(vectors), 1)


def fit_s2idm(s2idm, vectors, config, device, *, first_epoch=0, optimizer_state=None,
              on_epoch=None, on_improved=None, log=None, show_progress=False):  # fmt: skip
    """Train ``s2idm`` on ``vectors`` [users, q] and keep its best held-out epoch's weights.

    ``config`` gives the ``s2idm_*`` options and the seed. ``first_epoch`` and
    ``optimizer_state`` resume a stage; ``on_epoch(epoch)`` runs after each epoch and
    ``on_improved(optimizer)`` after each better one (the trainer checkpoints there);
    ``log(line)`` reports each epoch. Returns the best held-out loss.
    """
    held_out, train = split_held_out(vectors, config)
    batch_size, seed = config["s2idm_batch_size"], config["seed"]
    s2idm.requires_grad_(True)
    optimizer = torch.optim.AdamW(
        s2idm.parameters(),
        lr=config["s2idm_learning_rate"],
        weight_decay=config["s2idm_weight_decay"],
    )
    if optimizer_state:
        optimizer.load_state_dict(optimizer_state)
    best_loss, best_state, patience = (
        held_out_loss(s2idm, held_out, batch_size, seed, device),
        None,
        0,
    )
    best_epoch, loss = None, None  # loss stays None when a resumed stage has no epoch left
    if log:
        log(f"S2IDM before epoch {first_epoch}: held-out loss {best_loss:.4f}")
    epochs = range(first_epoch, config["s2idm_epochs"])
    progress = tqdm(epochs, desc=set_color("S2IDM", "pink"), ncols=100, disable=not show_progress)
    for epoch in progress:
        start = time.time()
        train_loss = run_epoch(s2idm, train, optimizer, batch_size, device)
        loss = held_out_loss(s2idm, held_out, batch_size, seed, device)
        improved = loss < best_loss
        if on_epoch:
            on_epoch(epoch)
        if log:
            log(
                f"S2IDM epoch {epoch} [time: {time.time() - start:.2f}s, train loss: "
                f"{train_loss:.4f}, held-out loss: {loss:.4f}{' *' if improved else ''}]"
            )
        progress.set_postfix(held_out=f"{loss:.4f}")
        if improved:
            best_loss, best_state, patience = loss, copy.deepcopy(s2idm.state_dict()), 0
            best_epoch = epoch
            if on_improved:
                on_improved(optimizer)
        else:
            patience += 1
            if patience >= config["s2idm_stopping_step"]:
                break
    if best_state is not None:
        s2idm.load_state_dict(best_state)
    if log and loss is None:
        log(
            f"S2IDM: no epoch left to run (resumed at epoch {first_epoch} of "
            f"{config['s2idm_epochs']}); the weights it resumed with are kept (held-out loss "
            f"{best_loss:.4f})."
        )
    elif log and best_epoch is None:
        log(
            f"S2IDM: no epoch beat the held-out loss of the weights it started from "
            f"({best_loss:.4f}); the last epoch's weights are kept (held-out loss {loss:.4f}). "
            "Try a lower s2idm_learning_rate or more s2idm_epochs."
        )
    elif log:
        log(f"S2IDM: kept epoch {best_epoch} (held-out loss {best_loss:.4f})")
    return best_loss
