"""Live progress (corpusflow.run.progress): counter -> stage table, slots, worker files, real runs."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from corpusflow.run import progress
from corpusflow.run.progress import ProgressReporter, render_block, render_line, stage_rows, stage_summary
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
        # a chain stage that counts nothing gets its numbers from its neighbours
        (
            {"read": {"in": 50}, "langid": {"kept": 40}},
            {"read": (50, 50), "normalize": (50, 50), "langid": (50, 40), "dedup": (40, 40)},
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
    rows = stage_rows({"read": {"in": 9, "error.json_decode": 2, "rejected.input.too_long": 1},
                       "mixture": {"info.docs_tokenized": 6, "info.tokens_counted": 1234}}, ["read"])
    read, mix = rows
    assert (read.rejected, read.errors, read.kept) == (1, 2, 6)
    assert read.top_reason() == ("error:json_decode", 2)
    assert not mix.in_chain and mix.other == {"docs_tokenized": 6, "tokens_counted": 1234}
    block = "\n".join(render_block(rows, 3.0, "demo"))
    assert "corpusflow · demo · 3 s · 9 read" in block and "mixture: docs_tokenized 6" in block
    line = render_line(rows, 3.0)
    assert line.startswith("progress 3 s: read 9 (3/s)") and "read: rejected 1, errors 2" in line


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
    n = len(render_block(stage_rows({"langid": {"kept": 41}}, ["read", "langid"]), 0))
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
    parts = [f"read {manifest['counts']['total']['input']:,} "]
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
