"""corpusflow mix trusts only a pool that the finished run's manifest vouches for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from corpusflow.commands.mix import unmatched_source_settings, verify_pool
from corpusflow.mixture.config import MixtureStageConfig


def _run_dir(tmp_path: Path) -> tuple[Path, dict, dict]:
    run = tmp_path / "run"
    (run / "pool").mkdir(parents=True)
    data = "東京都の天気は晴れ。".encode()
    (run / "pool" / "pool-00000-of-00001.parquet").write_bytes(data)
    rec = {"file": "pool-00000-of-00001.parquet", "rows": 1, "bytes": len(data),
           "sha256": hashlib.sha256(data).hexdigest()}
    meta = {"files": [rec], "sources": ["ja_wiki", "en_c4"]}
    manifest = {"status": "complete", "mixture": {"pool": {"files": [rec]}}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run, meta, manifest


def _tamper_bytes(run: Path, meta: dict, manifest: dict) -> dict | None:
    (run / "pool" / "pool-00000-of-00001.parquet").write_bytes("大阪府の天気は雨。".encode())
    return manifest


def _failed(run: Path, meta: dict, manifest: dict) -> dict | None:
    (run / "FAILED.json").write_text("{}")
    return {**manifest, "status": "failed"}


def _unfinished(run: Path, meta: dict, manifest: dict) -> dict | None:
    (run / "manifest.json").unlink()
    (run / "_IN_PROGRESS").write_text("{}")
    return None


def _extra_file(run: Path, meta: dict, manifest: dict) -> dict | None:
    meta["files"] = [*meta["files"], {"file": "pool-extra.parquet", "rows": 9}]
    (run / "pool" / "pool-extra.parquet").write_bytes(b"x")
    return manifest


def _missing(run: Path, meta: dict, manifest: dict) -> dict | None:
    (run / "pool" / "pool-00000-of-00001.parquet").unlink()
    return manifest


def _shortfall(run: Path, meta: dict, manifest: dict) -> dict | None:
    (run / "manifest.json").unlink()
    failed = {**manifest, "status": "failed", "pool_usable": True}
    (run / "FAILED.json").write_text(json.dumps(failed))
    return failed


@pytest.mark.parametrize(("change", "expect"), [
    (_shortfall, []),  # only the mixture fell short: the complete pool may be re-mixed
    (lambda run, meta, manifest: manifest, []),
    (_tamper_bytes, ["sha256", "changed after the run"]),
    (_failed, ["status is 'failed'", "FAILED.json"]),
    (_unfinished, ["did not finish", "_IN_PROGRESS"]),
    (_extra_file, ["other files than the manifest"]),
    (_missing, ["missing"]),
])
def test_verify_pool(tmp_path: Path, change, expect: list[str]) -> None:
    run, meta, manifest = _run_dir(tmp_path)
    manifest_now = change(run, meta, manifest)
    problems = verify_pool(str(run / "pool"), meta, manifest_now)
    text = "\n".join(problems)
    assert bool(problems) == bool(expect), problems
    for word in expect:
        assert word in text, text


def test_per_source_settings_that_match_no_pool_source_are_named(tmp_path: Path) -> None:
    mix = MixtureStageConfig.model_validate({"enabled": True, "groups": {"ja": 0.8, "en": 0.2},
                                             "sources": {"ja_wiki": {"multiplier": 2}, "ja_wikii": {"multiplier": 3}}})
    msgs = unmatched_source_settings(mix, str(tmp_path), {"sources": ["ja_wiki", "en_c4"]})
    assert len(msgs) == 1 and "ja_wikii" in msgs[0]
