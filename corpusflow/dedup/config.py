"""Config of the dedup stage: exact + MinHash-LSH near-duplicate removal.

Defaults and where they come from (docs/design.md#minhash-dedup):

* ``ja``: character 5-grams on NFKC text, 20 bands x 10 rows = 200 permutations (t ~ 0.74,
  P(0.8) = 0.90, P(0.5) = 0.019): the llm-jp-corpus v4 band geometry (``llm-jp/scripts``
  ``corpus/llm-jp-corpus-v4/common/dedup/``) with Swallow's character shingles (``swallow-llm/doubri``).
* ``en``: character 5-grams (same normalisation as ``ja``: NFKC, lower case, whitespace and
  punctuation removed, digits folded), 20 bands x 10 rows = 200 permutations (t ~ 0.74,
  P(0.8) = 0.90, P(0.7) = 0.44, P(0.5) = 0.019). Word 5-grams (datatrove / FineWeb, 14 x 8)
  lose five shingles to every edited word, so pages with scattered character edits fall below
  the threshold. Measured on make_corpus builds (the benchmark corpora of ``bench/``; 20,000 documents, seeds 1 and
  2) through ``configs/pipelines/dedup_only.yaml`` (verify 0.75) and ``score_dedup.py``:
  word 5-grams 14 x 8 with the former keep rule: recall 0.9778 / 0.9783, precision 0.9978 /
  0.9989; character 5-grams 20 x 10 with ``keep: complete``: recall 0.9942 / 0.9926,
  precision 0.9976 / 0.9989; without verification (the stage default): recall 0.9942 / 0.9939,
  precision 0.9952 / 0.9973. Character shingles are Swallow's and doubri's choice for Japanese; the
  band geometry is the llm-jp-corpus v4 one, so one S-curve serves both languages. Set
  ``profiles.en: {shingle: word, n: 5, bands: 14, rows: 8}`` to compare with datatrove.
* keep rule ``complete`` (see :class:`KeepRuleConfig`); strict ``keep: longest`` keeps a copy
  that typos made a few characters longer than its original, which the same benchmark counts
  as losing the original: precision 0.9929 / 0.9952.
* Languages written without spaces (zh, th, ...) use the ``ja`` profile; every other language the
  ``en`` profile (``profile_of`` / ``default_profile``).

``describe_lsh(cfg)`` prints the S-curve P(s) = 1 - (1 - s^r)^b of each profile so the chosen
parameters can be checked before a job starts (``corpusflow validate``).
"""

from __future__ import annotations

from typing import Literal, cast

from pydantic import Field, field_validator, model_validator

from corpusflow.core.model import StrictModel

KeepCriterion = Literal[
    "source_priority", "central", "first_seen", "complete", "longest", "shortest", "newest", "oldest", "id_hash"
]


class ShingleProfile(StrictModel):
    """How documents of one language family are shingled and banded."""

    shingle: Literal["char", "word"] = Field(
        description="'char': n-grams of characters of NFKC, lower-cased text with whitespace and "
        "punctuation removed and digits folded to 0; 'word': n-grams of words of simplified text "
        "(lower-cased, accents stripped, digit runs -> 0, punctuation -> space)."
    )
    n: int = Field(5, ge=1, le=64, description="Shingle length in characters or words.")
    bands: int = Field(ge=1, le=512, description="LSH bands b (a pair is a candidate if one band matches).")
    rows: int = Field(ge=1, le=64, description="Rows (minhash values) per band r.")
    num_perm: int | None = Field(
        None, description="Permutations; default bands*rows. May be larger (unused values are "
        "still used by verification and similarity), never smaller."
    )

    @model_validator(mode="after")
    def _check_perm(self) -> ShingleProfile:
        if self.num_perm is not None and self.num_perm < self.bands * self.rows:
            raise ValueError(f"num_perm={self.num_perm} < bands*rows={self.bands * self.rows}")
        return self

    @property
    def perms(self) -> int:
        return self.num_perm if self.num_perm is not None else self.bands * self.rows

    @property
    def threshold(self) -> float:
        """The approximate Jaccard where the S-curve is steepest: (1/b)^(1/r)."""
        return (1.0 / self.bands) ** (1.0 / self.rows)


def _default_profiles() -> dict[str, ShingleProfile]:
    return {
        "ja": ShingleProfile(shingle="char", n=5, bands=20, rows=10),
        "en": ShingleProfile(shingle="char", n=5, bands=20, rows=10),
    }


# Languages written without spaces between words: word shingles would be whole sentences.
_SPACELESS = ["zh", "th", "lo", "km", "my", "bo", "wuu", "yue"]


