"""The S2IDM artifact on disk, and how one vocabulary of sememes maps onto another.

An artifact is ``{hyperparameters, state_dict, vocabulary, sememe_fields, sources}``, plain
tensors and lists, so ``torch.load(path, weights_only=True)`` reads it. ``vocabulary[j]`` is
the sememe of S2IDM's column j; ``sememe_fields`` the fields whose ``field:`` prefix its names
carry (an item-sememe table built from several fields names a token ``field:token``; from one
field, just ``token``); ``sources`` the data sets it was trained on.

Tokens match on the sememe itself. A sememe is a meaning: the lemmatised word ``love`` is the
same sememe in a Beauty title and a film title, whichever field carried it and however many
fields the table had. So a target token maps to the source column of the same full name, else
to the first source column whose name without its ``field:`` prefix is the same. Several
target tokens can land on one source column (``word_sememes:love`` and ``love``): their weights
add up there. A target token with no match is out of vocabulary (OOV) and dropped.
"""

import os
import pickletools
import warnings
import zipfile
from dataclasses import dataclass

import torch

from recbole_seedrec.atomic import replacing
from recbole_seedrec.compat import UNREADABLE_FILE_ERRORS
from recbole_seedrec.errors import ConfigError

ARTIFACT_KEYS = ("hyperparameters", "state_dict", "vocabulary")
ARTIFACT_FIX = (
    "s2idm_path takes the <model>-S2IDM-....pth a SeeDRec run writes beside its checkpoint (its "
    "log names it), or the file `recbole-seedrec s2idm ... --out PATH` writes."
)


def prefixed_fields(fields):
    """The fields whose names prefix the tokens of a table built from ``fields``."""
    fields = [fields] if isinstance(fields, str) else list(fields)
    return fields if len(fields) > 1 else []


def sememe_of(token, fields):
    """``token`` without the ``field:`` prefix of one of ``fields``: the sememe it names."""
    for field in fields:
        if token.startswith(f"{field}:"):
            return token[len(field) + 1 :]
    return token


def write_s2idm_artifact(path, s2idm, vocabulary, sememe_fields=(), sources=(), fingerprints=None):
    """Temp file beside ``path``, then rename: a reader never sees half an artifact.

    ``fingerprints``: ``{source data set: data_fingerprint}`` of the files it was trained on."""
    if len(vocabulary) != s2idm.q:
        raise ValueError(f"vocabulary of {len(vocabulary)} sememes for an S2IDM of q={s2idm.q}")
    artifact = {
        "hyperparameters": s2idm.hyperparameters(),
        "state_dict": s2idm.state_dict(),
        "vocabulary": list(vocabulary),
        "sememe_fields": list(sememe_fields),
        "sources": list(sources),
        "data_fingerprints": dict(fingerprints or {}),
    }
    with replacing(path) as partial:
        torch.save(artifact, partial)


def read_s2idm_artifact(path):
    """The artifact at ``path`` (``weights_only``); a missing, damaged or other file (a model
    checkpoint above all) raises an error that names it and says what it is."""
    if not path or not os.path.isfile(path):
        folder = path and os.path.isdir(path)
        what = f"'{path}' is a folder" if folder else f"no S2IDM artifact at '{path}'"
        raise FileNotFoundError(f"s2idm_path: {what}. {ARTIFACT_FIX}")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol it reads
            warnings.simplefilter("ignore")
            artifact = torch.load(path, map_location="cpu", weights_only=True)
    except UNREADABLE_FILE_ERRORS:  # a model checkpoint among them (it pickles a Config)
        raise ConfigError(path, _not_an_artifact(path), ARTIFACT_FIX) from None
    if not isinstance(artifact, dict):
        artifact = {}
    missing = [key for key in ARTIFACT_KEYS if key not in artifact]
    if missing:
        what = f"is not an S2IDM artifact (it lacks {', '.join(missing)})"
        raise ConfigError(path, what, ARTIFACT_FIX)
    artifact.setdefault("sememe_fields", [])
    artifact.setdefault("sources", [])
    return artifact


def _not_an_artifact(path):
    """What a file ``torch.load(weights_only=True)`` refused is, read without unpickling it."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        return "is empty"
    if head != b"PK\x03\x04":  # not torch.save's zip archive
        return "is not a file torch.save wrote, so not an S2IDM artifact"
    names = _pickled_strings(path)
    if names is None:
        return "is truncated or damaged: torch cannot read its archive"
    if "state_dict" in names and any(name.startswith("recbole") for name in names):
        return "is a model checkpoint, not an S2IDM artifact"
    if set(ARTIFACT_KEYS) <= names:
        return "is damaged: torch cannot read the S2IDM artifact it holds"
    return "is not an S2IDM artifact (it pickles objects besides tensors and lists)"


def _pickled_strings(path):
    """The strings (keys, class names) in a torch archive's pickle, read with pickletools, which
    runs nothing; None if the archive or its pickle is cut short."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
            data = archive.read(name)
        return {arg for _, arg, _ in pickletools.genops(data) if isinstance(arg, str)}
    except (OSError, StopIteration, ValueError, zipfile.BadZipFile, EOFError):
        return None


@dataclass
class VocabularyMapping:
    """Target column ``target[k]`` feeds source column ``source[k]``; ``oov``: target columns
    with no source column."""

    target: list
    source: list
    oov: list
    target_q: int
    source_q: int


