"""Resumable runs (``corpusflow run ... --resume``): kill a run at a point, resume it, and compare
every output byte with an uninterrupted run.

The demo config (configs/pipelines/demo.yaml: the embedded JA/EN sample, 7 input ranges, every
stage up to the mixture) is run as a subprocess. "Kill at a point" uses the test hook of
:mod:`corpusflow.run.checkpoints` (``CORPUSFLOW_TEST_KILL_AFTER_RANGES=launcher:N|self:N``:
SIGKILL once N range markers exist), so the number of ranges done before the kill is known; one
case kills the launcher's whole process group at a time of its own (a real, timed SIGKILL).
Compared: every file of data/, pool/, rejected/, duplicates/, errors/ (not _work/), the
manifest's counts, stage table and shard list; the manifest's ``resume`` record says how many
ranges the resumed run reused and computed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusflow.run import checkpoints as ck
from corpusflow.run.interrupt import marked_processes
from tests.helpers import REPO

DEMO = "configs/pipelines/demo.yaml"
TABLES = ("data", "pool", "rejected", "duplicates", "errors")
MP = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
#: Input ranges of the demo config (its 7 sample files, each one range).
RANGES = 7


def _start(out: Path, *extra: str, env: dict[str, str] | None = None,
           mode: list[str] | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "corpusflow", "run", DEMO, "--output", str(out), "--progress", "off",
           *(mode or []), *extra]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait for the launcher, then for every worker it started (a killed launcher's workers
    follow it within about a second: run/interrupt.follow_launcher), so no marker appears later."""
    stdout, stderr = proc.communicate(timeout=600)
    deadline = time.monotonic() + 30
    while marked_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _start_until_a_marker(out: Path) -> subprocess.Popen[str]:
    """A multi_processing run, returned once its first range is checkpointed."""
    proc = _start(out, mode=MP)
    deadline = time.monotonic() + 300
    while _markers(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def _run(out: Path, *extra: str, env: dict[str, str] | None = None,
         mode: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return _finish(_start(out, *extra, env=env, mode=mode))


def _outputs(out: Path) -> dict[str, str]:
    """sha256 of every output file (relative path -> digest), ``_work/`` aside."""
    files = {}
    for table in TABLES:
        for f in sorted((out / table).glob("*")) if (out / table).is_dir() else []:
            files[f"{table}/{f.name}"] = hashlib.sha256(f.read_bytes()).hexdigest()
    return files


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def _markers(out: Path) -> int:
    d = out / "_work" / ck.CHECKPOINT_DIR
    return sum(1 for f in d.glob("*.done.json")) if d.is_dir() else 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One uninterrupted run per mode (their outputs are the same bytes, tests/test_runners.py)."""
    refs = {}
    for name, mode in (("in_memory", []), ("multi_processing", MP)):
        out = tmp_path_factory.mktemp("ref") / name
        r = _run(out, mode=mode)
        assert r.returncode == 0, r.stderr[-3000:]
        refs[name] = out
    return refs


def _assert_same(out: Path, ref: Path) -> None:
    want, got = _outputs(ref), _outputs(out)
    assert want and got == want
    m, r = _manifest(out), _manifest(ref)
    assert m["counts"] == r["counts"] and m["stages"] == r["stages"]
    assert m["outputs"] == r["outputs"]  # shard names, rows, sha256
    assert m.get("mixture") == r.get("mixture")


# (mode, hook, ranges done before the kill: exact, or at least that many when two workers race)
KILLS = [
    pytest.param("in_memory", "self:1", 1, True, id="in_memory-launcher-after-1"),
    pytest.param("in_memory", "self:5", 5, True, id="in_memory-launcher-late-in-the-read"),
    pytest.param("multi_processing", "launcher:2", 2, False, id="multi_processing-launcher-after-2"),
    pytest.param("multi_processing", "self:3", 3, False, id="multi_processing-worker-after-3"),
    pytest.param("multi_processing", "launcher:6", 6, False, id="multi_processing-launcher-late-in-the-read"),
]


@pytest.mark.parametrize(("mode", "hook", "done", "exact"), KILLS)
def test_killed_run_resumes_to_the_same_bytes(tmp_path: Path, reference: dict[str, Path], mode: str, hook: str,
                                              done: int, exact: bool) -> None:
    out = tmp_path / "out"
    flags = MP if mode == "multi_processing" else []
    killed = _run(out, mode=flags, env={ck.TEST_KILL_ENV: hook})
    assert killed.returncode != 0
    assert not (out / "manifest.json").exists()
    before = _markers(out)
    assert before == done if exact else before >= done
    # The same command without --resume refuses, and says how to continue; so does `finish`.
    again = _run(out, mode=flags)
    assert again.returncode == 2 and "--resume" in again.stderr and f"{before} of {RANGES}" in again.stderr
    fin = subprocess.run([sys.executable, "-m", "corpusflow", "finish", str(out)], cwd=REPO, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert fin.returncode == 1 and f"{before} of {RANGES} input ranges are checkpointed" in fin.stderr
    resumed = _run(out, "--resume", mode=flags)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{before} of {RANGES} input ranges are checkpointed" in resumed.stderr
    _assert_same(out, reference[mode])
    assert _manifest(out)["resume"] == {"ranges_total": RANGES, "ranges_reused": before,
                                        "ranges_computed": RANGES - before}
    assert not (out / "_work" / ck.CHECKPOINT_DIR).exists()  # removed once the manifest is written


def test_timed_sigkill_of_the_process_group(tmp_path: Path, reference: dict[str, Path]) -> None:
    """A real SIGKILL of the launcher and its workers at a moment of its own (not the hook's)."""
    out = tmp_path / "out"
    proc = _start_until_a_marker(out)
    os.killpg(proc.pid, signal.SIGKILL)
    _finish(proc)
    before = _markers(out)
    assert not (out / "manifest.json").exists() and before >= 1
    resumed = _run(out, "--resume", mode=MP)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_same(out, reference["multi_processing"])
    rec = _manifest(out)["resume"]
    assert rec["ranges_reused"] >= before and rec["ranges_reused"] + rec["ranges_computed"] == RANGES


@pytest.mark.parametrize(("change", "named"), [
    (["--set", "stages.langid.min_score=0.6"], "stages.langid changed"),
    (["--set", "limits.max_doc_chars=50000"], "limits.max_doc_chars changed (2000000 -> 50000)"),
    (["--set", "seed=7"], "seed changed"),
])
def test_changed_config_is_refused_on_resume(tmp_path: Path, change: list[str], named: str) -> None:
    out = tmp_path / "out"
    assert _run(out, env={ck.TEST_KILL_ENV: "self:2"}).returncode != 0
    files = sorted(p.name for p in (out / "_work" / ck.CHECKPOINT_DIR).iterdir())
    r = _run(out, "--resume", *change)
    assert r.returncode == 2
    assert "cannot resume" in r.stderr and named in r.stderr and "--overwrite" in r.stderr
    assert sorted(p.name for p in (out / "_work" / ck.CHECKPOINT_DIR).iterdir()) == files  # untouched


def test_changed_input_is_refused_and_settings_that_do_not_matter_are_not(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": f"Resumable runs keep their checkpoints, "
                                       f"document number {i} of a small English input."}) + "\n"
                           for i in range(40)), encoding="utf-8")
    out = tmp_path / "out"
    args = ["--input", str(src), "--set", "stages.mixture.enabled=false"]
    assert _run(out, *args, env={ck.TEST_KILL_ENV: "self:1"}).returncode != 0
    # Settings after the checkpointed work (the error-rate limit) do not refuse a resume ...
    ok = _run(tmp_path / "out", *args, "--resume", "--max-error-rate", "0.5", "--keep-checkpoints")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert (out / "_work" / ck.CHECKPOINT_DIR / ck.META_FILE).exists()  # --keep-checkpoints
    assert _manifest(out)["resume"]["ranges_reused"] == 1
    # ... a changed input file does (a run killed again, then the file grows by one record).
    out2 = tmp_path / "out2"
    assert _run(out2, *args, env={ck.TEST_KILL_ENV: "self:1"}).returncode != 0
    with src.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "new", "text": "One more record makes the file longer."}) + "\n")
    r = _run(out2, *args, "--resume")
    assert r.returncode == 2 and f"input {src} changed" in r.stderr and "size" in r.stderr


