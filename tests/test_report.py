"""``corpusflow report``: figures' data checked against a real run, the HTML page, headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED, SHARED_DATA, read_jsonl, write_jsonl
from tests.helpers import fixture, load_manifest, read_parquet_rows, run_cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write_sources(d: Path) -> list[str]:
    """Real text: a make_corpus web sample (near-duplicate clusters, noise pages), mC4-ja labelled
    snippets (some repeated verbatim), raw multilingual Common Crawl; plus one cut JSONL line."""
    subprocess.run([sys.executable, str(SHARED / "bench" / "make_corpus.py"), "--out", str(d / "mc"),
                    "--docs", "150", "--seed", "5", "--ja", str(SHARED_DATA / "ja" / "abeja_cc_ja.jsonl"),
                    "--ja", str(SHARED_DATA / "ja" / "kwdlc_leads.jsonl"),
                    "--en", str(SHARED_DATA / "en" / "c4_sample.jsonl.gz")], check=True, capture_output=True, timeout=120)
    mc4 = read_jsonl(SHARED_DATA / "ja" / "mc4ja_quality_labels.dev.jsonl", limit=300)
    write_jsonl(d / "mc4.jsonl", mc4)
    raw = (d / "mc4.jsonl").read_text(encoding="utf-8")
    (d / "mc4.jsonl").write_text(raw + raw.splitlines()[7][:60] + "\n", encoding="utf-8")  # a cut record
    write_jsonl(d / "cc.jsonl.gz", read_jsonl(SHARED_DATA / "en" / "cc_main_raw_multilingual.jsonl.gz", limit=150),
                compress="gz")
    return [
        f"  - {{name: web, paths: ['{d / 'mc' / 'web' / '*.jsonl.gz'}'], fields: {{text: text, id: id, url: url}}}}",
        f"  - {{name: ja_mc4, paths: ['{d / 'mc4.jsonl'}'], fields: {{text: text, id: null, meta: [label]}}, lang: ja}}",
        f"  - {{name: en_cc_raw, paths: ['{d / 'cc.jsonl.gz'}'], fields: {{text: text, id: id, url: metadata.url}}, "
        "lang: en}",
    ]


_RUNS: dict[str, Path] = {}  # built once per session, whichever module asks first (test_inspect too)


@pytest.fixture(scope="session")
def real_run(tmp_path_factory, shared_data: Path) -> Path:
    """One real run (read -> normalize -> langid -> dedup) over ../shared data (make_corpus), with a report."""
    if "run" not in _RUNS:
        _RUNS["run"] = _build_real_run(tmp_path_factory.mktemp("report_run"))
    return _RUNS["run"]


def _build_real_run(d: Path) -> Path:
    cfg = d / "cfg.yaml"
    cfg.write_text("name: report-test\nseed: 11\nsources:\n" + "\n".join(_write_sources(d)) + "\n"
                   "stages:\n  langid: {languages: [ja, en], min_score: 0.5, min_score_by_lang: {en: 0.65}}\n"
                   "  dedup: {enabled: true}\n"
                   "output: {shard_max_bytes: 150000}\nlimits: {max_doc_chars: 12000}\n", encoding="utf-8")
    out = d / "out"
    assert run_cli("run", cfg, "--output", out, "--progress", "off") == 0
    assert run_cli("report", out) == 0
    return out


@pytest.fixture(scope="session")
def report_data(real_run: Path) -> dict:
    return json.loads((real_run / "report" / "report.json").read_text(encoding="utf-8"))


def test_funnel_matches_manifest_and_parquet(real_run: Path, report_data: dict) -> None:
    m = load_manifest(real_run)
    f = report_data["funnel"]
    total = m["counts"]["total"]
    assert f["input"]["docs"] == total["input"] and f["kept"]["docs"] == total["kept"]
    assert sum(s["docs"] for s in f["steps"]) == total["input"] - total["kept"]
    # every reason / duplicate stage / error class of the manifest is one step, with its count
    expected = {}
    for st in m["stages"]:
        for v in st["by_source"].values():
            for r, n in v["rejected"].items():
                expected[(st["stage"], r)] = expected.get((st["stage"], r), 0) + n
            for c, n in v["errors"].items():
                key = (st["stage"], f"error: {c} ({st['stage']})")
                expected[key] = expected.get(key, 0) + n
            if v["duplicates"]:
                key = (st["stage"], f"duplicate ({st['stage']})")
                expected[key] = expected.get(key, 0) + v["duplicates"]
    assert {(s["stage"], s["label"]): s["docs"] for s in f["steps"]} == expected
    kinds = {s["kind"] for s in f["steps"]}
    assert {"rejected", "duplicates", "errors"} <= kinds, kinds  # the run exercises every way out
    # characters: kept from data/, removed from rejected/ + duplicates/, input is their sum
    kept_rows = read_parquet_rows(real_run / "data" / "*.parquet")
    assert f["kept"]["chars"] == sum(r["n_chars"] for r in kept_rows)
    rej = read_parquet_rows(real_run / "rejected" / "*.parquet")
    for s in f["steps"]:
        if s["kind"] == "rejected":
            assert s["chars"] == sum(r["n_chars"] for r in rej if r["reason"] == s["code"] and r["stage"] == s["stage"])
    assert f["input"]["chars"] == f["kept"]["chars"] + sum(s["chars"] for s in f["steps"])
    assert f["tokens_note"] and f["kept"]["tokens"] is None  # no mixture: said, not invented
    # per source: input / kept exactly as in the manifest; per language: sums to the input
    for src, v in m["counts"]["by_source"].items():
        row = f["by_source"][src]
        assert (row["input"], row["kept"]) == (v["input"], v["kept"])
        assert row["kept"] + sum(row["removed"].values()) == v["input"]
    assert sum(v["input"] for v in f["by_lang"].values()) == total["input"]
    kept_ja = sum(v["kept_by_lang"].get("ja", 0) for v in m["counts"]["by_source"].values())
    assert f["by_lang"]["ja"]["kept"] == kept_ja


def test_volumes_per_source_and_language(real_run: Path, report_data: dict) -> None:
    m = load_manifest(real_run)
    kept = read_parquet_rows(real_run / "data" / "*.parquet")
    gone = read_parquet_rows(real_run / "rejected" / "*.parquet") + read_parquet_rows(real_run / "duplicates" / "*.parquet")
    vol = report_data["volumes"]
    for src, v in m["counts"]["by_source"].items():
        row = vol["by_source"][src]
        assert row["docs_in"] == v["input"] - v["errors"] and row["docs_kept"] == v["kept"]
        assert row["chars_kept"] == sum(r["n_chars"] for r in kept if r["source"] == src)
        assert row["chars_in"] == row["chars_kept"] + sum(r["n_chars"] for r in gone if r["source"] == src)
        assert row["tokens_kept"] is None  # no mixture, no tokens
    assert vol["by_lang"]["en"]["chars_kept"] == sum(r["n_chars"] for r in kept if r["lang"] == "en")
    assert sum(v["docs_in"] for v in vol["by_lang"].values()) == len(kept) + len(gone)


def test_languages_lengths_duplicates_shards(real_run: Path, report_data: dict) -> None:
    m = load_manifest(real_run)
    kept = read_parquet_rows(real_run / "data" / "*.parquet")
    rej = read_parquet_rows(real_run / "rejected" / "*.parquet")
    dups = read_parquet_rows(real_run / "duplicates" / "*.parquet")
    lang = report_data["languages"]
    assert lang["counts"]["en"]["kept"] == sum(r["lang"] == "en" for r in kept)
    assert lang["counts"]["en"]["rejected"] == sum(r["lang"] == "en" for r in rej)
    en = lang["score_hist"]["en"]
    assert en["threshold"] == 0.65 and lang["score_hist"]["ja"]["threshold"] == 0.5
    assert sum(en["kept"]) == sum(r["lang"] == "en" for r in kept)
    assert sum(en["kept"][:13]) == 0  # nothing below 0.65 was kept as English
    lens = report_data["lengths"]
    allp = lens["panels"]["all"]
    assert sum(allp["after"]) == len(kept) and sum(allp["before"]) == len(kept) + len(rej) + len(dups)
    assert lens["edges"][0] == 0 and lens["edges"] == sorted(lens["edges"])
    assert max(r["n_chars"] for r in kept) <= 12000  # limits.max_doc_chars: longer ones were rejected
    dup = report_data["duplicates"]
    assert dup["status"] == "ok" and dup["removed"] == m["counts"]["total"]["duplicates"] == len(dups)
    assert dup["clusters"] == len({r["kept_id"] for r in dups})
    assert sum(h["clusters"] for h in dup["size_hist"]) == dup["clusters"]
    assert sum(dup["by_source"].values()) == len(dups)
    sh = report_data["shards"]
    assert sh["unit"] is None and "no" in sh["note"]
    assert [s["rows"] for s in sh["shards"]] == [s["rows"] for s in m["outputs"]["data"]]
    assert len(sh["shards"]) > 1
    assert report_data["mixture"]["status"] == "absent"
    err = report_data["errors"]
    assert err["status"] == "ok" and err["rows"][0]["error_class"] == "JSONDecodeError"
    assert err["rows"][0]["source"] == "ja_mc4"


def test_html_is_self_contained_with_every_figure(real_run: Path) -> None:
    rep = real_run / "report"
    html = (rep / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external reference"
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    pngs = sorted(rep.glob("*.png"))
    assert len(imgs) == len(pngs) >= 8
    on_disk = {p.read_bytes() for p in pngs}
    for b64 in imgs:
        data = base64.b64decode(b64)
        assert data.startswith(PNG_MAGIC) and data in on_disk  # embedded == the PNG next to it
    for name in ("funnel.png", "by_source.png", "by_language.png", "languages.png", "language_scores.png",
                 "lengths.png", "duplicates.png", "shards.png"):
        assert (rep / name).stat().st_size > 5000, name
        assert f'href="{name}"' in html
    for sec in ("summary", "funnel", "sources", "languages", "lengths", "duplicates", "mixture", "shards",
                "errors", "examples"):
        assert f'<section id="{sec}">' in html
    assert "no mixture stage in this run" in html
    assert "langid.other_language" in html and "JSONDecodeError" in html
    assert "kept instead" in html  # duplicate examples next to the kept document


def test_sections_without_data_say_so(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=30))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: tiny\nsources:\n  - {{name: kw, paths: ['{tmp_path / 'a.jsonl'}'], "
                   "fields: {text: text, id: null}}\n", encoding="utf-8")
    assert run_cli("run", cfg, "--output", tmp_path / "o", "--progress", "off") == 0
    assert run_cli("report", tmp_path / "o", "--out", tmp_path / "r", "--no-examples") == 0
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    for msg in ("no dedup stage in this run", "no mixture stage in this run", "no malformed records"):
        assert msg in html
    assert not (tmp_path / "o" / "report").exists()  # --out honoured
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["duplicates"]["status"] == "disabled" and data["funnel"]["kept"]["docs"] == 30


def test_mixture_run_report_has_tokens_targets_and_shards(tmp_path: Path) -> None:
    """A real 80/20 JA/EN token mixture (LLM-jp v3.1 tokens): token funnel, target vs achieved, tokens per shard."""
    for name, path, n in (("kw", fixture("ja/kwdlc_leads.jsonl"), 250),
                          ("c4", fixture("en/c4_sample.jsonl.gz"), 120),
                          ("cc", fixture("en/cc_main_raw_multilingual.jsonl.gz"), 40)):
        write_jsonl(tmp_path / f"{name}.jsonl", read_jsonl(path, limit=n))
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(
        "name: report-mix\nseed: 5\nsources:\n"
        f"  - {{name: ja_kwdlc, paths: ['{tmp_path / 'kw.jsonl'}'], fields: {{text: text, id: null}}, lang: ja}}\n"
        f"  - {{name: en_c4, paths: ['{tmp_path / 'c4.jsonl'}'], fields: {{text: text, id: null}}, lang: en}}\n"
        f"  - {{name: en_cc, paths: ['{tmp_path / 'cc.jsonl'}'], fields: {{text: text, id: id}}, lang: en}}\n"
        "stages:\n  langid: {languages: [ja, en], min_score: 0.5}\n"
        "  mixture: {enabled: true, tokenizer: llm-jp-v3.1, count: {mode: exact}, unit: tokens, group_by: lang,\n"
        "            groups: {ja: 0.8, en: 0.2}, budget: all, on_shortfall: fail, shards: {num_shards: 4}}\n",
        encoding="utf-8")
    out = tmp_path / "out"
    assert run_cli("run", cfg, "--output", out, "--progress", "off") == 0
    assert run_cli("report", out, "--no-examples") == 0
    m = load_manifest(out)
    data = json.loads((out / "report" / "report.json").read_text())
    f = data["funnel"]
    pool = read_parquet_rows(out / "pool" / "*.parquet")
    assert f["kept"]["from"] == "pool" and f["kept"]["docs"] == len(pool)
    assert f["kept"]["tokens"] == sum(r["n_tokens"] for r in pool) > 0
    assert f["tokens_note"] is None
    rejected = [s for s in f["steps"] if s["kind"] == "rejected"]
    assert rejected and all(s["tokens_est"] is not None for s in rejected)  # estimated, and labelled so
    assert f["input"]["tokens_est"] == f["kept"]["tokens"] + sum(s["tokens_est"] for s in f["steps"])
    assert f["mixture"]["tokens"] == m["mixture"]["totals"]["tokens"]
    vol = data["volumes"]["by_source"]["ja_kwdlc"]
    assert vol["tokens_kept"] == sum(r["n_tokens"] for r in pool if r["source"] == "ja_kwdlc")
    assert vol["tokens_in_est"] >= vol["tokens_kept"]
    mix = data["mixture"]
    assert mix["status"] == "ok" and mix["tokenizer"] == "llm-jp-v3.1"
    for c, mc in zip(mix["cells"], m["mixture"]["cells"], strict=True):
        assert (c["target"], c["achieved"]) == (mc["target"], mc["measured_tokens"])
    shares = {g["group"]: (g["share"], g["achieved_share"]) for g in mix["groups"]}
    assert shares["ja"][0] == 0.8 and abs(shares["ja"][1] - 0.8) < 0.05
    sh = data["shards"]
    train = read_parquet_rows(out / "data" / "*.parquet")
    assert sh["unit"] == "tokens" and len(sh["shards"]) == 4
    assert sum(s["tokens"] for s in sh["shards"]) == sum(r["n_tokens"] for r in train) == m["mixture"]["totals"]["tokens"]
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "ja_kwdlc/ja" in html and "no mixture stage" not in html
    assert (out / "report" / "mixture.png").stat().st_size > 5000


def test_report_cli_errors(tmp_path: Path, capsys) -> None:
    assert run_cli("report", tmp_path) == 2
    assert "no manifest.json" in capsys.readouterr().err
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    assert run_cli("report", bad) == 2
    assert "not a corpusflow eval-filters or tokens JSON" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# Headless Chromium: the page loads offline, without console errors; a screenshot is taken
# ------------------------------------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]
CONSOLE_PROBLEM = re.compile(r"CONSOLE|Uncaught|Failed to load resource|ERR_", re.IGNORECASE)


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's 'chromium'; it could not be installed here)")
    return exe


def _screenshot(exe: str, page: Path, png: Path, profile: Path, size: str = "1280,2400") -> list[str]:
    """Load ``page`` in a fresh profile, write a screenshot; return console/resource problems."""
    proc = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
                           f"--screenshot={png}", page.as_uri()], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [ln for ln in proc.stderr.splitlines() if CONSOLE_PROBLEM.search(ln) and "dbus" not in ln]


def test_report_renders_in_headless_chromium(real_run: Path, tmp_path: Path) -> None:
    exe = _chromium()
    # control: the scan does see a console error and a missing resource when there is one
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><p>x</p><script>console.error('boom'); undefinedFunction();</script>")
    problems = _screenshot(exe, bad, tmp_path / "bad.png", tmp_path / "profile-bad")
    assert any("Uncaught ReferenceError" in p for p in problems), problems
    shot = tmp_path / "report.png"
    problems = _screenshot(exe, real_run / "report" / "index.html", shot, tmp_path / "profile")
    assert problems == []
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400)
    keep = os.environ.get("CORPUSFLOW_KEEP_SCREENSHOT")  # e.g. to look at it: a path to copy it to
    if keep:
        shutil.copyfile(shot, keep)


# ------------------------------------------------------------------------------------------------
# eval-filters and tokens JSON (formats documented in corpusflow.report.tools)
# ------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("shared_data")
def test_eval_filters_report(tmp_path: Path) -> None:
    """The real ``corpusflow eval-filters --json`` on the real labelled file, then its report."""
    from corpusflow.report.tools import eval_rows

    labels = SHARED_DATA / "ja" / "mc4ja_quality_labels.dev.jsonl"
    assert run_cli("eval-filters", "--profile", "ja_web", "--labels", labels, "--json", tmp_path / "ev.json") == 0
    rep = json.loads((tmp_path / "ev.json").read_text(encoding="utf-8"))
    assert run_cli("report", tmp_path / "ev.json") == 0
    out = tmp_path / "ev.report"
    html = (out / "index.html").read_text(encoding="utf-8")
    assert (out / "eval_rules.png").read_bytes().startswith(PNG_MAGIC)
    assert (out / "eval_profile.png").read_bytes().startswith(PNG_MAGIC)
    rows = eval_rows(rep)
    assert rows[0]["name"] == "(profile, all rules)" and len(rows) == len(rep["rules"]) + 2
    for r in rows:  # the file's 435 bad / 415 good, split into the four cells of each rule
        assert (r["tp"] + r["fn"], r["fp"] + r["tn"]) == (435, 415)
        assert r["name"] in html and f">{r['tp']:,}<" in html
    by_name = {r["name"]: r for r in rows}
    for rule in rep["rules"]:  # counts as eval-filters measured them
        assert (by_name[rule["name"]]["tp"], by_name[rule["name"]]["fp"]) == (rule["bad_dropped"], rule["good_dropped"])
    js = [r["youden_j"] for r in rows[2:]]
    assert js == sorted(js, reverse=True)  # best separators first


def test_tokens_report(tmp_path: Path) -> None:
    """The real ``corpusflow tokens --json`` (LLM-jp v3.1 and Llama-3) on real JA/EN text, then its report."""
    write_jsonl(tmp_path / "ja.jsonl", read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=300))
    write_jsonl(tmp_path / "en.jsonl", read_jsonl(fixture("en/c4_sample.jsonl.gz"), limit=100))
    assert run_cli("tokens", "-t", "llm-jp-v3.1", "-t", "llama3", tmp_path / "ja.jsonl", tmp_path / "en.jsonl",
                   "--json", tmp_path / "tok.json") == 0
    rep = json.loads((tmp_path / "tok.json").read_text(encoding="utf-8"))
    assert run_cli("report", tmp_path / "tok.json", "--out", tmp_path / "t") == 0
    html = (tmp_path / "t" / "index.html").read_text(encoding="utf-8")
    assert (tmp_path / "t" / "tokens.png").read_bytes().startswith(PNG_MAGIC)
    rows = {(r["tokenizer"], r["lang"]): r for r in rep["rows"]}
    ja_llmjp, ja_llama = rows[("llm-jp-v3.1", "ja")], rows[("llama3", "ja")]
    # LLM-jp v3 packs ~2 Japanese characters per token, Llama-3 fewer (shared/specs/mixture.md)
    assert ja_llmjp["chars"] / ja_llmjp["tokens"] > ja_llama["chars"] / ja_llama["tokens"]
    for r in rep["rows"]:
        assert f"{round(r['chars_per_token'], 3):,.4g}" in html


# ------------------------------------------------------------------------------------------------
# Figure layout: bars of one document visible on a log axis, legends clear of labels and bars
# ------------------------------------------------------------------------------------------------

# Documents per detected language of the demo run (configs/pipelines/demo.yaml): two big
# languages and many with one or two documents, the case a log axis is chosen for.
DEMO_LANGS = {"ja": (180, 119, 3), "en": (92, 40, 5), "es": (0, 7, 0), "und": (0, 3, 0), "fr": (0, 2, 0),
              "ko": (0, 1, 0), "vi": (0, 1, 0), "uk": (0, 1, 0)}
# The demo run's token mixture (cell, group, available, target, achieved): the widest bar is a
# middle row, its "100.0% of target" label is the longest text at the right end of the axis.
DEMO_CELLS = [("en_c4/en", "en", 43921, 37691, 36760), ("en_cc_raw/en", "en", 27986, 24016, 24716),
              ("ja_aozora/ja", "ja", 165024, 165024, 165024), ("ja_cc/ja", "ja", 29789, 29789, 29789),
              ("ja_wiki/ja", "ja", 22258, 44516, 44516)]


def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    return renderer


def _visible(artist, ax, renderer):
    """The part of a patch's window extent inside its axes (None when nothing is drawn)."""
    from matplotlib.transforms import Bbox

    bb = Bbox.intersection(artist.get_window_extent(renderer), ax.bbox)
    return bb if bb is not None and bb.width > 0 and bb.height > 0 else None


