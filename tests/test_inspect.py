"""``corpusflow inspect``: deterministic samples of a real run, signals, terminal layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpusflow.core.hashing import stable_hash64
from corpusflow.report.samples import deciding_signals
from corpusflow.report.terminal import display_width, render_sample, truncate, wrap
from tests.helpers import fixture, read_parquet_rows, run_cli
from tests.test_report import real_run  # noqa: F401  (session fixture: one real run for both modules)


def _inspect(capsys, *argv) -> tuple[int, str, str]:
    code = run_cli("inspect", *argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _shown_ids(out: str) -> list[str]:
    """Ids in ``id  ...`` lines (both columns when a duplicate is shown beside its kept document)."""
    ids = []
    for ln in out.splitlines():
        for part in ln.split(" │ "):
            if part.startswith("id "):
                ids.append(part.split()[1])
    return ids


def test_lists_every_reason_with_its_count(real_run: Path, capsys) -> None:  # noqa: F811
    code, out, _ = _inspect(capsys, real_run)
    assert code == 0
    rej = read_parquet_rows(real_run / "rejected" / "*.parquet")
    for reason in {r["reason"] for r in rej}:
        n = sum(r["reason"] == reason for r in rej)
        line = next(ln for ln in out.splitlines() if f" {reason} " in ln)
        assert f" {n:,} " in line, line
    dups = read_parquet_rows(real_run / "duplicates" / "*.parquet")
    assert f"duplicates: {len(dups):,}" in out and "errors: 1 (JSONDecodeError 1)" in out


def test_sample_is_the_keyed_hash_order(real_run: Path, capsys) -> None:  # noqa: F811
    rej = [r for r in read_parquet_rows(real_run / "rejected" / "*.parquet") if r["reason"] == "langid.other_language"]
    assert len(rej) > 5
    expected = [r["id"] for r in sorted(rej, key=lambda r: stable_hash64("corpusflow.inspect", r["source"], r["id"]))]
    code, out3, _ = _inspect(capsys, real_run, "--reason", "langid.other_language", "--n", "3", "--width", "100")
    assert code == 0
    assert out3.startswith(f"langid.other_language: {len(rej)} document(s); showing 3")
    assert _shown_ids(out3) == expected[:3]
    _, again, _ = _inspect(capsys, real_run, "--reason", "langid.other_language", "--n", "3", "--width", "100")
    assert again == out3  # deterministic
    _, out5, _ = _inspect(capsys, real_run, "--reason", "langid.other_language", "--n", "5", "--width", "100")
    assert _shown_ids(out5) == expected[:5]  # --n 5 extends --n 3
    _, other_seed, _ = _inspect(capsys, real_run, "--reason", "langid.other_language", "--n", "3", "--seed", "9")
    assert _shown_ids(other_seed) != expected[:3]
    # every field a reader needs, and the text, truncated
    for label in ("id ", "source ", "where ", "reason ", "signals ", "│ "):
        assert any(ln.startswith(label) for ln in out3.splitlines()), label
    assert "lang " in out3 and "(stage langid)" in out3


def test_source_filter_glob_and_detail(real_run: Path, capsys) -> None:  # noqa: F811
    code, out, _ = _inspect(capsys, real_run, "--reason", "langid.*", "--source", "web", "--n", "50")
    assert code == 0
    lines = [ln for ln in out.splitlines() if ln.startswith("source ")]
    assert lines and all(ln.split()[1] == "web" for ln in lines)
    rej = read_parquet_rows(real_run / "rejected" / "*.parquet")
    n_web = sum(r["source"] == "web" and r["reason"].startswith("langid.") for r in rej)
    assert f"document(s); showing {min(n_web, 50)}" in out
    _, out, _ = _inspect(capsys, real_run, "--reason", "input.too_long", "--n", "1")
    assert '"max_doc_chars": 12000' in out  # the detail that decided it


def test_unknown_reason_lists_known_ones(real_run: Path, capsys) -> None:  # noqa: F811
    code, _, err = _inspect(capsys, real_run, "--reason", "ja.hiragana_fraction.too_low")
    assert code == 2 and "langid.low_score" in err
    code, _, err = _inspect(capsys, real_run.parent)
    assert code == 2 and "manifest.json" in err


@pytest.mark.parametrize("width", [120, 80])
def test_duplicates_next_to_the_kept_document(real_run: Path, capsys, width: int) -> None:  # noqa: F811
    code, out, _ = _inspect(capsys, real_run, "--duplicates", "--n", "3", "--width", str(width))
    assert code == 0
    assert out.count("KEPT INSTEAD") == 3 and "not found" not in out
    dups = {r["id"]: r for r in read_parquet_rows(real_run / "duplicates" / "*.parquet")}
    kept = {r["id"] for r in read_parquet_rows(real_run / "data" / "*.parquet")}
    ids = _shown_ids(out)
    removed = [i for i in ids if i in dups]
    assert len(removed) == 3
    for i in removed:
        assert dups[i]["kept_id"] in ids and dups[i]["kept_id"] in kept  # the kept one, shown beside it
    assert max(display_width(ln) for ln in out.splitlines()) <= width


@pytest.mark.parametrize(
    "signals, reason, detail, expected",
    [
        ({"ja.hiragana_fraction": 0.04, "ja.kuten_ratio": 0.01}, "ja.hiragana_fraction.too_low", "",
         ["ja.hiragana_fraction"]),
        ({"en.gopher_repetition.top_2gram": 0.3, "en.gopher_repetition.dup_lines": 0.5, "en.words": 120},
         "en.gopher_repetition.top_2gram_too_high", "", ["en.gopher_repetition.dup_lines",
                                                         "en.gopher_repetition.top_2gram"]),
        ({"ngword.adult": 4, "ja.hiragana_fraction": 0.4}, "ngword.adult.too_many", "", ["ngword.adult"]),
        # the filter stage names the deciding signal in detail: that one wins
        ({"ja.hiragana_fraction": 0.04, "ja.hiragana_fraction.lines": 3.0}, "ja.hiragana_fraction.too_low",
         '{"rule":"ja.hiragana_fraction","signal":"ja.hiragana_fraction","value":0.04,"op":"<","limit":0.2}',
         ["ja.hiragana_fraction"]),
        ({"a": 1.0}, "langid.low_score", "not json", []),
        ({}, "normalize.empty", "", []),
    ],
)
def test_deciding_signals(signals, reason, detail, expected) -> None:
    assert deciding_signals(signals, reason, detail) == expected


@pytest.mark.parametrize(
    "text, width",
    [
        ("吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で泣いていた事だけは記憶している。", 20),
        ("The quick brown fox jumps over the lazy dog, and then the dog sleeps in the warm afternoon sun.", 24),
        ("React のコンポーネントは JSX を返す JavaScript の関数です。props を受け取り、画面に表示する内容を返します。", 30),
        ("averyveryverylongwordwithoutanyspacesthatmustbebrokenanywhere", 16),
    ],
)
def test_wrap_respects_display_width_and_keeps_text(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert all(display_width(ln) <= width for ln in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert len(lines) >= display_width(text) // width


def test_deciding_signal_of_real_filter_verdicts() -> None:
    """The real ja_web chain on real mC4-ja 'bad' snippets: the marked signal is the verdict's own."""
    from corpusflow.filters.profiles import build_chain
    from corpusflow.report.samples import format_detail
    from tests.conftest import read_jsonl

    chain = build_chain("ja_web", lang="ja").setup()
    seen = 0
    for rec in read_jsonl(fixture("ja/mc4ja_quality_labels.dev.jsonl"), limit=200):
        res = chain.run(rec["text"])
        if not res.failures:
            continue
        v = res.failures[0]
        assert deciding_signals(dict(res.signals), v.reason, v.detail()) == [v.signal]
        assert v.signal in res.signals and format_detail(v.detail()).startswith(f"{v.signal} = ")
        seen += 1
    assert seen > 20


