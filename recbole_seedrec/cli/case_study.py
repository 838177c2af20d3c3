"""``recbole-seedrec case-study``: a user's original and generalised sememe distributions.

    recbole-seedrec case-study --model-file saved/SeeDRecSASRec-....pth --sample 3 --out-dir fig

For each chosen user, the prefix that predicts the user's test item (every interaction before
it, never the test item itself) gives the raw sememe vector (time-weighted, as S2IDM's input)
and S2IDM's generalised distribution (its reverse process, as the model's prompts see it). Both
are drawn side by side as bar charts of their top-N sememes (paper, Fig. 5), as PNG and SVG.
Needs matplotlib: ``pip install "recbole-seedrec[plot]"``.
"""

import sys
from pathlib import Path

import numpy as np
import torch

from recbole_seedrec.atomic import replacing
from recbole_seedrec.cli.arguments import USER_ERRORS, CommandParser
from recbole_seedrec.config import ConfigError
from recbole_seedrec.data.dataset import HISTORY_POSITION_FIELD
from recbole_seedrec.errors import UserError, exit_with
from recbole_seedrec.model.seedrec.interest import prefix_sememe_vectors
from recbole_seedrec.run import load_data_and_model
from recbole_seedrec.traits import trait

FORMATS = ("png", "svg")
COLOURS = {"original": "#4C72B0", "kept": "#4C72B0", "new": "#DD8452"}


class CaseStudyError(ConfigError):
    """A checkpoint, user or option the case study cannot use."""


def _pyplot_free_figure():
    """matplotlib's Figure on the Agg canvas (no screen, no global pyplot state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise CaseStudyError(
            'The case study draws with matplotlib: pip install "recbole-seedrec[plot]"'
        ) from None
    return Figure, FigureCanvasAgg


def check_model_class(config):
    """Before the data loads: only a SeeDRec model with S2IDM has a distribution to draw."""
    if not trait(config.model_class, "uses_s2idm"):
        raise CaseStudyError(
            f"{config['model']} has no S2IDM, so there is no generalised distribution to draw: "
            "give a checkpoint of a SeeDRec model with S2IDM (e.g. SeeDRecSASRec)."
        )


def check_model(model, config):
    if getattr(model, "s2idm", None) is None or not bool(model.s2idm_ready):
        raise CaseStudyError(f"The S2IDM of this {config['model']} checkpoint is not trained yet.")


def target_positions(dataset, test_data):
    """{internal user id: history position of its (first) test target}."""
    feat = test_data._dataset.inter_feat
    targets = {}
    for user, position in zip(
        feat[dataset.uid_field].tolist(), feat[HISTORY_POSITION_FIELD].tolist()
    ):
        targets.setdefault(user, position)
    return targets


def choose_users(dataset, targets, users=None, sample=3, seed=0):
    """Internal ids of the users named by token, or ``sample`` test users drawn with ``seed``."""
    if users:
        token_ids = dataset.field2token_id[dataset.uid_field]
        unknown = [u for u in users if u not in token_ids]
        missing = [u for u in users if u in token_ids and token_ids[u] not in targets]
        if unknown or missing:
            examples = ", ".join(dataset.id2token(dataset.uid_field, sorted(targets)[:5]))
            problem = f"unknown user(s) {', '.join(unknown)}" if unknown else ""
            if missing:
                problem += ("; " if problem else "") + f"no test item for {', '.join(missing)}"
            raise CaseStudyError(f"--users: {problem} (test users are e.g. {examples}).")
        return [token_ids[u] for u in users]
    if sample < 1:
        raise CaseStudyError(f"--sample {sample}: give 1 or more users to draw.")
    pool = np.array(sorted(targets))
    rng = np.random.default_rng(seed)
    return rng.choice(pool, size=min(sample, len(pool)), replace=False).tolist()


@torch.no_grad()
def distributions(model, user, position):
    """(raw, generalised) sememe vectors [q] for predicting ``position`` of ``user``'s history
    from the items before it; the same computation as the model's interest cache, in float32."""
    start = int(model.histories.offsets[user])
    raw = prefix_sememe_vectors(
        model.histories, model.sememe_table, start, start + position + 1, **model.sememe_args
    )[-1]
    model.eval()
    device = model.s2idm_ready.device
    generalised = model.generalise(raw.unsqueeze(0).to(device))[0].cpu()
    return raw, generalised


def sememe_names(vocabulary):
    """Tokens without their ``field:`` prefix; a name two fields share keeps its field."""
    short = [token.split(":", 1)[1] if ":" in token else token for token in vocabulary]
    counts = {}
    for name in short:
        counts[name] = counts.get(name, 0) + 1
    return [
        s if counts[s] == 1 else f"{s} ({t.split(':', 1)[0]})" for s, t in zip(short, vocabulary)
    ]