def test_resume_of_a_finished_run_or_with_overwrite_is_refused(tmp_path: Path, reference: dict[str, Path]) -> None:
    r = _run(reference["in_memory"], "--resume")
    assert r.returncode == 2 and "finished run" in r.stderr
    r = _run(tmp_path / "x", "--resume", "--overwrite")
    assert r.returncode == 2 and "choose one" in r.stderr


def test_sigterm_keeps_the_checkpoints(tmp_path: Path, reference: dict[str, Path]) -> None:
    out = tmp_path / "out"
    proc = _start_until_a_marker(out)
    proc.send_signal(signal.SIGTERM)
    r = _finish(proc)
    stderr = r.stderr
    assert r.returncode == 143, stderr[-2000:]
    assert (out / "FAILED.json").exists() and _markers(out) >= 1 and "--resume" in stderr
    resumed = _run(out, "--resume", mode=MP)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_same(out, reference["multi_processing"])
    assert not (out / "FAILED.json").exists()


def test_fingerprint_differences_name_what_changed() -> None:
    old = {"seed": 1, "stages.filters": "a", "input x.jsonl": {"size": 10, "format": "jsonl", "source": "s"}}
    new = {"seed": 2, "stages.filters": "b", "input y.jsonl": {"size": 10, "format": "jsonl", "source": "s"}}
    assert ck.differences(old, new) == ["input x.jsonl is gone", "input y.jsonl is new", "seed changed (1 -> 2)",
                                        "stages.filters changed"]
    assert ck.differences(old, old) == []


