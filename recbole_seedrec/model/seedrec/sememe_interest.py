"""What every SeeDRec model shares: sememe interests, S2IDM, prompts and the losses.

A SeeDRec model is ``class X(SememeInterestMixin, Backbone)`` where ``Backbone`` is a RecBole
sequential model; ``X.forward(item_seq, item_seq_len, prompts)`` puts the prompts before the
items. The interest that conditions a row is read from a cache keyed by (user, position of the
target in the full history), holding the vector of the items strictly before the target.
"""

from functools import partial
from logging import getLogger

import torch
from torch import nn

from recbole_seedrec.data.dataset import HISTORY_POSITION_FIELD, SememeSequentialDataset
from recbole_seedrec.data.fingerprint import data_fingerprint
from recbole_seedrec.data.sememes import ItemSememeTable
from recbole_seedrec.errors import ConfigError
from recbole_seedrec.model.layers.next_item_loss import NextItemLossMixin
from recbole_seedrec.model.seedrec.interest import (
    CODE_SCALE,
    InterestCache,
    fit_projection,
    in_bfloat16,
    linear_after,
    projected,
    stored_prefix_vectors,
)
from recbole_seedrec.model.seedrec.ipe import InterestPromptEncoder
from recbole_seedrec.model.seedrec.s2idm import S2IDM
from recbole_seedrec.model.seedrec.s2idm_artifact import (
    describe_overlap,
    map_vocabulary,
    mismatch_error,
    overlap_report,
    prefixed_fields,
    read_s2idm_artifact,
    write_s2idm_artifact,
)

VOCABULARY_POLICIES = ("align", "strict")
LEAK_WARNING = (
    "interest_scope: release: every training row of a user is prompted from all of the "
    "user's training items, so the targets' own sememes enter the training prompts (the "
    "SeeDRec release's leak). Use it only to measure the release; results are labelled leaky."
)


def release_positions(histories, users, positions):
    """The SeeDRec release's interest rows under leave-one-out: every training row and the
    validation row read the vector of all training items (the validation row's own prefix),
    the test row its own prefix (training + validation items, never the test item)."""
    lengths = histories.offsets[users + 1] - histories.offsets[users]
    return torch.where(positions < lengths - 1, lengths - 2, positions)


# S2IDM's options, in one place: the network's (keyword of S2IDM -> option) and its training
# stage's. The S2IDM command, and Ray trials that share one S2IDM, read these lists.
S2IDM_NETWORK_OPTIONS = {
    "hidden_dims": "s2idm_hidden_dims",
    "time_emb_dim": "s2idm_time_emb_dim",
    "dropout": "s2idm_dropout",
    "steps": "s2idm_steps",
    "schedule": "s2idm_schedule",
    "noise_min": "s2idm_noise_min",
    "noise_max": "s2idm_noise_max",
    "noise_scale": "s2idm_noise_scale",
    "beta_fixed": "s2idm_beta_fixed",
}
S2IDM_TRAINING_OPTIONS = (
    "s2idm_learning_rate", "s2idm_weight_decay", "s2idm_batch_size", "s2idm_epochs",
    "s2idm_stopping_step", "s2idm_valid_ratio", "seed",
)  # fmt: skip
# What makes a user's sememe vector (S2IDM's input).
SEMEME_OPTIONS = (
    "SEMEME_FIELD",
    "SEMEME_WORD_FIELDS",
    "sememe_w_min",
    "sememe_w_max",
    "sememe_normalize",
)
S2IDM_OPTIONS = (*S2IDM_NETWORK_OPTIONS.values(), *S2IDM_TRAINING_OPTIONS)


def s2idm_kwargs(config, q):
    """S2IDM's keyword arguments for a vocabulary of ``q`` sememes."""
    kwargs = {name: config[option] for name, option in S2IDM_NETWORK_OPTIONS.items()}
    return {"q": q, **kwargs, "hidden_dims": list(kwargs["hidden_dims"])}


def _word_normalizers(fields):
    if not fields:
        return {}
    from recbole_seedrec.data.text import WordSememizer

    sememizer = WordSememizer(min_df=1, max_df=1.0)
    return {field: sememizer.normalize_token for field in fields}


def sememe_table_for(config, dataset):
    """The item-sememe table of ``config``'s SEMEME_FIELD (title fields through the words)."""
    fields = config["SEMEME_FIELD"]
    fields = [fields] if isinstance(fields, str) else list(fields)
    word_fields = [f for f in config["SEMEME_WORD_FIELDS"] or [] if f in fields]
    return ItemSememeTable.from_dataset(dataset, fields, _word_normalizers(word_fields))


