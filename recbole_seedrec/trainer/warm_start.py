"""``init_from``: start a model from another run's checkpoint (the SeeDRec release's warm start).

The release loads a pre-trained SASRec into SeeDRec and trains the prompt generators from
scratch, with one learning rate for everything. Here every parameter of the checkpoint whose
name and shape match the new model's is copied; a model may adapt a tensor whose layout differs
(SeeDRec's position table has k more rows, for the prompts); everything else starts fresh.
"""

from logging import getLogger

import torch

from recbole_seedrec.compat import load_checkpoint_file
from recbole_seedrec.errors import ConfigError


def warm_start(model, path):
    """Copy the matching parameters of the checkpoint at ``path`` into ``model``.

    Args:
        model: the freshly built model.
        path: a checkpoint written by RecBole or this package (``model_file``).

    Returns:
        dict: ``copied``, ``adapted``, ``fresh`` and ``ignored`` parameter names.
    """
    source = load_checkpoint_file(path)["state_dict"]  # one line for a file that is not one
    own = model.state_dict()
    adapt = getattr(model, "adapt_warm_start", None)
    report = {"copied": [], "adapted": [], "fresh": [], "ignored": []}
    updates = {}
    for name, tensor in source.items():
        if name in own and own[name].shape == tensor.shape:
            updates[name] = tensor
            report["copied"].append(name)
        elif name in own and adapt is not None and (adapted := adapt(name, tensor)) is not None:
            updates[name] = adapted
            report["adapted"].append(name)
        else:
            report["ignored"].append(name)
    if not updates:
        raise ConfigError(
            f"init_from: no parameter of '{path}' matches {type(model).__name__}'s by name and "
            "shape. Give a checkpoint of the same backbone (e.g. SASRec for SeeDRecSASRec) "
            "with the same hidden_size, n_layers and MAX_ITEM_LIST_LENGTH."
        )
    report["fresh"] = [name for name in own if name not in updates]
    with torch.no_grad():
        model.load_state_dict({**own, **updates})
    getLogger().info(
        f"init_from {path}: copied {len(report['copied'])} tensors, adapted "
        f"{report['adapted'] or 'none'}, fresh {report['fresh'] or 'none'}, ignored "
        f"{report['ignored'] or 'none'}"
    )
    return report