def _layout_problems(fig) -> list[str]:
    """Legends that cover a text (title, tick label, axis label, value label) or a drawn bar or
    histogram of any axes, and value labels that stick out of their axes."""
    renderer = _drawn(fig)
    texts = []
    for ax in fig.axes:
        texts += [*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label]
        texts += list(ax.get_xticklabels()) + list(ax.get_yticklabels())
    problems = []
    for ax in fig.axes:
        for t in ax.texts:
            bb = t.get_window_extent(renderer)
            if bb.x1 > ax.bbox.x1 + 0.5 or bb.y1 > ax.bbox.y1 + 0.5:
                problems.append(f"label {t.get_text()!r} outside its axes")
        legend = ax.get_legend()
        if legend is None:
            continue
        lb = legend.get_window_extent(renderer)
        for t in texts:
            if t.get_text() and t.get_visible() and t.get_window_extent(renderer).overlaps(lb):
                problems.append(f"legend covers label {t.get_text()!r}")
        for other in fig.axes:
            for p in other.patches:
                vis = _visible(p, other, renderer)
                if vis is not None and vis.overlaps(lb):
                    problems.append(f"legend covers a {type(p).__name__}")
    return problems


def test_language_with_one_document_has_a_visible_bar_on_the_log_axis() -> None:
    from corpusflow.report import plots

    d = {"status": "ok", "counts": {k: {"kept": a, "rejected": b, "duplicates": c}
                                    for k, (a, b, c) in DEMO_LANGS.items()}}
    fig = plots.languages_figure(d)
    renderer = _drawn(fig)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"  # 302 documents against 1
    heights: dict[int, float] = {}
    for p in ax.patches:
        vis = _visible(p, ax, renderer)
        i = round(p.get_x() + p.get_width() / 2)
        heights[i] = heights.get(i, 0.0) + (vis.height if vis is not None else 0.0)
    for i, (lang, counts) in enumerate(DEMO_LANGS.items()):
        assert heights.get(i, 0.0) >= 5, (lang, counts, heights.get(i))  # pixels, at 110 dpi
    one = heights[list(DEMO_LANGS).index("ko")]
    two = heights[list(DEMO_LANGS).index("fr")]
    assert two > one  # still a log axis: 2 documents stand taller than 1
    assert _layout_problems(fig) == []


