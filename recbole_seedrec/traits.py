"""What this package reads from a model class besides RecBole's interface, declared once.

A model of this package sets the traits that apply to it as class attributes (``uses_s2idm =
False`` in an ablation, ``exact_under_trimming = True`` in a causal encoder); every other model,
RecBole's included, has the defaults of :class:`ModelTraits`. Read a trait with :func:`trait`.
"""


class ModelTraits:
    """The traits and their defaults (what a model that does not declare one has)."""

    # Scores unchanged when a batch's trailing padding is trimmed, so length-grouped batches
    # are exact (data/batching.py). None: not declared (RecBole's own models are looked up in
    # a list there).
    exact_under_trimming = None
    # Its own RecBole Dataset subclass (SeeDRec's sememe fields), or None for RecBole's.
    dataset_class = None
    # Config keys naming the .item fields it reads (e.g. SEMEME_FIELD): load_col gains them.
    required_item_field_keys = ()
    # Trains S2IDM in a stage of its own before the backbone (False in the "w/ IPE" ablation).
    uses_s2idm = False
    # ``predict_candidates(interaction, candidate_items)``: scores of the given candidates only,
    # for sampled evaluation (trainer/sampled_eval.py); None: predict or full_sort_predict.
    predict_candidates = None


TRAITS = tuple(name for name in vars(ModelTraits) if not name.startswith("_"))


def trait(model, name):
    """A model's trait, or its default when the model does not declare it.

    Args:
        model: a model class or instance, of this package or of RecBole.
        name: one of :data:`TRAITS`.

    Returns:
        The model's value (a bound method for ``predict_candidates``), else the default.

    Raises:
        AttributeError: for a name that is no trait (a typo would read a default silently).
    """
    if name not in TRAITS:
        raise AttributeError(f"{name!r} is not a model trait; the traits are {', '.join(TRAITS)}")
    return getattr(model, name, getattr(ModelTraits, name))
