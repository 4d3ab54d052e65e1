"""Config models of decontamination: the benchmark files to index, and the stage's actions.

Two places use them:

* ``corpusflow decontam-index SPEC.yaml --output DIR`` reads an :class:`IndexBuildConfig`
  (``benchmarks:`` and ``settings:``) and writes the index (:mod:`corpusflow.decontam.index`);
* a pipeline's ``stages.decontam`` (:class:`DecontamStageConfig`) names that index and says what
  happens to a document that contains a benchmark item (drop, cut the span, or tag).

Defaults and where they come from:

* English: word 13-grams, the n of GPT-3's decontamination (Brown et al. 2020, "Language Models
  are Few-Shot Learners", appendix C) and of the 13-gram overlap used since (PaLM, Llama 2's
  contamination analysis; datatrove's ``NGramsDecontFilter`` default).
* Japanese: character 30-grams on NFKC, lower-cased text with everything but letters and
  digits removed. Japanese has no spaces, so word n-grams would need a tokenizer whose
  segmentation differs between the benchmark and a web page; characters do not. 13 English
  words are ~70 characters (~5.4 per word with the space) and carry roughly the information of
  25-35 Japanese characters (a Japanese character carries ~2-3x the information of an English
  letter: ja/en bytes-per-token ratios of the LLM-jp and Llama-3 tokenizers, see
  ``corpusflow tokens``). 30 also sits where the audit in ``bench/decontam_audit.py`` found no
  false positive on clean Japanese text while edited copies of the items were still found
  (figures in ``bench/README.md``).
* Minimum length: a field shorter than one n-gram (30 characters / 13 words after
  normalisation) is never indexed, so answers, choices and short common strings never match;
  n-grams shared by more than ``max_segments_per_ngram`` different indexed texts (instructions,
  templates) are dropped from the index as boilerplate.
* A document is contaminated by an indexed text when it contains at least ``min_overlap`` of
  that text's distinct n-grams. Audits of the "any 13-gram" rule found most of its matches to be
  false positives (GPT-3 appendix C; the Llama 2 paper, section A.6, counts a sample as
  contaminated only above a token-overlap fraction), so an overlap fraction is required.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from corpusflow.core.model import StrictModel

_BENCH_RE = re.compile(r"^[a-z0-9_]+$")


class BenchmarkSpec(StrictModel):
    """One evaluation set: files, language, and which fields hold the text to look for."""

    name: str = Field(description="Benchmark key in reason codes (decontam.NAME): lower-case letters, digits, _.")
    paths: list[str] = Field(min_length=1, description="Globs of JSONL(.gz), Parquet or CSV files (local or s3://, gs://).")
    format: Literal["auto", "jsonl", "parquet", "csv"] = Field("auto", description="'auto' decides by extension.")
    lang: Literal["ja", "en"] = Field(description="Language of the items: ja = character n-grams, en = word n-grams.")
    id: str | None = Field("id", description="Field with the item id (dotted names reach into objects); "
                                             "None: the row number in its file.")
    fields: list[str] = Field(min_length=1, description="Fields to index: question, choices, context, answer... "
                                                        "List values are joined with newlines.")
    join_fields: bool = Field(False, description="Index the fields of an item as one text (e.g. an MMLU question "
                                                 "with its choices) instead of one text per field.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not _BENCH_RE.match(v):
            raise ValueError("must contain only lower-case letters, digits and '_'")
        return v


class IndexSettings(StrictModel):
    """How texts are cut into n-grams; stored in the index and used unchanged when matching."""

    ja_ngram_chars: int = Field(30, ge=8, le=200, description="Character n of Japanese items (NFKC text).")
    en_ngram_words: int = Field(13, ge=3, le=50, description="Word n of English items.")
    min_chars_ja: int = Field(30, ge=1, description="Japanese texts shorter than this (normalised characters) "
                                                    "are not indexed; at least ja_ngram_chars.")
    min_words_en: int = Field(13, ge=1, description="English texts with fewer words are not indexed; at least "
                                                    "en_ngram_words.")
    max_segments_per_ngram: int = Field(20, ge=1, description="n-grams found in more different indexed texts are "
                                                              "boilerplate and dropped from the index.")

    @model_validator(mode="after")
    def _min_lengths(self) -> IndexSettings:
        if self.min_chars_ja < self.ja_ngram_chars:
            raise ValueError(f"min_chars_ja ({self.min_chars_ja}) must be at least ja_ngram_chars "
                             f"({self.ja_ngram_chars}): a shorter text has no full n-gram")
        if self.min_words_en < self.en_ngram_words:
            raise ValueError(f"min_words_en ({self.min_words_en}) must be at least en_ngram_words "
                             f"({self.en_ngram_words})")
        return self


class IndexBuildConfig(StrictModel):
    """The file given to ``corpusflow decontam-index``."""

    benchmarks: list[BenchmarkSpec] = Field(min_length=1)
    settings: IndexSettings = Field(default_factory=IndexSettings)

    @model_validator(mode="after")
    def _unique(self) -> IndexBuildConfig:
        names = [b.name for b in self.benchmarks]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"benchmark name(s) used twice: {', '.join(dup)}")
        return self


class DecontamStageConfig(StrictModel):
    """``stages.decontam``: documents containing benchmark items (runs after the filters)."""

    enabled: bool = False
    index: str | None = Field(None, description="Directory written by 'corpusflow decontam-index' (local or URL).")
    action: Literal["drop", "cut", "tag"] = Field(
        "drop", description="drop: reject the document (decontam.BENCHMARK); cut: remove the matched spans and "
        "keep the rest if enough remains; tag: keep it, hits in metadata.decontam.")
    min_overlap: float = Field(0.2, gt=0.0, le=1.0, description="Share of an indexed text's distinct n-grams "
                                                                "a document must contain to be contaminated.")
    min_remaining_chars: int = Field(200, ge=0, description="cut: the rest is kept only with at least this many "
                                                            "non-space characters...")
    min_remaining_fraction: float = Field(0.5, ge=0.0, le=1.0, description="...and at least this share of the "
                                                                           "original characters.")
    max_hits_recorded: int = Field(5, ge=1, description="Hits written per document (largest overlap first).")
    excerpt_chars: int = Field(300, ge=0, description="Characters of the benchmark text recorded with each "
                                                      "hit (for 'corpusflow inspect').")

    @model_validator(mode="after")
    def _index_needed(self) -> DecontamStageConfig:
        if self.enabled and not self.index:
            raise ValueError("stages.decontam.index is required when the stage is enabled "
                             "(build one with 'corpusflow decontam-index')")
        return self
