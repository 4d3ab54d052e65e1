"""Live progress (corpusflow.run.progress): counter -> stage table, slots, worker files, real runs."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from corpusflow.run import progress
from corpusflow.run.progress import (
    ProgressReporter,
    ProgressTracker,
    Snapshot,
    render_block,
    render_line,
    stage_rows,
    stage_summary,
)
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import fixture, run_cli

ORDER = ["read", "normalize", "langid", "filters", "dedup"]


@pytest.mark.parametrize(
    "counts, expected",
    [
        # finished run: read counted its records; normalize only its rejections; langid counts kept
        (
            {"read": {"in": 473, "info.files": 7}, "normalize": {"rejected.normalize.empty": 3},
             "langid": {"rejected.langid.other_language": 31, "rejected.langid.low_score": 9,
                        "kept": 430, "info.lang.ja": 300, "info.lang.en": 130}},
            {"read": (473, 473), "normalize": (473, 470), "langid": (470, 430)},
        ),
        # mid-run: read's "in" comes at the end of a file, so it is still 0; documents
        # already seen downstream prove that at least 120 + 2 + 5 were read
        (
            {"read": {"error.json_decode": 2}, "normalize": {"rejected.normalize.empty": 5},
             "langid": {"kept": 100, "info.lang.ja": 100, "rejected.langid.low_score": 20}},
            {"read": (127, 125), "normalize": (125, 120), "langid": (120, 100)},
        ),
        # a chain stage that counts nothing is bounded below by its neighbours; what a stage
        # kept is never guessed as in - removed (dedup holds documents before it routes them)
        (
            {"read": {"in": 50}, "langid": {"kept": 40}},
            {"read": (50, 40), "normalize": (40, 40), "langid": (40, 40), "filters": (40, None),
             "dedup": (None, None)},
        ),
        # dedup has received documents (hashing) but routed none yet: nothing kept so far
        (
            {"read": {"in": 20, "kept": 20}, "filters": {"in": 20, "kept": 18, "rejected.text.length.too_short": 2},
             "dedup": {"in": 18}},
            {"filters": (20, 18), "dedup": (18, None)},
        ),
        # duplicates and an explicit kept count
        (
            {"read": {"in": 10}, "dedup": {"duplicate.exact": 3, "kept": 7}},
            {"read": (10, 10), "normalize": (10, 10), "langid": (10, 10), "dedup": (10, 7)},
        ),
        # the outcome vocabulary of the real stages; info.* counters are not outcomes
        (
            {"read": {"in": 100}, "langid": {"in": 100, "kept": 90, "info.lang.ja": 90,
                                             "rejected.langid.low_score": 10},
             "filters": {"in": 90, "rejected.ja.hiragana_fraction.too_low": 30, "kept": 60,
                         "info.transformed": 12},
             "dedup": {"in": 60, "duplicate.exact": 5, "duplicate.minhash": 4, "kept": 51}},
            {"langid": (100, 90), "filters": (90, 60), "dedup": (60, 51)},
        ),
        # nothing counted yet: unknown, not zero
        ({}, {"read": (None, None), "langid": (None, None)}),
    ],
)
def test_stage_rows_derive_in_and_kept(counts, expected) -> None:
    rows = {r.stage: r for r in stage_rows(counts, ORDER)}
    for stage, (n_in, kept) in expected.items():
        assert (rows[stage].n_in, rows[stage].kept) == (n_in, kept), stage


def test_stage_rows_reasons_errors_and_other_namespaces() -> None:
    rows = stage_rows({"read": {"in": 9, "kept": 6, "error.json_decode": 2, "rejected.input.too_long": 1},
                       "mixture": {"info.docs_tokenized": 6, "info.tokens_counted": 1234}}, ["read"])
    read, mix = rows
    assert (read.rejected, read.errors, read.kept) == (1, 2, 6)
    assert read.top_reason() == ("error:json_decode", 2)
    assert not mix.in_chain and mix.other == {"docs_tokenized": 6, "tokens_counted": 1234}
    snap = Snapshot(3.0, rows, bytes_read=1500, total_bytes=6000, docs_read=9, docs_per_s=3.0, eta=9.0)
    block = "\n".join(render_block(snap, "demo"))
    assert "corpusflow · demo · 3 s · read 9 docs, 1.5 kB of 6.0 kB (25.0%), 3 docs/s, ETA 9 s" in block
    assert "mixture: docs_tokenized 6" in block
    line = render_line(snap)
    assert line.startswith("progress 3 s: read 9 docs, 1.5 kB of 6.0 kB (25.0%), 3 docs/s, ETA 9 s")
    assert "read: rejected 1, errors 2" in line


def test_stage_counters_slot_survives_pickling() -> None:
    from corpusflow.stages.base import StageCounters

    assert StageCounters("x")._progress is None  # nobody watching: no slot, nothing extra
    with ProgressReporter(["x"], mode="log", interval=3600, stream=io.StringIO()) as rep:
        c = StageCounters("x")
        c.inc("rejected.some.reason", 2)
        clone = pickle.loads(pickle.dumps(c))  # what a runner does with a DoFn
        assert clone._progress is not None and clone._progress is not c._progress
        clone.inc("rejected.some.reason")
        clone.inc("kept", 5)
        assert rep.counts() == {"x": {"rejected.some.reason": 3, "kept": 5}}
    assert progress._session is None
    assert StageCounters("x")._progress is None


def test_worker_process_writes_its_counts(tmp_path: Path) -> None:
    """A worker subprocess (another pid, ENV_DIR inherited) flushes its counts at exit."""
    d = tmp_path / "progress"
    d.mkdir()
    code = ("from corpusflow.run import progress\n"
            "s = progress.acquire('langid'); s['lang.ja'] = 7; s['rejected.langid.low_score'] = 2\n"
            "t = progress.acquire('langid'); t['lang.ja'] = 1\n")
    env = dict(os.environ, **{progress.ENV_DIR: str(d), progress.ENV_PID: "1"})
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    files = list(d.glob("worker-*.json"))
    assert len(files) == 1
    assert progress.read_worker_files(str(d)) == {"langid": {"lang.ja": 8, "rejected.langid.low_score": 2}}
    # the launcher itself (ENV_PID == its pid) never writes files
    env[progress.ENV_PID] = "self"
    out = subprocess.run([sys.executable, "-c", "import os; from corpusflow.run import progress;"
                          f"os.environ['{progress.ENV_PID}'] = str(os.getpid());"
                          "print(progress.acquire('x'))"], env=env, check=True, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "None"


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_mode_redraws_in_place_and_keeps_log_lines_above(monkeypatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    tty = _FakeTTY()
    handler = logging.StreamHandler(tty)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with ProgressReporter(["read", "langid"], stream=tty, interval=3600, title="t") as rep:
            assert rep.mode == "bar"
            slot = progress.acquire("langid")
            slot["kept"] = 41
            rep.tick()
            first = tty.getvalue()
            assert "corpusflow · t" in first and "langid" in first and "41" in first
            logging.getLogger("corpusflow.test").warning("a log line")
            slot["kept"] = 42
            rep.tick()
        out = tty.getvalue()
    finally:
        root.removeHandler(handler)
    n = len(render_block(Snapshot(0, stage_rows({"langid": {"kept": 41}}, ["read", "langid"]))))
    erase = f"\x1b[{n}F\x1b[J"
    # the block was erased before the log line was written, then drawn again below it
    assert out.index(erase) < out.index("a log line") < out.rindex("42")
    assert out.endswith(erase)  # erased at exit: the exact table from the manifest follows
    assert handler.stream is tty  # handler restored


def _small_config(tmp_path: Path, n: int = 40) -> Path:
    ja = read_jsonl(fixture("ja/mc4ja_quality_labels.dev.jsonl"), limit=n)
    en = read_jsonl(fixture("en/cc_main_raw_multilingual.jsonl.gz"), limit=n)
    write_jsonl(tmp_path / "ja.jsonl", ja)
    write_jsonl(tmp_path / "en.jsonl.gz", en, compress="gz")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "name: progress-test\nseed: 3\nsources:\n"
        f"  - {{name: ja_mc4, paths: ['{tmp_path / 'ja.jsonl'}'], fields: {{text: text, id: null}}, lang: ja}}\n"
        f"  - {{name: en_cc, paths: ['{tmp_path / 'en.jsonl.gz'}'], fields: {{text: text, id: id}}, lang: en}}\n"
        "stages:\n  langid: {languages: [ja, en], min_score: 0.5}\n",
        encoding="utf-8",
    )
    return cfg


def _final_progress(stderr: str) -> str:
    """The last progress log line (the CLI logs to stderr through logging.basicConfig)."""
    lines = [ln.split("corpusflow.run.progress: ", 1)[1] for ln in stderr.splitlines() if "corpusflow.run.progress: " in ln]
    assert lines, "no progress log lines"
    assert lines[-1].endswith("(done)")
    return lines[-1]


def _expected_line_parts(manifest: dict) -> list[str]:
    parts = [f"read {manifest['counts']['total']['input']:,} docs, "]
    for st in manifest["stages"][1:]:
        out = sum(v["out"] for v in st["by_source"].values())
        rej = sum(sum(v["rejected"].values()) for v in st["by_source"].values())
        parts.append(f"{st['stage']}: kept {out:,}" + (f", rejected {rej:,}" if rej else ""))
    return parts


def test_run_logs_progress_and_leaves_output_unchanged(tmp_path: Path, monkeypatch, capsys) -> None:
    cfg = _small_config(tmp_path)
    monkeypatch.setenv(progress.ENV_INTERVAL, "0.05")
    assert run_cli("run", cfg, "--output", tmp_path / "on", "--progress", "log") == 0
    on = json.loads((tmp_path / "on" / "manifest.json").read_text())
    captured = capsys.readouterr()
    final = _final_progress(captured.err)
    assert sum("corpusflow.run.progress: progress " in ln for ln in captured.err.splitlines()) >= 2  # periodic
    for part in _expected_line_parts(on):  # the last progress line agrees with the manifest
        assert part in final, (part, final)
    stdout = captured.out
    assert stdout.startswith("stage ") and "langid" in stdout and "TOTAL" in stdout  # final per-stage table
    assert not (tmp_path / "on" / "_work" / "progress").exists()  # worker directory removed
    assert run_cli("run", cfg, "--output", tmp_path / "off", "--progress", "off") == 0
    off = json.loads((tmp_path / "off" / "manifest.json").read_text())
    assert on["outputs"] == off["outputs"]  # same shards, same sha256: progress changes nothing
    assert on["stages"] == off["stages"]


@pytest.mark.slow
def test_multi_processing_workers_report_through_files(tmp_path: Path, monkeypatch, capsys) -> None:
    cfg = _small_config(tmp_path, n=25)
    monkeypatch.setenv(progress.ENV_INTERVAL, "0.2")
    assert run_cli("run", cfg, "--output", tmp_path / "mp", "--progress", "log",
                   "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
    m = json.loads((tmp_path / "mp" / "manifest.json").read_text())
    assert m["runner"]["mode"] == "multi_processing"
    final = _final_progress(capsys.readouterr().err)
    for part in _expected_line_parts(m):  # counted in the workers, summed from their files
        assert part in final, (part, final)
    assert not (tmp_path / "mp" / "_work" / "progress").exists()
    assert os.environ.get(progress.ENV_DIR) is None


def test_stage_summary_from_manifest() -> None:
    manifest = {"stages": [
        {"stage": "read", "by_source": {"a": {"in": 10, "out": 9, "rejected": {}, "duplicates": 0,
                                               "errors": {"json_decode": 1}}}},
        {"stage": "langid", "by_source": {"a": {"in": 9, "out": 5, "rejected": {"langid.low_score": 3,
                                                                                 "langid.empty": 1},
                                               "duplicates": 0, "errors": {}}}},
    ]}
    lines = stage_summary(manifest).splitlines()
    assert lines[0].split() == ["stage", "in", "out", "rejected", "duplicates", "errors", "top", "reasons"]
    assert lines[1].split() == ["read", "10", "9", "0", "0", "1", "error:json_decode", "1"]
    assert lines[2].split()[:6] == ["langid", "9", "5", "4", "0", "0"]
    assert lines[2].endswith("langid.low_score 3, langid.empty 1")


def test_watchable_runners() -> None:
    assert progress.watchable({"runner": "DirectRunner", "mode": "multi_processing"})
    assert progress.watchable({"runner": "PortableRunner", "environment_type": "LOOPBACK"})
    assert not progress.watchable({"runner": "PortableRunner", "environment_type": "DOCKER"})
    assert not progress.watchable({"runner": "DataflowRunner"})


# ------------------------------------------------------------------------------------------------
# ProgressTracker: ETA, clamping, monotone and consistent numbers (pure)
# ------------------------------------------------------------------------------------------------

MB = 1_000_000


def _read_counts(nbytes: int, docs: int) -> dict:
    return {"read": {"in": docs, "kept": docs, "info.bytes_read": nbytes}}


def _feed(tracker: ProgressTracker, samples: list[tuple[float, int, int]]) -> list[Snapshot]:
    return [tracker.update(t, _read_counts(b, d)) for t, b, d in samples]


@pytest.mark.parametrize(
    "total, samples, etas",
    [
        # cold start: nothing read for 1 s (kernels compiling), then 1 MB/s. The interval in
        # which reading began is no rate sample; after 3 samples the ETA is exact: 6 MB left.
        (10 * MB, [(0, 0, 0), (1, 0, 0), (2, MB, 400), (3, 2 * MB, 800), (4, 3 * MB, 1200), (5, 4 * MB, 1600)],
         [None, None, None, None, None, 6.0]),
        # the input is read: no ETA any more
        (4 * MB, [(0, 0, 0), (1, MB, 10), (2, 2 * MB, 20), (3, 3 * MB, 30), (4, 4 * MB, 40)],
         [None, None, None, None, None]),
        # unknown total (remote input): bytes and docs/s, never an ETA
        (None, [(0, 0, 0), (1, MB, 10), (2, 2 * MB, 20), (3, 3 * MB, 30), (4, 4 * MB, 40)],
         [None, None, None, None, None]),
        # empty input (0 bytes): no division by zero, no ETA
        (0, [(0, 0, 0), (1, 0, 0), (2, 0, 0)], [None, None, None]),
        # nothing read yet (a long cold start): no ETA however long
        (5 * MB, [(float(t), 0, 0) for t in range(30)], [None] * 30),
    ],
)
def test_tracker_eta(total, samples, etas) -> None:
    snaps = _feed(ProgressTracker(["read"], total), samples)
    assert [None if s.eta is None else round(s.eta, 6) for s in snaps] == etas


def test_tracker_eta_follows_a_change_of_pace_smoothly() -> None:
    """1 MB/s for 10 s, then 0.5 MB/s: the ETA moves from the fast to the slow estimate
    without jumping there in one interval (EWMA over ~10 s), and gets close within ~30 s."""
    tr = ProgressTracker(["read"], 100 * MB)
    samples = [(float(t), t * MB, t * 100) for t in range(11)]
    samples += [(10.0 + t, 10 * MB + t * MB // 2, 1000 + t * 50) for t in range(1, 41)]
    snaps = _feed(tr, samples)
    at = {s.seconds: s for s in snaps}
    assert at[10.0].eta == pytest.approx(90.0)  # 90 MB left at 1 MB/s
    left = {t: 100 * MB - (10 * MB + (t - 10) * MB // 2) for t in (11, 20, 40, 50)}
    fast, slow = (lambda t: left[t] / MB), (lambda t: left[t] / (MB / 2))
    assert fast(11) < at[11.0].eta < fast(11) * 1.2  # one slow second moves it a little
    assert fast(20) < at[20.0].eta < slow(20)
    assert at[40.0].eta == pytest.approx(slow(40), rel=0.1)
    assert at[50.0].eta == pytest.approx(slow(50), rel=0.02)
    assert at[50.0].docs_per_s == pytest.approx(50, rel=0.02)


def test_tracker_caps_bytes_and_renders_the_states() -> None:
    tr = ProgressTracker(["read", "langid"], 2 * MB)
    s = tr.update(1.0, {"read": {"in": 5, "info.bytes_read": 3 * MB}})  # counted more than the plan knew
    assert s.bytes_read == 2 * MB and s.fraction == 1.0 and s.read_seconds == 1.0
    assert "2.0 MB of 2.0 MB (100.0%), input read in 1 s (5 docs/s)" in render_line(s)
    s = ProgressTracker(["read"], 3 * MB).update(1.0, _read_counts(2 * MB - 1, 7))
    assert "(66.6%)" in render_line(s)  # rounded down: 100% only when all is read
    s = ProgressTracker(["read"], None).update(1.0, _read_counts(1234, 7))
    assert "read 7 docs, 1.2 kB (input size unknown), ETA —" in render_line(s) and s.fraction is None
    s = ProgressTracker(["read"], 0).update(1.0, {})
    assert "read 0 docs, empty input (0 bytes)" in render_line(s) and s.fraction is None
    s = ProgressTracker([], 10).update(0.5, {})  # the stage order is not known yet
    assert render_line(s).startswith("progress 0 s: read 0 docs, 0 B of 10 B (0.0%), ETA —")


def _shown(snap: Snapshot) -> dict[tuple[str, str], int | None]:
    out: dict[tuple[str, str], int | None] = {("", "bytes"): snap.bytes_read}
    for r in snap.rows:
        for f in ("n_in", "kept", "rejected", "duplicates", "errors"):
            out[(r.stage, f)] = getattr(r, f)
        for k, v in r.other.items():
            out[(r.stage, k)] = v
    return out


def _check_consistent(snap: Snapshot) -> None:
    chain = [r for r in snap.rows if r.in_chain]
    for i, r in enumerate(chain):
        if r.kept is not None or r.removed:
            assert r.n_in is not None and (r.kept or 0) + r.removed <= r.n_in, r
        if i and r.n_in is not None:
            assert chain[i - 1].kept is not None and r.n_in <= chain[i - 1].kept, (chain[i - 1], r)


def _check_monotone(prev: Snapshot | None, snap: Snapshot) -> None:
    if prev is None:
        return
    before = _shown(prev)
    for key, v in _shown(snap).items():
        if before.get(key) is not None:
            assert v is not None and v >= before[key], (key, before[key], v)


@pytest.mark.parametrize(
    "polls",
    [
        # a worker file being replaced is skipped for one poll: its counts vanish, then return
        [{"read": {"in": 100, "kept": 100}, "langid": {"in": 100, "kept": 90, "rejected.langid.low_score": 10}},
         {"read": {"in": 60, "kept": 60}, "langid": {"in": 40, "kept": 36, "rejected.langid.low_score": 4}},
         {"read": {"in": 150, "kept": 150}, "langid": {"in": 150, "kept": 135, "rejected.langid.low_score": 15}}],
        # stages publish in bursts: dedup's counts arrive before filters' (dedup kept > filters kept)
        [{"read": {"in": 500, "kept": 500}, "filters": {"in": 256, "kept": 230, "rejected.x.y": 26},
          "dedup": {"in": 400, "kept": 300, "duplicate.exact": 30}},
         {"read": {"in": 500, "kept": 500}, "filters": {"in": 500, "kept": 470, "rejected.x.y": 30},
          "dedup": {"in": 470, "kept": 420, "duplicate.exact": 50}}],
        # a stage without a kept count between stages that have them
        [{"read": {"in": 10, "kept": 10}, "normalize": {"rejected.normalize.empty": 2},
          "langid": {"in": 4, "kept": 4}},
         {"read": {"in": 10, "kept": 10}, "normalize": {"rejected.normalize.empty": 3},
          "langid": {"in": 7, "kept": 6, "rejected.langid.low_score": 1}}],
    ],
)
def test_tracker_monotone_and_consistent(polls) -> None:
    tr = ProgressTracker(["read", "normalize", "langid", "filters", "dedup"], 1000)
    prev = None
    for t, counts in enumerate(polls):
        snap = tr.update(float(t), counts)
        _check_consistent(snap)
        _check_monotone(prev, snap)
        prev = snap
    final = {r.stage: r for r in prev.rows}  # the last poll is complete and consistent: shown as counted
    for stage, c in polls[-1].items():
        if "kept" in c:
            assert final[stage].kept == c["kept"], stage


def test_tracker_fuzz_lagging_and_dropped_publications() -> None:
    """A pipeline's true cumulative counts, published per stage with random lags and dropped
    polls: every snapshot is consistent and monotone, and the last (complete) one is exact."""
    import random

    rng = random.Random(7)
    order = ["read", "normalize", "langid", "filters", "dedup"]
    truth: list[dict[str, dict[str, int]]] = []
    t = {s: {"in": 0, "kept": 0, "rej": 0} for s in order}
    nbytes = 0
    for _ in range(60):
        new = rng.randint(0, 400)
        t["read"]["in"] += new
        t["read"]["kept"] += new
        nbytes += new * 1000
        flow = new
        for s in order[1:]:
            rej = sum(rng.random() < 0.1 for _ in range(flow))
            t[s]["in"] += flow
            t[s]["rej"] += rej
            t[s]["kept"] += flow - rej
            flow -= rej
        truth.append({s: {"in": v["in"], "kept": v["kept"], "rejected.some.reason": v["rej"]} for s, v in t.items()})
        truth[-1]["read"]["info.bytes_read"] = nbytes
    tr = ProgressTracker(order, nbytes)
    prev = None
    for i in range(len(truth)):
        counts = {}
        for s in order:
            if rng.random() < 0.15:
                continue  # this stage's worker file could not be read in this poll
            counts[s] = truth[max(0, i - rng.randint(0, 5))][s]  # published some polls ago
        snap = tr.update(float(i), counts)
        _check_consistent(snap)
        _check_monotone(prev, snap)
        prev = snap
    snap = tr.update(float(len(truth)), truth[-1])
    for r in snap.rows:
        assert (r.n_in, r.kept, r.rejected) == (truth[-1][r.stage]["in"], truth[-1][r.stage]["kept"],
                                               truth[-1][r.stage]["rejected.some.reason"]), r.stage
    assert snap.fraction == 1.0


# ------------------------------------------------------------------------------------------------
# A real run: the progress lines a person reads
# ------------------------------------------------------------------------------------------------

_LINE = re.compile(r"progress ([\d.]+) s: read ([\d,]+) docs, (.+?) of (.+?) \(([\d.]+)%\)")


def _progress_lines(stderr: str) -> list[str]:
    return [ln.split("corpusflow.run.progress: ", 1)[1] for ln in stderr.splitlines()
            if "corpusflow.run.progress: progress " in ln]


def _stage_counts(line: str) -> list[tuple[str, int, int]]:
    """(stage, kept, removed) of each chain stage after the read in a log line."""
    out = []
    for part in line.split(" | ")[1:]:
        name, _, rest = part.partition(": ")
        nums = dict((k, int(v.replace(",", ""))) for k, v in re.findall(r"(\w+) ([\d,]+)", rest))
        if "kept" in nums or rest.startswith("kept -"):
            out.append((name, nums.get("kept", 0), sum(v for k, v in nums.items() if k != "kept")))
    return out


def test_real_run_progress_rises_to_100_percent_monotone(tmp_path: Path, monkeypatch, capsys) -> None:
    """Eight input files (plain and gzip) of real JA/EN text: the percentage of stored bytes
    read only rises and ends at 100.0%, the documents read only rise, and no stage shows more
    documents out than the previous one let out."""
    rows = (read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=300) + read_jsonl(fixture("en/c4_sample.jsonl.gz"))
            + read_jsonl(fixture("ja/mc4ja_quality_labels.dev.jsonl")))
    for r in rows:
        r.pop("id", None)
    paths = []
    for i in range(8):
        p = tmp_path / (f"part{i}.jsonl.gz" if i % 2 else f"part{i}.jsonl")
        write_jsonl(p, rows[i::8], compress="gz" if i % 2 else None)
        paths.append(p)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("name: progress-real\nseed: 3\nsources:\n"
                   f"  - {{name: mixed, paths: ['{tmp_path / 'part*'}'], fields: {{text: text, id: null}}}}\n"
                   "stages:\n  langid: {languages: [ja, en], min_score: 0.5}\n", encoding="utf-8")
    monkeypatch.setenv(progress.ENV_INTERVAL, "0.05")
    assert run_cli("run", cfg, "--output", tmp_path / "out", "--progress", "log") == 0
    lines = _progress_lines(capsys.readouterr().err)
    print("\n".join(lines))  # shown with -s: what a person reads
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    parsed = [_LINE.match(ln) for ln in lines]
    assert all(parsed), [ln for ln, p in zip(lines, parsed, strict=True) if not p][:2]
    pct = [float(p.group(5)) for p in parsed]
    docs = [int(p.group(2).replace(",", "")) for p in parsed]
    total = sum(os.path.getsize(p) for p in paths)
    assert {p.group(4) for p in parsed} == {progress.human_bytes(total)}
    assert pct[0] < 100.0 and pct[-1] == 100.0 and pct == sorted(pct)
    assert docs == sorted(docs) and docs[-1] == m["counts"]["total"]["input"] == len(rows)
    assert lines[-1].endswith("(done)") and "input read in" in lines[-1]
    prev_stages: dict[str, tuple[int, int]] = {}
    for ln, n_read in zip(lines, docs, strict=True):
        upstream = n_read
        for name, kept, removed in _stage_counts(ln):
            assert kept + removed <= upstream, (ln, name)
            before = prev_stages.get(name, (0, 0))
            assert kept >= before[0] and removed >= before[1], (ln, name)  # monotone
            prev_stages[name] = (kept, removed)
            upstream = kept


def test_quiet_run_prints_no_progress(tmp_path: Path, monkeypatch, capsys) -> None:
    cfg = _small_config(tmp_path, n=10)
    monkeypatch.setenv(progress.ENV_INTERVAL, "0.05")
    assert run_cli("run", cfg, "--output", tmp_path / "q", "-q") == 0
    err = capsys.readouterr().err
    assert "progress " not in err and "\r" not in err


@pytest.mark.parametrize("compress", [None, "gz"])
@pytest.mark.parametrize("parts", [1, 3, 8])
def test_byte_ranges_account_for_the_stored_size(tmp_path: Path, compress: str | None, parts: int) -> None:
    """The ranges of one file, read separately (as workers do), count stored bytes that add
    up to the file's size on disk: compressed bytes for .gz (several MB, so that the
    decompressor's position moves while lines are read), plain bytes otherwise."""
    import gzip
    import random

    from corpusflow.io.config import SourceConfig
    from corpusflow.io.readers import FileSpec, ReadStats, iter_file, plan_ranges

    rng = random.Random(5)
    data = b"".join(json.dumps({"id": f"d{i}", "text": rng.randbytes(1500).hex()}).encode() + b"\n"
                    for i in range(2500))
    path = tmp_path / ("big.jsonl" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(data, compresslevel=1, mtime=0) if compress else data)
    spec = FileSpec("s", str(path), path.name, "jsonl")
    src = SourceConfig(name="s", paths=[str(path)])
    ranges = plan_ranges([spec], parts=parts, min_bytes=1, workers=parts)
    assert len(ranges) == parts
    consumed, live = [], []
    for s, lo, hi in ranges:
        stats = ReadStats()
        seen = []
        for i, _ in enumerate(iter_file(s, src, 10_000, (lo, hi), stats)):
            if i % 200 == 0:
                seen.append(stats.consumed())
        assert seen == sorted(seen)  # grows while the range is read
        live.append(seen)
        consumed.append(stats.consumed())
    assert sum(consumed) == os.path.getsize(path)
    assert all(c > 0 for c in consumed)
    if compress and parts > 1:  # the stored position moved inside a range, not only at its end
        assert any(0 < x < c for seen, c in zip(live, consumed, strict=True) for x in seen)


def test_runner_without_live_progress_says_so(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="corpusflow.run.progress")
    ctx = progress.watch_run(str(tmp_path), lambda: ["read"], {"runner": "DataflowRunner"}, mode="log")
    with ctx:
        pass
    assert not isinstance(ctx, ProgressReporter)
    assert "no live progress on this runner (DataflowRunner)" in caplog.text
    assert not (tmp_path / "_work").exists()
