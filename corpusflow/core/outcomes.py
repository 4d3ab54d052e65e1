"""The one outcome vocabulary: what happened to a document at a stage.

Every document that enters a stage leaves it as exactly one of:

* ``kept``: passed on to the next stage;
* ``rejected.<reason>``: dropped with a stable reason code (``ja.hiragana_fraction.too_low``);
* ``duplicate.<kind>``: dropped as a duplicate of a kept document (``exact``, ``minhash``);
* ``error.<class>``: it could not be processed (``UnicodeDecodeError``, ``TruncatedInput``).

These names are used everywhere a document is counted: the stages' Beam counters (namespace =
stage), the live progress (:mod:`corpusflow.run.progress`) and the ledger behind the manifest
(:mod:`corpusflow.run.rundir`, keys ``(kind, source, stage, detail)``). Two more counter kinds
exist: ``in`` (documents received by a stage) and ``info.<name>`` (anything that is not an
outcome: languages seen, tokens counted, pages parsed...), so no reader has to guess what a
counter means.
"""

from __future__ import annotations

IN = "in"
KEPT = "kept"
REJECTED = "rejected"
DUPLICATE = "duplicate"
ERROR = "error"
INFO = "info"
#: The ledger's kind for the records a source provided (the left side of conservation).
INPUT = "input"
#: The read stage's ``info.bytes_read`` counter: stored bytes of the input files read so far
#: (what live progress sets against the input's total size).
BYTES_READ = "bytes_read"

OUTCOMES = (KEPT, REJECTED, DUPLICATE, ERROR)

#: A ledger key: (kind, source, stage, detail). ``detail`` is the reason code of a rejection,
#: the error class of an error, the language of a kept document, "" otherwise.
LedgerKey = tuple[str, str, str, str]


def counter(kind: str, detail: str = "") -> str:
    """The counter name of an outcome: ``kept``, ``in``, ``rejected.<reason>``, ``duplicate.<kind>``,
    ``error.<class>`` or ``info.<name>``."""
    if kind in (IN, KEPT):
        return kind
    if kind not in (REJECTED, DUPLICATE, ERROR, INFO):
        raise ValueError(f"unknown outcome kind {kind!r}")
    if not detail:
        raise ValueError(f"a {kind} counter needs a detail (reason, kind or class)")
    return f"{kind}.{detail}"


def info(name: str) -> str:
    """The counter name of a non-outcome count (``info.<name>``)."""
    return counter(INFO, name)


def parse(name: str) -> tuple[str, str]:
    """(kind, detail) of a counter name; a name outside the vocabulary is ``(info, name)``."""
    head, dot, rest = name.partition(".")
    if not dot and head in (IN, KEPT):
        return head, ""
    if dot and rest and head in (REJECTED, DUPLICATE, ERROR, INFO):
        return head, rest
    return INFO, name