# ``keep: NAME`` in a config is shorthand for ``keep: {order: KEEP_PRESETS[NAME]}``.
KEEP_PRESETS: dict[str, list[str]] = {
    # the most complete member: a truncated copy or a page with a paragraph dropped loses to the
    # full text; lengths within ~5 % count as equal, so a copy a few characters longer through
    # typos or a "Back to top" line does not beat the original: then source priority, then the
    # medoid of the cluster, then the earliest in the input, then the keyed id hash
    "complete": ["complete", "source_priority", "central", "first_seen", "id_hash"],
    # strictly the longest text, then the higher sources[].priority, then the keyed id hash
    "longest": ["longest", "source_priority", "id_hash"],
    # the preferred source first, then the most complete member of it
    "priority": ["source_priority", "complete", "central", "first_seen", "id_hash"],
    # the earliest in the input (datatrove / text-dedup / doubri)
    "first": ["first_seen", "id_hash"],
    # the medoid of the cluster (the text its members share most; the previous default)
    "central": ["source_priority", "central", "first_seen", "id_hash"],
}


class KeepRuleConfig(StrictModel):
    """Which member of a duplicate cluster is kept: the minimum of a priority tuple.

    Criteria are applied in order; ``id_hash`` (a keyed xxh3 of the id) is always appended as the
    final tie-break, so the choice never depends on input order or runner. Default
    (``complete``): the most complete member — the longest, lengths within about 5 % counting
    as equal (:func:`corpusflow.dedup.keep.length_bucket`) — then ``source_priority``, then
    ``central``, then ``first_seen``, then ``id_hash``. So a truncated copy (or one with a
    paragraph dropped) is never kept instead of the full original, and a copy that is only a
    few characters longer (typos, an added "Back to top") does not win on length. A config may
    name a preset instead of an order: ``keep: complete | longest | priority | first | central``
    (:data:`KEEP_PRESETS`); ``longest`` is the strict version (longest, then priority, then id).
    """

    order: list[KeepCriterion] = Field(
        default_factory=lambda: cast(list[KeepCriterion], list(KEEP_PRESETS["complete"])),
        min_length=1,
        description="source_priority: higher sources[].priority wins; complete: the longest, "
        "lengths within ~5% counting as equal; central: the member most "
        "similar to the rest of its cluster (sum over the other input documents of equal MinHash "
        "values: the medoid, so a copy with an added header or a truncation is not preferred to "
        "the text they share); first_seen: earliest in the input (file path order, then line), "
        "the rule of datatrove / text-dedup / doubri; longest/shortest: text length in "
        "characters; newest/oldest: the date in meta[date_field] (documents without a parsable "
        "date lose); id_hash: stable hash of the id.",
    )
    date_field: str = Field("date", description="Metadata field holding an ISO-8601 date.")

    @field_validator("order")
    @classmethod
    def _check_order(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("criteria must not repeat")
        if len({"complete", "longest", "shortest"} & set(v)) > 1 or {"newest", "oldest"} <= set(v):
            raise ValueError("complete/longest/shortest and newest/oldest are mutually exclusive")
        if len([c for c in v if c != "id_hash"]) > 4:
            raise ValueError("at most 4 criteria besides id_hash")
        return v


class DedupStageConfig(StrictModel):
    enabled: bool = Field(False, description="Run exact + MinHash near-duplicate removal.")
    exact: bool = Field(True, description="Exact dedup on xxh3-128 of the (normalised) text first.")
    minhash: bool = Field(True, description="MinHash-LSH near-duplicate removal.")
    seed: int | None = Field(
        None, ge=0, description="Seed of the permutations and id hashes; default: the pipeline seed."
    )
    scope: Literal["global", "per_source"] = Field(
        "global", description="Deduplicate across all sources, or only within each source."
    )
    profiles: dict[str, ShingleProfile] = Field(
        default_factory=_default_profiles,
        description="Shingling + banding profiles by name (a profile named like a language is "
        "used for that language).",
    )
    profile_of: dict[str, str] = Field(
        default_factory=lambda: dict.fromkeys(_SPACELESS, "ja"),
        description="Language -> profile name for languages without a profile of their own.",
    )
    default_profile: str = Field("en", description="Profile for any other (or unknown) language.")
    verify_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="If set, candidate edges whose signature-estimated Jaccard is below this are "
        "dropped before clustering (off by default, as in datatrove/FineWeb).",
    )
    clustering: Literal["union_find", "star"] = Field(
        "union_find",
        description="'union_find': exact connected components in one bounded-memory CombineFn "
        "(memory ~ 16 B per duplicate node); 'star': alternating large-star/small-star rounds "
        "(Kiveris et al. 2014) over sharded edge lists, for graphs past one worker's memory. "
        "Both give the same clusters.",
    )
    star_rounds: int = Field(
        8, ge=1, le=64, description="Large-star/small-star rounds built into the graph; the job "
        "fails loudly if the components have not converged after them.",
    )
    routing: Literal["auto", "side_input", "join"] = Field(
        "auto",
        description="How documents reach kept/duplicates. 'side_input': every worker holds the exact-copy "
        "groups and the verdicts of near-duplicate cluster members as in-memory tables (~370 B per "
        "duplicate, 83 B per input document measured at 100k: docs/scaling.md §1.3) and documents are never "
        "shuffled; 'join': no table at all, "
        "documents are joined with their fate by id hash (CoGroupByKey: every document is shuffled once, "
        "a worker holds one key's records at a time); 'auto': side_input on the local runner "
        "(DirectRunner/FnApiRunner), join on every other runner. Same outputs either way.",
    )
    shards: int = Field(
        32, ge=1, le=65536, description="Shards of the sort-based band grouping and the "
        "clustering (each holds ~N*b/shards band pairs of 16 B)."
    )
    keep: KeepRuleConfig = Field(
        default_factory=KeepRuleConfig,
        description="Which member of a cluster is kept: a preset name (complete | longest | priority "
        "| first | central) or {order: [...]} (KeepRuleConfig). Default complete: the longest "
        "(within ~5%), then source priority, then the medoid, then first seen, then id hash.",
    )

    # incremental dedup against earlier runs (corpusflow/dedup/index.py)
    save_index: bool = Field(
        False, description="Write OUTPUT/dedup_index/ (Parquet: id, digest, MinHash signature of every kept "
        "document) so that a later run can deduplicate against this one.")
    earlier_indexes: list[str] = Field(
        default_factory=list, description="dedup_index/ directories of earlier runs (local or URL): documents "
        "duplicating a document kept there become Duplicates (stage dedup.earlier, kept_id RUN::ID).")
    earlier_min_similarity: float = Field(
        0.7, ge=0.0, le=1.0, description="Estimated Jaccard a band candidate from an earlier index needs to "
        "count as a near duplicate (exact copies always count).")

    @field_validator("keep", mode="before")
    @classmethod
    def _keep_preset(cls, v: object) -> object:
        if isinstance(v, str):
            if v not in KEEP_PRESETS:
                raise ValueError(f"unknown keep preset {v!r}; presets: {', '.join(KEEP_PRESETS)} "
                                 "(or give {order: [...]})")
            return {"order": list(KEEP_PRESETS[v])}
        return v

    @model_validator(mode="after")
    def _check_profiles(self) -> DedupStageConfig:
        if self.default_profile not in self.profiles:
            raise ValueError(f"default_profile {self.default_profile!r} is not in profiles {sorted(self.profiles)}")
        for lang, name in self.profile_of.items():
            if name not in self.profiles:
                raise ValueError(f"profile_of.{lang}: {name!r} is not in profiles {sorted(self.profiles)}")
        return self

    def profile_name(self, lang: str | None) -> str:
        """The profile used for documents of language ``lang``."""
        if lang and lang in self.profiles:
            return lang
        if lang and lang in self.profile_of:
            return self.profile_of[lang]
        return self.default_profile