def map_vocabulary(target_tokens, source_tokens, target_fields=(), source_fields=()):
    """Map target tokens onto source columns by sememe (see the module's docstring)."""
    exact = {token: j for j, token in enumerate(source_tokens) if token is not None}
    bare = {}
    for j, token in enumerate(source_tokens):
        if token is not None:
            bare.setdefault(sememe_of(token, source_fields), j)
    target, source, oov = [], [], []
    for i, token in enumerate(target_tokens):
        j = exact.get(token)
        if j is None:
            j = bare.get(sememe_of(token, target_fields))
        if j is None:
            oov.append(i)
        else:
            target.append(i)
            source.append(j)
    return VocabularyMapping(target, source, oov, len(target_tokens), len(source_tokens))


def union_vocabulary(vocabularies):
    """One vocabulary for several tables: ``vocabularies`` is ``[(tokens, fields), ...]``.

    Returns ``(union tokens, union prefix fields, [VocabularyMapping of each table])``: a
    token joins the union column of the same sememe, or opens a new one under its own name.
    """
    union, fields, mappings = [], [], []
    for tokens, own_fields in vocabularies:
        fields += [f for f in own_fields if f not in fields]
        mapping = map_vocabulary(tokens, union, own_fields, fields)
        new = {}
        for i in mapping.oov:
            key = sememe_of(tokens[i], own_fields)
            if key not in new:
                new[key] = len(union)
                union.append(tokens[i])
            mapping.target.append(i)
            mapping.source.append(new[key])
        pairs = sorted(zip(mapping.target, mapping.source))
        mapping.target, mapping.source = [i for i, _ in pairs], [j for _, j in pairs]
        mappings.append(mapping)
    for mapping in mappings:
        mapping.oov, mapping.source_q = [], len(union)
    return union, fields, mappings


def map_columns(vectors, mapping):
    """[B, target_q] -> [B, source_q]: weights summed onto their source columns, OOV dropped."""
    out = vectors.new_zeros(len(vectors), mapping.source_q)
    columns = torch.as_tensor(mapping.source, dtype=torch.long, device=vectors.device)
    rows = torch.as_tensor(mapping.target, dtype=torch.long, device=vectors.device)
    return out.index_add_(1, columns, vectors[:, rows])


def overlap_report(mapping, table, target_tokens, source_tokens, path=None, examples=8):
    """How much of the target the source vocabulary covers, for the log and the report.

    ``links``: item-sememe pairs of the target (a sememe of an item counts once); the OOV
    share of them is the share of the target's sememe mass that S2IDM never sees."""
    links = torch.bincount(table.index[1:].flatten(), minlength=table.q + 1)[1:]
    oov = torch.as_tensor(mapping.oov, dtype=torch.long)
    known = torch.zeros(table.q + 1, dtype=torch.bool)
    known[torch.as_tensor(mapping.target, dtype=torch.long) + 1] = True
    index = table.index[1:]
    has_any = (index > 0).any(dim=1)
    by_links = sorted(range(table.q), key=lambda i: -int(links[i]))
    oov_set = set(mapping.oov)
    total = int(links.sum())
    oov_links = int(links[oov].sum()) if len(oov) else 0
    return {
        "artifact": path,
        "source_q": mapping.source_q,
        "target_q": mapping.target_q,
        "shared_types": len(mapping.target),
        "source_columns_reached": len(set(mapping.source)),
        "oov_types": len(mapping.oov),
        "oov_type_share": len(mapping.oov) / max(mapping.target_q, 1),
        "links": total,
        "oov_links": oov_links,
        "oov_link_share": oov_links / max(total, 1),
        "items": len(index),
        "items_without_shared_sememe": int((has_any & ~known[index].any(dim=1)).sum()),
        "shared_examples": [target_tokens[i] for i in by_links if i not in oov_set][:examples],
        "oov_examples": [target_tokens[i] for i in by_links if i in oov_set][:examples],
        "source_examples": [t for t in source_tokens[:examples] if t is not None],
    }


def describe_overlap(report):
    """One line for the log."""
    return (
        f"S2IDM '{report['artifact']}' knows {report['source_q']:,} sememes, this data set has "
        f"{report['target_q']:,}: {report['shared_types']:,} shared (onto "
        f"{report['source_columns_reached']:,} S2IDM columns); {report['oov_types']:,} types "
        f"out of its vocabulary ({report['oov_type_share']:.1%}), carrying "
        f"{report['oov_link_share']:.1%} of the {report['links']:,} item-sememe links, are "
        f"dropped; {report['items_without_shared_sememe']:,} of {report['items']:,} items keep "
        f"no sememe. The interest is read in the S2IDM's vocabulary (q={report['source_q']:,}). "
        f"Most frequent OOV: {report['oov_examples'][:5]}"
    )


def mismatch_error(path, target_tokens, source_tokens, strict):
    """The error of a vocabulary S2IDM cannot read: what differs and what to do."""
    ours = [t for t in target_tokens[:5]]
    theirs = [t for t in source_tokens[:5] if t is not None]
    if strict:
        what = "s2idm_vocabulary is strict and the vocabularies differ"
        fix = "set s2idm_vocabulary: align to map shared sememes by token, or train S2IDM "
    else:
        what = "no sememe is shared"
        fix = "train S2IDM on this data set (drop s2idm_path), or "
    return ConfigError(
        f"s2idm_path '{path}': {what} (the S2IDM knows {len(source_tokens):,} sememes, e.g. "
        f"{theirs}; this data set has {len(target_tokens):,}, e.g. {ours}). To fix: {fix}"
        "on data whose SEMEME_FIELD has the same kind of sememes and tokenisation (e.g. the "
        "converter's word_sememes on both sides)."
    )
