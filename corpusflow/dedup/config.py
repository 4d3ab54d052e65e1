"""Config of the dedup stage (issue #4): exact + MinHash-LSH near-duplicate removal.

Defaults and where they come from (shared/specs/dedup.md):

* ``ja``: character 5-grams on NFKC text, 20 bands x 10 rows = 200 permutations (t ~ 0.74,
  P(0.8) = 0.90, P(0.5) = 0.019): the llm-jp-corpus v4 band geometry (spec §4.4) with
  Swallow/doubri-style character shingles (spec §4.3, §8.2).
* ``en``: word 5-grams on datatrove-style simplified text, 14 bands x 8 rows = 112 permutations
  (t ~ 0.72, P(0.8) = 0.92): the datatrove / FineWeb defaults (spec §1.2), so results compare.
* Languages written without spaces (zh, th, ...) use the ``ja`` profile; every other language the
  ``en`` profile (``profile_of`` / ``default_profile``).

``describe_lsh(cfg)`` prints the S-curve P(s) = 1 - (1 - s^r)^b of each profile so the chosen
parameters can be checked before a job starts (``corpusflow validate``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from corpusflow.configbase import StrictModel

KeepCriterion = Literal[
    "source_priority", "central", "first_seen", "longest", "shortest", "newest", "oldest", "id_hash"
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
        "en": ShingleProfile(shingle="word", n=5, bands=14, rows=8),
    }


# Languages written without spaces between words: word shingles would be whole sentences.
_SPACELESS = ["zh", "th", "lo", "km", "my", "bo", "wuu", "yue"]


class KeepRuleConfig(StrictModel):
    """Which member of a duplicate cluster is kept: the minimum of a priority tuple.

    Criteria are applied in order; ``id_hash`` (a keyed xxh3 of the id) is always appended as the
    final tie-break, so the choice never depends on input order or runner.
    """

    order: list[KeepCriterion] = Field(
        default_factory=lambda: ["source_priority", "central", "first_seen", "id_hash"],
        min_length=1,
        description="source_priority: higher sources[].priority wins; central: the member most "
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
        if {"longest", "shortest"} <= set(v) or {"newest", "oldest"} <= set(v):
            raise ValueError("longest/shortest and newest/oldest are mutually exclusive")
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
        "dropped before clustering (spec §8.5: off by default, as in datatrove/FineWeb).",
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
    routing: Literal["side_input", "join"] = Field(
        "side_input",
        description="How documents reach kept/duplicates: 'side_input' holds the verdicts of "
        "duplicate-cluster members (~100 B each) in memory on every worker and never shuffles "
        "documents; 'join' shuffles every document once (CoGroupByKey on id hash).",
    )
    shards: int = Field(
        32, ge=1, le=65536, description="Shards of the sort-based band grouping and the "
        "clustering (each holds ~N*b/shards band pairs of 16 B)."
    )
    keep: KeepRuleConfig = Field(default_factory=KeepRuleConfig)
    # >>> incremental dedup against earlier runs (corpusflow/dedup/index.py) >>>
    save_index: bool = Field(
        False, description="Write OUTPUT/dedup_index/ (Parquet: id, digest, MinHash signature of every kept "
        "document) so that a later run can deduplicate against this one.")
    earlier_indexes: list[str] = Field(
        default_factory=list, description="dedup_index/ directories of earlier runs (local or URL): documents "
        "duplicating a document kept there become Duplicates (stage dedup.earlier, kept_id RUN::ID).")
    earlier_min_similarity: float = Field(
        0.7, ge=0.0, le=1.0, description="Estimated Jaccard a band candidate from an earlier index needs to "
        "count as a near duplicate (exact copies always count).")
    # <<< incremental dedup <<<

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
    lines.append(head)
    for name in used:
        p = cfg.profiles[name]
        row = " ".join(f"{s_curve(s, p.bands, p.rows):>6.3f}" for s in points)
        lines.append(f"  {name:<26}  {row}")
    return "\n".join(lines)
