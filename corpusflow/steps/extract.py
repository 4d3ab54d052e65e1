"""Extraction step: HTML documents (from WARC responses) to their main text with trafilatura.

Only documents with ``meta["content_kind"] == "html"`` are processed; all others (JSONL,
Parquet, WET) pass through untouched. For each HTML document, in this order:

1. larger than ``max_html_bytes`` (``meta.html_bytes`` from the reader, else the UTF-8 size of
   the text) -> rejected ``extract.too_large`` without parsing;
2. with ``ja_prefilter`` on: no sign of Japanese (``<html lang>``, Content-Language, kana in the
   title; :func:`corpusflow.text.html.ja_prefilter`) -> rejected ``extract.ja_prefilter.not_japanese``;
3. trafilatura over ``timeout_s`` -> rejected ``extract.timeout`` (the worker process is killed
   and replaced; the job goes on); trafilatura raising or its worker dying -> an error record
   (stage ``extract``) with the exception class and message;
4. nothing extracted (None or only whitespace) -> rejected ``extract.empty``;
5. otherwise kept with the extracted text, ``content_kind = "text"``, ``extractor`` and, when
   found, ``title`` and ``html_lang`` added to ``meta``.

Rejected documents carry an empty text (the HTML is not copied into the rejected output);
their ``meta`` keeps the URL, WARC fields and sizes. The extraction time limit is a safety net:
with the default 10 s no page of the shared samples comes near it, so outputs do not depend on
machine speed; a page near the limit could be kept on a fast machine and rejected on a slow
one, which is why the limit is generous.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.steps.base import DocStep
from corpusflow.text.config import ExtractConfig
from corpusflow.text.html import (
    ExtractResult,
    InProcessExtractor,
    TimedExtractor,
    TrafilaturaOptions,
    html_lang,
    html_title,
    ja_prefilter,
)

STAGE = "extract"
REASON_TOO_LARGE = "extract.too_large"
REASON_TIMEOUT = "extract.timeout"
REASON_EMPTY = "extract.empty"
REASON_NOT_JAPANESE = "extract.ja_prefilter.not_japanese"
TITLE_MAX_CHARS = 300


def trafilatura_options(cfg: ExtractConfig) -> TrafilaturaOptions:
    return TrafilaturaOptions(
        include_comments=cfg.include_comments, include_tables=cfg.include_tables,
        include_links=cfg.include_links, include_images=cfg.include_images,
        favor_precision=cfg.favor_precision, favor_recall=cfg.favor_recall, fast=cfg.fast,
    )


def make_extractor(cfg: ExtractConfig) -> TimedExtractor | InProcessExtractor:
    options = trafilatura_options(cfg)
    if cfg.isolation == "inprocess":
        return InProcessExtractor(options)
    return TimedExtractor(options, cfg.timeout_s, cfg.worker_memory_mb)


def html_size(doc: Document) -> int:
    size = doc.meta.get("html_bytes")
    return int(size) if isinstance(size, int) else len(doc.text.encode("utf-8", "surrogatepass"))


class WorkerPool:
    """Extraction workers shared by the DoFn instances (threads) of one process.

    A Beam worker process may run many threads, each with its own DoFn instance; one child
    process per thread would cost memory (~70 MB each) without adding CPU. The pool creates at
    most ``size`` extractors (default: the number of CPUs) on demand; a thread borrows one per
    page and waits when all are busy. Reference-counted by ``setup()``/``teardown()``: the last
    teardown stops the workers.
    """

    def __init__(self, cfg: ExtractConfig, size: int) -> None:
        self._cfg = cfg
        self.size = max(1, size)
        self._free: queue.LifoQueue[Any] = queue.LifoQueue()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self.refs = 0

    def acquire(self) -> Any:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < self.size:
                ex = make_extractor(self._cfg)
                self._all.append(ex)
                return ex
        return self._free.get()

    def release(self, ex: Any) -> None:
        self._free.put(ex)

    def close(self) -> None:
        with self._lock:
            for ex in self._all:
                ex.close()
            self._all.clear()
            self._free = queue.LifoQueue()


_POOLS: dict[str, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def _pool_key(cfg: ExtractConfig) -> str:
    return cfg.model_dump_json()


def acquire_pool(cfg: ExtractConfig) -> WorkerPool:
    with _POOLS_LOCK:
        key = _pool_key(cfg)
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = WorkerPool(cfg, cfg.workers_per_process or os.cpu_count() or 1)
        pool.refs += 1
        return pool


def release_pool(cfg: ExtractConfig) -> None:
    with _POOLS_LOCK:
        key = _pool_key(cfg)
        pool = _POOLS.get(key)
        if pool is None:
            return
        pool.refs -= 1
        if pool.refs <= 0:
            del _POOLS[key]
            pool.close()


class ExtractStep(DocStep):
    """HTML -> main text on one document, borrowing an extraction worker from the process's pool.

    Extra counters: ``info.passthrough`` (not HTML), ``info.html``, ``info.page_ms`` (total
    extraction milliseconds).
    """

    stage = STAGE

    def __init__(self, cfg: ExtractConfig) -> None:
        super().__init__()
        self._cfg = cfg
        self._pool: WorkerPool | None = None

    def setup(self) -> None:
        self._pool = acquire_pool(self._cfg)

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool = None
            release_pool(self._cfg)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pool"] = None  # a pool holds processes: never pickled, acquired in setup()
        return state

    def _extract(self, page: str, url: str | None) -> ExtractResult:
        assert self._pool is not None
        ex = self._pool.acquire()
        try:
            return ex.extract(page, url)
        finally:
            self._pool.release(ex)

    def _reject(self, doc: Document, reason: str, detail: str, meta: dict[str, Any]) -> Rejected:
        return Rejected(doc.replace(text="", meta=meta), STAGE, reason, detail)

    def apply(self, doc: Document) -> Document | Rejected | ErrorRecord:
        if doc.meta.get("content_kind") != "html":
            self.info("passthrough")
            return doc
        cfg = self._cfg
        self.info("html")
        meta = dict(doc.meta)
        page = doc.text
        size = html_size(doc)
        if size > cfg.max_html_bytes:
            return self._reject(doc, REASON_TOO_LARGE, f"{size} bytes > {cfg.max_html_bytes}", meta)
        title = html_title(page)
        if title:
            meta["title"] = title[:TITLE_MAX_CHARS]
        lang = html_lang(page)
        if lang:
            meta["html_lang"] = lang
        if cfg.ja_prefilter:
            why = ja_prefilter(page, meta.get("content_language"))
            if why is None:
                return self._reject(doc, REASON_NOT_JAPANESE,
                                    f"html lang {lang!r}, title {(title or '')[:80]!r}", meta)
            meta["ja_prefilter"] = why
        res = self._extract(page, doc.url)
        self.info("page_ms", int(res.seconds * 1000))
        if res.status == "timeout":
            return self._reject(doc, REASON_TIMEOUT, f"over {cfg.timeout_s:g} s ({size} bytes)", meta)
        if res.status in ("error", "crash"):
            return ErrorRecord(
                source=doc.source, file=doc.file, offset=doc.line, offset_kind=_offset_kind(doc),
                stage=STAGE, error_class=res.error_class or res.status, message=res.message[:2000],
                head=page[:200], doc_id=doc.id,
            )
        text = (res.text or "").strip()
        if not text:
            return self._reject(doc, REASON_EMPTY, f"no main text in {size} bytes of HTML", meta)
        meta["content_kind"] = "text"
        meta["extractor"] = "trafilatura"
        return doc.replace(text=text, meta=meta)


def _offset_kind(doc: Document) -> str:
    return "byte" if "warc_offset" in doc.meta else "line"