def sememe_args(config):
    """How an item's sememes are weighted into a user's vector (prefix_sememe_vectors)."""
    return {
        "w_min": config["sememe_w_min"],
        "w_max": config["sememe_w_max"],
        "normalize": config["sememe_normalize"],
    }


def note_other_data(artifact, config):
    """An S2IDM trained on this data set's name but other files: said in the log. S2IDM reads
    sememe vectors by token (``s2idm_vocabulary``), not item ids, so it still applies."""
    recorded = (artifact.get("data_fingerprints") or {}).get(config["dataset"])
    # the run's own, taken when its data was loaded (prepare_data); else read the files
    current = config["data_fingerprint"] or data_fingerprint(config["data_path"], config["dataset"])
    if recorded and recorded != current:
        getLogger().warning(
            f"s2idm_path {config['s2idm_path']}: trained on other files of data set "
            f"'{config['dataset']}' ({recorded}; now {current}); its sememes are matched by "
            "token, so it applies, but it saw other users' vectors."
        )


class SememeInterestMixin(NextItemLossMixin):
    """Mix in before a RecBole sequential backbone."""

    dataset_class = SememeSequentialDataset
    required_item_field_keys = ("SEMEME_FIELD",)
    uses_s2idm = True  # False: the interest is the raw prefix vector ("w/ IPE" ablation)
    uses_prompts = True  # False: the interest is fused after the encoder ("w/ S2IDM" ablation)

    def __init__(self, config, dataset):
        super().__init__(config, dataset)  # NextItemLossMixin, then the backbone
        if not hasattr(dataset, "user_histories"):
            raise ConfigError(
                f"{type(self).__name__} needs its own dataset class; build the data with "
                "recbole_seedrec.data.dataset.create_dataset (the package's entry points do)."
            )
        self.histories = dataset.user_histories
        self.sememe_table = sememe_table_for(config, dataset)
        fields = self.sememe_table.fields
        self.sememe_args = sememe_args(config)
        self.inference_steps = config["s2idm_inference_steps"]
        self.interest_scope = config["interest_scope"] or "prefix"
        self.interest_cache_form = config["interest_cache"] or "compact"
        self.interest_cache_dtype = config["interest_cache_dtype"] or "float32"
        self.interest_cache_rank = config["interest_cache_rank"] or 0
        if self.interest_scope == "release":
            getLogger().warning(LEAK_WARNING)
        self.prompt_num = config["prompt_num"] if self.uses_prompts else 0
        q = self.sememe_table.q
        if q == 0:
            raise ConfigError(
                f"SEMEME_FIELD {', '.join(fields)}",
                f"no item of data set '{config['dataset']}' has a sememe there",
                "Name the .item field that holds the sememes (the converter writes "
                "category_sememes and word_sememes), or convert the data with its categories "
                "or titles.",
            )
        # S2IDM's vocabulary: ours, unless a loaded artifact has another one (then the interest
        # is read in the artifact's vocabulary, where S2IDM spreads it; see s2idm_artifact).
        self.s2idm_tokens = list(self.sememe_table.vocabulary)
        self.s2idm_fields = prefixed_fields(fields)
        self.s2idm_transfer = None  # the overlap report of a loaded S2IDM of another vocabulary
        artifact, mapping = None, None
        if self.uses_s2idm and config["s2idm_path"]:
            artifact = read_s2idm_artifact(config["s2idm_path"])
            note_other_data(artifact, config)
            mapping = self._map_to_artifact(artifact, config["s2idm_path"], config)
        self.interest_q = mapping.source_q if mapping is not None else q
        if self.uses_prompts:
            self.prompt_encoder = InterestPromptEncoder(
                self.interest_q,
                self.prompt_size(),
                self.prompt_num,
                config["ipe_init"] or "per_prompt",
            )
        self.s2idm = S2IDM(**s2idm_kwargs(config, q)) if self.uses_s2idm else None
        # Which of our sememes feeds which S2IDM column: identity unless the vocabularies differ.
        self.register_buffer("s2idm_columns", torch.arange(q))
        self.register_buffer("own_columns", torch.arange(q))
        self.register_buffer("s2idm_ready", torch.tensor(not self.uses_s2idm))
        self.register_buffer("s2idm_epoch", torch.tensor(0))
        self._interest_cache = None
        self.s2idm_optimizer_state = None
        if artifact is not None:
            self._load_s2idm(artifact, mapping)
        self._check_cache_rank()

    def prompt_size(self):
        return self.hidden_size

    # ----- interests -------------------------------------------------------------------------
    def prefix_vectors(self, rows):
        """The raw sememe vectors [len(rows), q] of some history rows, as the cache stores
        them: S2IDM's training input."""
        return stored_prefix_vectors(self.histories, self.sememe_table, rows, **self.sememe_args)

    def generalise(self, raw, codes=False):
        """S2IDM's reverse process on raw vectors [B, q] of ours: [B, q] in S2IDM's vocabulary
        (ours unless a loaded S2IDM has another; OOV sememes of ours are dropped), or with
        ``codes`` S2IDM's last hidden activation, one readout away from it."""
        x = raw.new_zeros(len(raw), self.s2idm.q)
        x.index_add_(1, self.s2idm_columns, raw[:, self.own_columns])
        if codes:
            return self.s2idm.generalise_codes(x, self.inference_steps)
        return self.s2idm.generalise(x, self.inference_steps)

    def interest_transform(self):
        """(transform, readout) of the cache: what turns a raw prefix vector into what the cache
        holds (None: it holds the raw vector), and the frozen map from that to the interest
        (None: it holds the interest).

        ``interest_cache: compact`` (default) holds S2IDM's last hidden activation in int8
        where that is narrower and cheaper to compute than the vector (q larger than S2IDM's
        hidden size), and runs the reverse process in that hidden space; ``dense`` holds the
        vectors in float16 (the package's cache before 2026-12-06). ``interest_cache_dtype:
        bfloat16`` runs the reverse process in bfloat16 (faster where the hardware has it; the
        interests move by about 0.3 % on ml-1m)."""
        if not self.uses_s2idm:
            return None, None
        transform, readout = self.generalise, None
        if self.interest_cache_form == "compact" and self.s2idm.codes_are_cheaper(
            self.inference_steps
        ):
            transform = partial(self.generalise, codes=True)
            readout = self.s2idm.denoiser.readout
        if self.interest_cache_dtype == "bfloat16":
            transform = partial(in_bfloat16, transform, self.s2idm_ready.device.type)
        return transform, readout

    def _check_cache_rank(self):
        readout = self.interest_transform()[1]
        width = readout.in_features if readout is not None else self.interest_q
        if self.interest_cache_rank >= width:
            raise ConfigError(
                f"--interest_cache_rank {self.interest_cache_rank}",
                f"the cache's rows are only {width} wide",
                f"Give a rank below {width}, or 0 to keep the rows whole.",
            )

    def build_interest_cache(self, limit=None, share=None, sync=None):
        """Compute every row's interest once (S2IDM's T passes happen here, never per batch).
        With ``interest_cache_rank`` R, the cache keeps R principal components of each row,
        fitted on a fixed sample of users (``fit_projection``).

        Args:
            limit: only the first rows (the rest zero), to time the build on a sample.
            share: ``share(build)`` returns the cache's values, calling ``build()`` where they
                are made (a distributed run: once per machine, mapped by its ranks).
            sync: ``sync(module)`` gives every rank rank 0's fitted projection (distributed).

        Returns:
            The ``InterestCache`` the model reads from now on.
        """
        if self.uses_s2idm and not bool(self.s2idm_ready):
            raise RuntimeError("S2IDM is not trained yet: SeeDRecTrainer trains it first.")
        transform, readout = self.interest_transform()
        code_scale = CODE_SCALE if readout is not None else None
        device = self.s2idm_ready.device
        if self.interest_cache_rank:
            projection = fit_projection(
                self.histories, self.sememe_table, self.sememe_args, transform,
                self.interest_cache_rank, device,
            )  # fmt: skip
            if sync is not None:
                sync(projection)
            transform = partial(projected, transform, projection)
            readout, code_scale = projection.readout_after(readout), None

        def build():
            return InterestCache.build(
                self.histories, self.sememe_table, self.sememe_args, transform, device,
                code_scale, limit=limit,
            )  # fmt: skip

        values = share(build) if share is not None else build()
        return self.use_interest_cache(InterestCache(values, readout, code_scale))

    def use_interest_cache(self, cache):
        """Read every row's interest from ``cache`` (an ``InterestCache``) from now on, e.g. one
        built elsewhere; returns it."""
        self._interest_cache = cache
        return cache

    def interest_rows(self, interaction):
        """The history row whose interest conditions each row of ``interaction``: the items
        before its target, never the target."""
        if self._interest_cache is None:
            self.build_interest_cache()
        users = interaction[self.USER_ID].cpu()
        positions = interaction[HISTORY_POSITION_FIELD].cpu()
        if self.interest_scope == "release":
            positions = release_positions(self.histories, users, positions)
        return self.histories.rows(users, positions)

    def interest(self, interaction):
        """[B, interest_q] interest of each row (interest_q: S2IDM's vocabulary, ours unless a
        loaded S2IDM has another)."""
        rows = self.interest_rows(interaction)
        return self._interest_cache.vectors(rows, interaction[self.USER_ID].device)

    def stored_interest(self, interaction):
        """(stored, readout): what the cache holds for each row, and the frozen map that makes
        it the interest (None when it is the interest), for consumers that start with a linear
        layer and fold the readout into it (``linear_after``)."""
        rows = self.interest_rows(interaction)
        cache = self._interest_cache
        return cache.lookup(rows, interaction[self.USER_ID].device), cache.readout

    def train(self, mode=True):
        super().train(mode)
        if self.s2idm is not None and bool(self.s2idm_ready):
            self.s2idm.eval()  # frozen after its stage: no dropout either
        return self

    def freeze_s2idm(self):
        self.s2idm_ready.fill_(True)
        self.s2idm.requires_grad_(False)
        self.s2idm.eval()

    # ----- the S2IDM artifact ----------------------------------------------------------------
    def save_s2idm(self, path, fingerprints):
        """State dict + sememe vocabulary + hyper-parameters: loads with weights_only=True.
        ``fingerprints``: ``{data set: data_fingerprint}`` of what it was trained on."""
        write_s2idm_artifact(
            path, self.s2idm, self.s2idm_tokens, self.s2idm_fields, list(fingerprints),
            fingerprints,
        )  # fmt: skip

    def s2idm_vocabulary(self):
        return list(self.s2idm_tokens)

    def _map_to_artifact(self, artifact, path, config):
        """None when the artifact's vocabulary is ours, else how ours maps onto it (logged)."""
        policy = config["s2idm_vocabulary"]
        if policy not in VOCABULARY_POLICIES:
            raise ConfigError(f"s2idm_vocabulary must be one of {VOCABULARY_POLICIES}.")
        ours, theirs = self.sememe_table.vocabulary, artifact["vocabulary"]
        if ours == theirs:
            return None
        mapping = map_vocabulary(
            ours, theirs, prefixed_fields(self.sememe_table.fields), artifact["sememe_fields"]
        )
        if policy == "strict" or not mapping.target:
            raise mismatch_error(path, ours, theirs, strict=policy == "strict")
        self.s2idm_tokens, self.s2idm_fields = list(theirs), list(artifact["sememe_fields"])
        self.s2idm_transfer = overlap_report(mapping, self.sememe_table, ours, theirs, path)
        getLogger().info(describe_overlap(self.s2idm_transfer))
        return mapping

    def _load_s2idm(self, artifact, mapping):
        self.s2idm = S2IDM(**artifact["hyperparameters"]).to(self.s2idm_columns.device)
        self.s2idm.load_state_dict(artifact["state_dict"])
        if mapping is not None:
            self.own_columns = torch.tensor(mapping.target, dtype=torch.long)
            self.s2idm_columns = torch.tensor(mapping.source, dtype=torch.long)
        self.freeze_s2idm()

    # ----- RecBole's extension point for extra checkpoint state ------------------------------
    def other_parameter(self):
        return {"s2idm_optimizer": self.s2idm_optimizer_state}

    def load_other_parameter(self, para):
        self.s2idm_optimizer_state = (para or {}).get("s2idm_optimizer")

    # ----- prompts, encoding, losses -------------------------------------------------------
    def prompts(self, interaction):
        return self.prompt_encoder(*self.stored_interest(interaction))

    def encode(self, interaction):
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        return self.forward(item_seq, item_seq_len, self.prompts(interaction))

    def calculate_loss(self, interaction):
        return self.next_item_loss(self.encode(interaction), interaction)

    def predict(self, interaction):
        return self._pair_scores(self.encode(interaction), interaction[self.ITEM_ID])

    def full_sort_predict(self, interaction):
        return self._scores(self.encode(interaction), self.scored_item_embeddings())


class InterestFusion(nn.Module):
    """The "w/ S2IDM" ablation: the interest joins the sequence read-out through an MLP."""

    def __init__(self, q, d):
        super().__init__()
        self.interest = nn.Sequential(nn.Linear(q, d), nn.Tanh())
        self.fuse = nn.Linear(2 * d, d)

    def forward(self, seq_output, interest, readout=None):
        """``interest``: [B, q], or codes with S2IDM's ``readout`` (``stored_interest``)."""
        projected = torch.tanh(linear_after(self.interest[0], interest, readout))
        return seq_output + self.fuse(torch.cat([seq_output, projected], dim=-1))
