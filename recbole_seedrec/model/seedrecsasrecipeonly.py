"""The paper's "w/ IPE" ablation: SASRec prompts built from the raw, un-diffused interests."""

from recbole_seedrec.model.seedrecsasrec import SeeDRecSASRec


class SeeDRecSASRecIPEOnly(SeeDRecSASRec):
    uses_s2idm = False
