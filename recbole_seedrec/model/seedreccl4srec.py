"""SeeDRec on CL4SRec: prompted SASRec encoder; both augmented views get the row's prompts."""

from recbole_seedrec.model.cl4srec import CL4SRec
from recbole_seedrec.model.layers.prompted_transformer import PromptedTransformerMixin
from recbole_seedrec.model.layers.sememe_interest import SememeInterestMixin


class SeeDRecCL4SRec(PromptedTransformerMixin, SememeInterestMixin, CL4SRec):
    def calculate_loss(self, interaction):
        prompts = self.prompts(interaction)
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        seq_output = self.forward(item_seq, item_seq_len, prompts)
        loss = self.next_item_loss(seq_output, interaction)
        if self.cl_weight:
            loss = loss + self.cl_weight * self.contrastive_loss(item_seq, item_seq_len, prompts)
        return loss