def test_repeated_ids_resume_with_the_saved_rename_map(tmp_path: Path) -> None:
    """Ids repeated within and across files are renamed before the checkpoint; the resumed run
    loads the rename map saved by the first launch (ids.json) instead of re-reading for ids, and
    writes the same bytes (renamed ids included) as an uninterrupted run."""
    import gzip

    from tests.helpers import fixture

    with gzip.open(fixture("ja/ja_wiki_paragraphs.jsonl.gz"), "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(60), f, strict=False)]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"id": f"d{i % 20}", "text": t}, ensure_ascii=False) + "\n"
                         for i, t in enumerate(texts[:40])), encoding="utf-8")
    b.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n"
                         for i, t in enumerate(texts[40:])), encoding="utf-8")
    args = ["--input", str(a), "--input", str(b), "--set", "stages.mixture.enabled=false"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert _run(ref, *args).returncode == 0
    assert _run(out, *args, env={ck.TEST_KILL_ENV: "self:1"}).returncode != 0
    saved = json.loads((out / "_work" / ck.CHECKPOINT_DIR / ck.IDS_FILE).read_text())
    assert len(saved["renames"]) == 40  # d0..d19 twice in a.jsonl (20) + d0..d19 again in b.jsonl (20)
    r = _run(out, *args, "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    _assert_same(out, ref)
    assert _manifest(out)["resume"] == {"ranges_total": 2, "ranges_reused": 1, "ranges_computed": 1}


def test_checkpointed_token_counts_are_the_pool_counts(tmp_path: Path, reference: dict[str, Path]) -> None:
    """The ranges count the mixture's tokens (exact mode) and checkpoint them with the documents;
    the mixture uses those counts instead of tokenising again: every pool row's n_tokens is its
    checkpointed count (duplicates are counted too), and the outputs are the reference's bytes."""
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    r = _run(out, "--keep-checkpoints", mode=MP)
    assert r.returncode == 0, r.stderr[-3000:]
    _assert_same(out, reference["multi_processing"])
    ckdir = out / "_work" / ck.CHECKPOINT_DIR
    counted: dict[str, int] = {}
    for marker in ckdir.glob("*.done.json"):
        entry = json.loads(marker.read_text(encoding="utf-8"))["files"].get("docs")
        if entry:
            t = pq.read_table(ckdir / entry["file"], columns=["id", "n_tokens"])
            counted.update(zip(t.column("id").to_pylist(), t.column("n_tokens").to_pylist(), strict=True))
    pool = {}
    for f in sorted((out / "pool").glob("*.parquet")):
        t = pq.read_table(f, columns=["id", "n_tokens"])
        pool.update(zip(t.column("id").to_pylist(), t.column("n_tokens").to_pylist(), strict=True))
    dups = _manifest(out)["counts"]["total"]["duplicates"]
    assert pool and dups > 0 and len(counted) == len(pool) + dups
    assert all(n > 0 for n in pool.values())
    assert {i: counted[i] for i in pool} == pool


def test_the_mixture_tokenizer_is_in_the_fingerprint() -> None:
    """The checkpoints hold token counts: another tokenizer (or add_eos) refuses a resume; the
    mixture's other settings, the tokenizer's threads and batch size, and turning the mixture off
    do not."""
    from corpusflow.config.load import load_config

    tok = {"kind": "sentencepiece", "path": "pkg:resources/tokenizers/llm-jp-v3.1/llm-jp-tokenizer-100k.ver3.1.model"}
    base = ck.fingerprint(load_config(DEMO, overrides=[f"stages.mixture.tokenizer={json.dumps(tok)}"]), [])
    for change, named in (({"add_eos": True}, ["stages.mixture tokenizer changed"]),
                          ({"threads": 2, "batch_size": 64}, [])):
        cfg = load_config(DEMO, overrides=[f"stages.mixture.tokenizer={json.dumps({**tok, **change})}",
                                           "stages.mixture.groups.ja=0.7", "stages.mixture.groups.en=0.3"])
        assert ck.differences(base, ck.fingerprint(cfg, [])) == named
    # Turning the mixture off (or on) is not refused: a range checkpointed without counts is
    # computed again when a launch needs them (its marker says whether it holds them).
    off = load_config(DEMO, overrides=[f"stages.mixture.tokenizer={json.dumps(tok)}", "stages.mixture.enabled=false"])
    assert ck.differences(base, ck.fingerprint(off, [])) == []


def test_ranges_without_token_counts_are_computed_again_when_the_mixture_needs_them(
        tmp_path: Path, reference: dict[str, Path]) -> None:
    """A first launch without the mixture checkpoints no token counts; a resume with it computes
    those ranges again (their markers say they hold none) and writes the reference's bytes."""
    out = tmp_path / "out"
    first = _run(out, "--set", "stages.mixture.enabled=false", env={ck.TEST_KILL_ENV: "self:2"})
    assert first.returncode != 0 and _markers(out) == 2
    r = _run(out, "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    _assert_same(out, reference["in_memory"])
    assert _manifest(out)["resume"] == {"ranges_total": RANGES, "ranges_reused": 0, "ranges_computed": RANGES}