def s_curve(s: float, bands: int, rows: int) -> float:
    """Probability that a pair with Jaccard ``s`` shares at least one band: 1 - (1 - s^r)^b."""
    return 1.0 - (1.0 - s**rows) ** bands


def describe_lsh(cfg: DedupStageConfig) -> str:
    """A table of the LSH S-curve of every profile, for ``corpusflow validate``."""
    points = (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    lines = []
    if not cfg.minhash:
        return "dedup: MinHash near-dup disabled" + (" (exact only)" if cfg.exact else "")
    used = sorted({cfg.default_profile, *cfg.profile_of.values(), *cfg.profiles})
    head = "  P(candidate | Jaccard s):  " + " ".join(f"{s:>6.2f}" for s in points)
    lines.append(
        f"dedup: exact={'on' if cfg.exact else 'off'} minhash=on scope={cfg.scope} "
        f"clustering={cfg.clustering} verify={cfg.verify_threshold if cfg.verify_threshold is not None else 'off'}"
    )
    for name in used:
        p = cfg.profiles[name]
        langs = [lang for lang, prof in sorted(cfg.profile_of.items()) if prof == name]
        extra = f" (also {', '.join(langs)})" if langs else ""
        if name == cfg.default_profile:
            extra += " (default)"
        lines.append(
            f"  profile {name}{extra}: {p.shingle} {p.n}-grams, {p.bands} bands x {p.rows} rows, "
            f"num_perm={p.perms}, threshold (1/b)^(1/r)={p.threshold:.3f}"
        )
    lines.append(f"  keep: {' > '.join(cfg.keep.order)}")
    lines.append(head)
    for name in used:
        p = cfg.profiles[name]
        row = " ".join(f"{s_curve(s, p.bands, p.rows):>6.3f}" for s in points)
        lines.append(f"  {name:<26}  {row}")
    return "\n".join(lines)