@pytest.mark.parametrize("counts", [
    {"ja": 20412, "en": 5130, "zh": 12, "ko": 3, "de": 2},  # log axis, tall bars on the left
    {"de": 2, "ko": 3, "zh": 12, "en": 5130, "ja": 20412},  # log axis, tall bars on the right
    {"ja": 5120, "en": 4830, "zh": 5060, "ko": 4910, "de": 4990},  # linear axis, no free corner
])
def test_languages_legend_clear_of_bars_and_totals(counts: dict[str, int]) -> None:
    from corpusflow.report import plots

    d = {"status": "ok", "counts": {k: {"kept": v, "rejected": v // 9, "duplicates": v // 50}
                                    for k, v in counts.items()}}
    assert _layout_problems(plots.languages_figure(d)) == []


def test_mixture_labels_inside_and_legends_clear() -> None:
    from corpusflow.report import plots

    cells = [{"cell": c, "group": g, "available": a, "target": t, "achieved": x} for c, g, a, t, x in DEMO_CELLS]
    groups = [{"group": "ja", "share": 0.8, "achieved_share": 0.800598},
              {"group": "en", "share": 0.2, "achieved_share": 0.199402}]
    fig = plots.mixture_figure({"status": "ok", "unit": "tokens", "cells": cells, "groups": groups})
    assert _layout_problems(fig) == []


def test_real_run_figures_have_clear_legends(report_data: dict) -> None:
    from corpusflow.report import plots

    figs = {"languages": plots.languages_figure(report_data["languages"]),
            "language_scores": plots.lang_scores_figure(report_data["languages"]),
            "lengths": plots.lengths_figure(report_data["lengths"]),
            "by_source": plots.by_source_figure(report_data["funnel"], plots.Palette()),
            "duplicates": plots.duplicates_figure(report_data["duplicates"])}
    for name, fig in figs.items():
        assert _layout_problems(fig) == [], name
