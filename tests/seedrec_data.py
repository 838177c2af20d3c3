"""Tiny synthetic atomic data sets for the SeeDRec tests, and the hand computation of interests.

Item ``iN`` has the sememe ``sN`` (its own) and ``gN%3`` (shared by a third of the items), so a
target's own sememe shows whether the target leaked into its interest, and the shared ones
check that the weights of a sememe are summed.
"""

import random

import torch
from recbole.data import data_preparation
from recbole.utils import init_seed

import recbole_seedrec  # noqa: F401  (runtime shims)
from recbole_seedrec.config import Config
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.registry import get_model
from tests.conftest import REDUCED_SEQUENTIAL

W_MIN, W_MAX = 0.1, 0.5
N_ITEMS = 15

# What every synthetic model reads; sizes as small as the brief allows.
SYNTHETIC = {
    **REDUCED_SEQUENTIAL,
    "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full"},
    "topk": [5, 10],  # 15 items: no top 20
    "s2idm_hidden_dims": [32],
    "s2idm_epochs": 2,
    "s2idm_learning_rate": 1e-3,
    "train_batch_size": 32,
    "state": "ERROR",
    # GRU4Rec's sizes; the transformer models ignore them.
    "embedding_size": 16,
}


def default_histories(seed=3):
    """{user: [(item, time), ...]} in file order (= time order, stable on ties).

    Users of 3 to 14 interactions (longer than MAX_ITEM_LIST_LENGTH + 1, so item_id_list is
    truncated), repeated items, irregular gaps, and one user whose timestamps are all equal.
    """
    rng = random.Random(seed)
    histories = {}
    for user, length in enumerate([3, 4, 6, 8, 9, 11, 12, 14, 14, 5], start=1):
        time, rows = 1000.0, []
        for _ in range(length):
            rows.append((f"i{rng.randint(1, N_ITEMS)}", time))
            time += rng.choice([0.0, 1.0, 7.0, 60.0, 3600.0, 86400.0])
        histories[f"u{user}"] = rows
    histories["u11"] = [(f"i{rng.randint(1, N_ITEMS)}", 5000.0) for _ in range(7)]
    return histories


def default_sememes():
    return {f"i{i}": [f"s{i}", f"g{i % 3}"] for i in range(1, N_ITEMS + 1)}


def write_atomic(root, name, histories, sememes):
    """``root/name/name.inter`` and ``.item``; returns ``root`` for ``data_path``."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user, rows in histories.items():
        lines += [f"{user}\t{item}\t{time!r}" for item, time in rows]
    (folder / f"{name}.inter").write_text("\n".join(lines) + "\n")
    lines = ["item_id:token\tcategory_sememes:token_seq"]
    lines += [f"{item}\t{' '.join(tokens)}" for item, tokens in sememes.items()]
    (folder / f"{name}.item").write_text("\n".join(lines) + "\n")
    return root


def make_config(model, root, name, **overrides):
    return Config(
        model, name, config_dict={**SYNTHETIC, "data_path": str(root), **overrides}, cmd_args=[]
    )


def build_data(config):
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    return {"dataset": dataset, "train": train, "valid": valid, "test": test}


def build_model(config, data):
    init_seed(config["seed"], config["reproducibility"])
    return get_model(config["model"])(config, data["train"]._dataset)


def entry_point_models(model, root, name, option):
    """``{value: (model, data)}`` built through the entry point with ``option`` True and False,
    in eval mode (no dropout), a SeeDRec model's untrained S2IDM frozen: both compute the same
    thing, so a switch that keeps the function can be compared output for output."""
    from recbole_seedrec.quick_start import build_model_and_trainer

    built = {}
    for value in (True, False):
        config = make_config(model, root, name, **{option: value})
        data = build_data(config)
        built_model, _ = build_model_and_trainer(config, data["train"])
        if model.startswith("SeeDRec"):
            built_model.freeze_s2idm()
        built[value] = (built_model.eval(), data)
    return built


def write_default(root, name):
    """The default synthetic data set under ``root``: {"root", "name", "histories", "sememes"}."""
    histories, sememes = default_histories(), default_sememes()
    write_atomic(root, name, histories, sememes)
    return {"root": root, "name": name, "histories": histories, "sememes": sememes}


def train_seedrec(config, data):
    """A model through both stages of SeeDRecTrainer (saved: artifact and checkpoint)."""
    from recbole_seedrec.trainer import SeeDRecTrainer

    model = build_model(config, data)
    trainer = SeeDRecTrainer(config, model)
    trainer.fit(data["train"], data["valid"], verbose=False, saved=True)
    return model, trainer


def split_rows(data, split):
    """The whole split as one Interaction, as a loader takes its rows (``dataset[index]``:
    the history lists in int64), with its users and target items as tokens."""
    dataset = data[split]._dataset
    feat = dataset[torch.arange(len(dataset))]
    return (
        feat,
        tokens(dataset, "user_id", feat["user_id"]),
        tokens(dataset, "item_id", feat["item_id"]),
    )


def tokens(dataset, field, ids):
    """The raw tokens of internal ``ids`` (a 1-d tensor), as a list of str."""
    return [str(token) for token in dataset.field2id_token[field][ids.numpy()]]


def time_weighted_vector(rows, sememes, vocabulary):
    """The paper's prefix vector of ``rows`` [(item, time)]: each sememe of item k gets
    w_k = w_min + (t_k - t_1) / (t_p - t_1) (w_max - w_min), w_max when t_p = t_1, summed."""
    vector = torch.zeros(len(vocabulary), dtype=torch.float64)
    if not rows:
        return vector
    column = {token: j for j, token in enumerate(vocabulary)}
    first, last = rows[0][1], rows[-1][1]
    for item, time in rows:
        if last == first:
            weight = W_MAX
        else:
            weight = W_MIN + (time - first) / (last - first) * (W_MAX - W_MIN)
        for token in sememes[item]:
            vector[column[token]] += weight
    return vector


def release_training_vector(user_rows, train_length, sememes, vocabulary):
    """The release's way: one vector per user from the whole training sequence (its first
    ``train_length`` interactions), the prompt of every training row, targets included."""
    return time_weighted_vector(user_rows[:train_length], sememes, vocabulary)


def training_lengths(users, positions):
    """Per user, how many interactions the training split covers (last target + 1)."""
    lengths = {}
    for user, position in zip(users, positions):
        lengths[user] = max(lengths.get(user, 0), position + 1)
    return lengths


def leak_violations(vectors, users, positions, items, histories, sememes, vocabulary):
    """Rows whose vector is not the hand-computed one of the strictly earlier items, or that
    put mass on the target's own sememe although the target is new to the user."""
    column = {token: j for j, token in enumerate(vocabulary)}
    bad = []
    for row, (user, position, item) in enumerate(zip(users, positions, items)):
        earlier = histories[user][:position]
        expected = time_weighted_vector(earlier, sememes, vocabulary)
        got = vectors[row].double()
        if not torch.allclose(got, expected, rtol=2e-3, atol=2e-3):
            bad.append((row, "differs from the earlier items' vector"))
        own = column[sememes[item][0]]
        if item not in {earlier_item for earlier_item, _ in earlier} and got[own] != 0:
            bad.append((row, f"mass {float(got[own]):.3f} on the target's own sememe"))
    return bad


NAME = "seedsyn"
VARIANTS = (
    "SeeDRecSASRec",
    "SeeDRecCL4SRec",
    "SeeDRecGRU4Rec",
    "SeeDRecSASRecIPEOnly",
    "SeeDRecSASRecS2IDMOnly",
)
