"""SeeDRec on CL4SRec: prompted SASRec encoder; both augmented views get the row's prompts."""

from recbole_seedrec.model.cl4srec import CL4SRec, carry_gradient
from recbole_seedrec.model.seedrec.prompted_transformer import PromptedTransformerMixin
from recbole_seedrec.model.seedrec.sememe_interest import SememeInterestMixin


class SeeDRecCL4SRec(PromptedTransformerMixin, SememeInterestMixin, CL4SRec):
    def calculate_loss(self, interaction):
        """CL4SRec's loss with the row's prompts in all three encodings.

        In training the next-item part's gradient is computed first, as in CL4SRec: it reads a
        detached copy of the prompts, and the gradient there reaches the prompt encoder
        through the attached prompts (:func:`carry_gradient`).
        """
        prompts = self.prompts(interaction)
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        in_parts = self.backward_in_parts()
        read = prompts.detach().requires_grad_() if in_parts else prompts
        loss = self.next_item_loss(self.forward(item_seq, item_seq_len, read), interaction)
        if not self.cl_weight:
            return loss
        if in_parts:
            loss = carry_gradient(loss, [*self.trainable_points(), (read, prompts)])
        return loss + self.cl_weight * self.contrastive_loss(item_seq, item_seq_len, prompts)
