"""The filter step in DocumentStages on the FnApiRunner: kept / rejected (reason + detail) / errors, per-reason counters,
tag mode, languages without a profile."""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.filters.config import FilterStageConfig
from corpusflow.stages.chain import DocumentStages
from corpusflow.steps.filters import FilterStep
from tests.test_filters_data import abc, cc, mc4, wiki


def _docs() -> list[Document]:
    def d(i: str, text, lang: str) -> Document:
        return Document(id=i, text=text, source="test", lang=lang, file="f.jsonl", line=1)

    return [
        d("ja_good", wiki(0) + "\n" + wiki(1), "ja"),
        d("ja_menu", mc4("mc4ja-522301139132") * 3, "ja"),  # 選択して下さい北海道青森... x3
        d("ja_ads", mc4("mc4ja-895514502940"), "ja"),  # consumer-loan SEO copy (キャッシング, 即日, 審査 ...)
        d("en_good", abc(0), "en"),
        d("en_menu", cc("jf4x63zdyetfm2epeorlabpskqbrqnhd"), "en"),  # "Menu"
        d("de_doc", "Ein deutscher Text ohne Profil.", "de"),
        d("broken", None, "ja"),  # not a string: a rule raises -> error record, not a crash
    ]


def test_apply_filters_filter_mode():
    cfg = FilterStageConfig(enabled=True)
    p = beam.Pipeline(runner=FnApiRunner())
    out = p | beam.Create(_docs()) | DocumentStages([FilterStep(cfg.resolved_profiles(), cfg.mode, cfg.keep_signals)])
    assert_that(out.kept | "KeptIds" >> beam.Map(lambda d: d.id), equal_to(["ja_good", "en_good", "de_doc"]),
                label="CheckKept")
    assert_that(
        out.rejected | "Reasons" >> beam.Map(lambda r: (r.doc.id, r.stage, r.reason)),
        equal_to([
            ("ja_menu", "filters", "ja.hiragana_fraction.too_low"),
            ("ja_ads", "filters", "ja.promo_vocabulary.too_dense"),
            ("en_menu", "filters", "en.word_count.too_few"),
        ]),
        label="CheckRejected",
    )

    def check_detail(recs: list[Rejected]) -> None:
        for r in recs:
            d = json.loads(r.detail)
            assert d["rule"] and d["signal"].startswith(d["rule"]) and "value" in d and "limit" in d

    assert_that(out.rejected, check_detail, label="CheckDetail")

    def check_signals(docs: list[Document]) -> None:
        by_id = {d.id: d for d in docs}
        assert 0.2 <= by_id["ja_good"].signals["ja.hiragana_fraction"] <= 1
        assert "en.gopher_quality.stop_words" in by_id["en_good"].signals
        assert by_id["de_doc"].signals == {}

    assert_that(out.kept, check_signals, label="CheckSignals")

    def check_errors(errs: list[ErrorRecord]) -> None:
        assert len(errs) == 1
        e = errs[0]
        assert (e.stage, e.doc_id, e.file, e.offset, e.offset_kind) == ("filters", "broken", "f.jsonl", 1, "line")
        assert e.error_class == "TypeError"

    assert_that(out.errors, check_errors, label="CheckErrors")
    res = p.run()
    res.wait_until_finish()

    def counter(name: str) -> int:
        q = res.metrics().query(MetricsFilter().with_namespace("filters").with_name(name))["counters"]
        return sum(c.committed or c.attempted for c in q)

    assert counter("in") == 7
    assert counter("kept") == 3
    assert counter("rejected.ja.hiragana_fraction.too_low") == 1
    assert counter("rejected.ja.promo_vocabulary.too_dense") == 1
    assert counter("rejected.en.word_count.too_few") == 1
    assert counter("error.TypeError") == 1
    assert counter("info.unfiltered") == 1


def test_apply_filters_tag_mode_keeps_everything():
    cfg = FilterStageConfig(enabled=True, mode="tag", keep_signals=False)
    p = beam.Pipeline(runner=FnApiRunner())
    out = p | beam.Create(_docs()) | DocumentStages([FilterStep(cfg.resolved_profiles(), cfg.mode, cfg.keep_signals)])
    assert_that(
        out.kept | beam.Map(lambda d: (d.id, tuple(d.meta.get("filter_reasons", ())), bool(d.signals))),
        lambda rows: _check_tagged(rows),
    )
    assert_that(out.rejected, equal_to([]), label="NoRejected")
    p.run().wait_until_finish()


def _check_tagged(rows) -> None:
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {"ja_good", "ja_menu", "ja_ads", "en_good", "en_menu", "de_doc"}
    assert by_id["ja_good"][1] == ()
    assert "ja.hiragana_fraction.too_low" in by_id["ja_menu"][1]
    assert "ja.promo_vocabulary.too_dense" in by_id["ja_ads"][1]
    assert by_id["en_menu"][1][0] == "en.word_count.too_few"
    assert not any(r[2] for r in rows)  # keep_signals=False
