"""SeeDRec on SASRec: S2IDM's generalised interests become k prompts before the items."""

from recbole.model.sequential_recommender.sasrec import SASRec

from recbole_seedrec.model.seedrec.prompted_transformer import PromptedTransformerMixin
from recbole_seedrec.model.seedrec.sememe_interest import SememeInterestMixin


class SeeDRecSASRec(PromptedTransformerMixin, SememeInterestMixin, SASRec):
    exact_under_trimming = True  # causal; prompts come before the items, padding after them
