"""The ``decontam`` stage: documents that contain benchmark items are dropped, cut or tagged.

Runs after the quality filters (fused with them in one DoFn) and before dedup, so a cut text
is what dedup sees. The index is built beforehand by ``corpusflow decontam-index`` and loaded
once per worker process (:mod:`corpusflow.decontam.index`); matching and actions are in
:mod:`corpusflow.decontam.match`.

Outcomes:

* dropped (``action: drop``, or ``cut`` leaving too little): ``Rejected(stage="decontam",
  reason="decontam.<benchmark>")`` whose ``detail`` is JSON ``{"action", "outcome", "hits": [...]}``
  (benchmark, item id, field, overlap, n-grams, spans, excerpt of the benchmark text), shown
  side by side by ``corpusflow inspect OUT --reason 'decontam.*'``;
* cut / tagged: the document goes on with ``meta["decontam"]`` = the same hit records;
* every contaminated document is also counted per benchmark and outcome in the run ledger
  (``("decontam", source, "decontam", "<benchmark>|<outcome>")``), which the manifest reports
  under ``decontamination``.

Counters (Beam namespace ``decontam``): ``checked``, ``hits``, ``rejected.<reason>``,
``cut``, ``tagged``, ``errors``.
"""

from __future__ import annotations

import json
from typing import Any

from corpusflow.core.document import Document, ErrorRecord, Rejected, error_from_exception
from corpusflow.decontam.config import DecontamStageConfig
from corpusflow.decontam.index import DecontamIndex, load_index
from corpusflow.decontam.match import decide, find_hits
from corpusflow.dedup.shingle import WordHasher
from corpusflow.steps.base import DocStep, per_process

STAGE = "decontam"
#: Ledger kind of the per-benchmark counts (ignored by the conservation check).
LEDGER_KIND = "decontam"

def shared_index(path: str) -> DecontamIndex:
    """The index at ``path``, loaded once per process (every DoFn instance shares it)."""
    return per_process("decontam_index", path, load_index)


class DecontamStep(DocStep):
    """The decontamination stage on one document (see the module docstring)."""

    stage = STAGE

    def __init__(self, cfg: DecontamStageConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def setup(self) -> None:
        assert self._cfg.index is not None  # checked by the config model
        self._index = shared_index(self._cfg.index)
        self._words = WordHasher()

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        cfg = self._cfg
        self.info("checked")
        try:
            hits = find_hits(doc.text, self._index, cfg.min_overlap, self._words)
            if not hits:
                return doc
            d = decide(doc.text, hits, self._index, cfg)
        except Exception as exc:  # one bad record must not fail the job
            return error_from_exception(doc, STAGE, exc)
        self.info("hits")
        extra = self.ledger_extra
        for b in d.benchmarks:
            key = (LEDGER_KIND, doc.source, STAGE, f"{b}|{d.outcome}")
            extra[key] = extra.get(key, 0) + 1
        if d.text is None:
            detail = json.dumps({"action": cfg.action, "outcome": d.outcome, "hits": d.records},
                                ensure_ascii=False, separators=(",", ":"))
            return Rejected(doc, STAGE, d.reason, detail)
        self.info(d.outcome)
        meta: dict[str, Any] = dict(doc.meta)
        meta["decontam"] = d.records
        return doc.replace(text=d.text, meta=meta)


def summarize_decontam(ledger: dict[tuple[str, str, str, str], int]) -> dict[str, Any]:
    """Manifest section: contaminated documents per benchmark and outcome, and per source."""
    by_bench: dict[str, dict[str, int]] = {}
    by_source: dict[str, int] = {}
    for (kind, source, _stage, reason), n in ledger.items():
        if kind != LEDGER_KIND:
            continue
        bench, _, outcome = reason.partition("|")
        by_bench.setdefault(bench, {})
        by_bench[bench][outcome] = by_bench[bench].get(outcome, 0) + n
        by_source[source] = by_source.get(source, 0) + n
    return {"by_benchmark": dict(sorted(by_bench.items())), "by_source": dict(sorted(by_source.items()))}