def test_truncate_counts_what_was_cut() -> None:
    text = "一行目\n\n\n\n二行目\n" + "あ" * 500
    shown, cut = truncate(text, max_chars=100, max_lines=3)
    assert shown.startswith("一行目\n\n二行目")  # blank runs collapsed
    assert len(shown) <= 100 and cut == len(text.strip()) - len(shown)


def test_render_marks_the_deciding_signal() -> None:
    from corpusflow.report.samples import Sample

    row = {"id": "x1", "text": "ほげ" * 200, "source": "ja_cc", "lang": "ja", "lang_score": 0.99, "n_chars": 400,
           "stage": "filters", "reason": "ja.hiragana_fraction.too_low", "detail": "0.04 < 0.2", "file": "f.jsonl",
           "line": 3}
    s = Sample(row=row, kind="rejected", signals={"ja.hiragana_fraction": 0.04, "ja.kuten_ratio": 0.0},
               deciding=["ja.hiragana_fraction"])
    out = render_sample(1, 1, s, width=70, max_chars=100, max_lines=3)
    assert "ja.hiragana_fraction=0.04 ◀" in out
    assert "ja.kuten_ratio=0" in out and "ja.kuten_ratio=0 ◀" not in out
    assert "(+300 more chars)" in out
    assert max(display_width(ln) for ln in out.splitlines()) <= 70


def test_kept_samples_come_from_the_kept_documents(real_run: Path, capsys) -> None:  # noqa: F811
    kept = [r for r in read_parquet_rows(real_run / "data" / "*.parquet") if r["lang"] == "ja"]
    assert len(kept) > 3
    expected = [r["id"] for r in sorted(kept, key=lambda r: stable_hash64("corpusflow.inspect", r["source"], r["id"]))]
    code, out, _ = _inspect(capsys, real_run, "--kept", "--lang", "ja", "--n", "3", "--width", "100")
    assert code == 0
    assert out.startswith(f"kept (from data/) lang=ja: {len(kept)} document(s); showing 3")
    assert _shown_ids(out) == expected[:3]
    assert "· kept " in out and "· duplicate" not in out
    html = (real_run / "report" / "index.html").read_text(encoding="utf-8")
    assert "Examples of kept documents" in html
    assert all(i in html for i in expected[:2])  # the report shows the same first two per language