def draw(raw, generalised, title, top=15):
    """The figure: original (left) and generalised (right), top-``top`` sememes each, largest
    first; generalised bars of sememes absent from the history in another colour; names of the
    test item's sememes starred. ``raw`` / ``generalised``: (values [q], tokens, target tokens)."""
    Figure, FigureCanvasAgg = _pyplot_free_figure()
    fig = Figure(figsize=(11, 1.9 + 0.3 * top), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    history = {token for token, value in zip(raw[1], raw[0].tolist()) if value > 0}
    panels = [
        (axes[0], raw, "Original: time-weighted sememe vector", "weight in the history"),
        (axes[1], generalised, "Generalised: S2IDM's distribution", "generalised weight"),
    ]
    for ax, (values, tokens, target), panel_title, xlabel in panels:
        names = sememe_names(tokens)
        order = np.argsort(-values.numpy(), kind="stable")[:top]
        order = [j for j in order if values[j] > 0] or list(order[:1])
        shown = values[order].numpy()[::-1]  # barh draws bottom-up: largest at the top
        labels = [names[j] + (" *" if tokens[j] in target else "") for j in order][::-1]
        colours = [COLOURS["kept" if tokens[j] in history else "new"] for j in order][::-1]
        ax.barh(range(len(shown)), shown, color=colours)
        ax.set_yticks(range(len(shown)), labels, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("sememe")
        ax.set_title(
            f"{panel_title}\n(top {len(shown)} of {int((values > 0).sum()):,} sememes)", fontsize=11
        )
        ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    legend = [
        Patch(color=COLOURS["kept"], label="in the user's history"),
        Patch(color=COLOURS["new"], label="not in the history (generalised)"),
        Patch(color="none", label="* a sememe of the test item (never seen by the model)"),
    ]
    fig.legend(handles=legend, loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    fig.suptitle(title, fontsize=12)
    return fig


def check_out_dir(out_dir):
    """Before the data loads: ``out_dir`` is a folder, or a path where one can be made."""
    path = Path(out_dir)
    for folder in (path, *path.parents):
        if folder.exists():
            if folder.is_dir():
                return
            what = (
                "is a file, not a folder"
                if folder == path
                else f"cannot be made: {folder} is a file"
            )
            raise CaseStudyError(
                f"--out-dir {path}", what, "Give a folder for the figures (it is made if missing)."
            )


def save_atomic(fig, path, fmt):
    with replacing(path) as partial:
        fig.savefig(partial, format=fmt)


def case_study(model_file, out_dir, users=None, sample=3, seed=0, top=15, config_updates=None):
    """Draw each chosen user's figure into ``out_dir``; returns the written paths."""
    if top < 1:
        raise CaseStudyError(f"--top {top}: give 1 or more sememes per chart.")
    _pyplot_free_figure()  # fail before loading the data when matplotlib is missing
    check_out_dir(out_dir)
    config, model, dataset, _, _, test_data = load_data_and_model(
        model_file, config_updates, check=check_model_class
    )
    check_model(model, config)
    targets = target_positions(dataset, test_data)
    chosen = choose_users(dataset, targets, users, sample, seed)
    tokens = list(model.sememe_table.vocabulary)
    # S2IDM answers in its own vocabulary: ours, or a transferred S2IDM's (cross-domain).
    s2idm_tokens = list(getattr(model, "s2idm_tokens", None) or tokens)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CaseStudyError(f"--out-dir {out_dir}", f"cannot be made ({error.strerror})") from None
    written = []
    for user in chosen:
        position = targets[user]
        raw, generalised = distributions(model, user, position)
        target_item = model.histories.items[int(model.histories.offsets[user]) + position]
        row = model.sememe_table.index[target_item]
        target = {tokens[j - 1] for j in row[row > 0].tolist()}  # the table's ids are 1-based
        token = dataset.id2token(dataset.uid_field, user)
        title = (
            f"{config['dataset']}, user {token}: the {position} items before the test item "
            f"({config['model']})"
        )
        fig = draw((raw, tokens, target), (generalised, s2idm_tokens, target), title, top)
        stem = f"case-study-{config['dataset']}-user-{_safe(token)}"
        for fmt in FORMATS:
            path = out_dir / f"{stem}.{fmt}"
            save_atomic(fig, path, fmt)
            written.append(path)
    return written


def _safe(token):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(token))


def main(argv=None, prog="recbole-seedrec case-study"):
    parser = CommandParser(
        prog=prog,
        description="Draw, for test users, the original and S2IDM-generalised sememe "
        "distributions of the history before their test item (PNG and SVG).",
    )
    parser.add_argument("--model-file", required=True, help="checkpoint of a SeeDRec model")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--users", help="comma-separated user tokens, e.g. A1B2,C3D4")
    who.add_argument("--sample", type=int, default=3, help="test users drawn at random (3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (0)")
    parser.add_argument("--top", type=int, default=15, help="sememes per chart (15)")
    parser.add_argument("--out-dir", required=True, help="folder for the figures")
    parser.add_argument(
        "--data-path",
        "--data_path",  # as `evaluate --data_path=` spells it
        dest="data_path",
        help="where the data set lives now, if it moved",
    )
    args = parser.parse_args(argv)
    users = [u.strip() for u in args.users.split(",") if u.strip()] if args.users else None
    updates = {"data_path": args.data_path} if args.data_path else None
    try:
        written = case_study(
            args.model_file, args.out_dir, users, args.sample, args.seed, args.top, updates
        )
    except (*USER_ERRORS, UserError) as error:
        exit_with(error)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
