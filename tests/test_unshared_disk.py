"""A run whose SDK workers cannot see the launcher's disk, input and output on S3.

The workers are Beam's EXTERNAL worker pool (``apache_beam.runners.worker.worker_pool_main``)
started inside ``unshare -m`` with private, empty tmpfs mounts over ``/tmp`` and over pytest's
temporary directory: the launcher's temp files, config and local outputs are not there for them
(checked with ``nsenter``). The job runs on Beam's portable runner with the in-process job
service (``--job_endpoint=embed``) and those EXTERNAL workers, so every read and write of
documents happens in the other mount namespace; input and output are on moto's S3 server on
127.0.0.1 (the network namespace is shared). Models, profiles and the tokenizer are ``pkg:``
paths, resolved inside the workers' own corpusflow (this checkout, on their PYTHONPATH). The
run must end with a complete manifest whose counts match a local run over the same input.

Skipped with the reason where ``unshare -m`` is not allowed (not root, no CAP_SYS_ADMIN, not
Linux) or moto is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from corpusflow.io import filesystems as fs
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import fixture, load_manifest, run_cli
from tests.test_runners import _free_port, _stop, _wait_for_port
from tests.test_s3 import BUCKET, s3  # noqa: F401  (the moto S3 server fixture)

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _unshare_reason() -> str | None:
    """Why a private mount namespace cannot be made here (None: it can)."""
    if not sys.platform.startswith("linux"):
        return "mount namespaces are Linux only"
    for tool in ("unshare", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt && umount /mnt"],
                           capture_output=True, text=True, check=False)
    if probe.returncode:
        return f"'unshare -m' + tmpfs mount not permitted here (needs root/CAP_SYS_ADMIN): {probe.stderr.strip()}"
    return None


@pytest.fixture()
def unshared_pool(tmp_path, s3):  # noqa: F811
    """An EXTERNAL worker pool in its own mount namespace; yields (port, pid)."""
    reason = _unshare_reason()
    if reason:
        pytest.skip(reason)
    hidden = sorted({"/tmp", str(tmp_path.parent.parent)})  # the system temp dir and pytest's base temp
    port = _free_port()
    script = ('for d in "$@"; do if [ -d "$d" ]; then mount -t tmpfs -o size=2g tmpfs "$d" || exit 3; fi; done; '
              f"exec {sys.executable} -m apache_beam.runners.worker.worker_pool_main --service_port={port}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    log = tmp_path / "pool.log"
    with open(log, "wb") as fh:
        pool = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *hidden],
                                env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_port(port, pool, log)
        yield port, pool.pid, log
    finally:
        _stop(pool)


def _visible_to(pid: int, path: Path) -> bool:
    """Does ``path`` exist in the mount namespace of process ``pid``?"""
    return subprocess.run(["nsenter", "--target", str(pid), "--mount", "--", "test", "-e", str(path)],
                          check=False).returncode == 0


def test_workers_without_the_launchers_disk_finish_an_s3_run(tmp_path, s3, unshared_pool,  # noqa: F811
                                                             capsys) -> None:
    port, pid, log = unshared_pool
    # The workers' namespace: the launcher's temp files are not there, the package is.
    marker = tmp_path / "launcher-only.txt"
    marker.write_text("only the launcher sees this")
    assert marker.exists() and not _visible_to(pid, marker)
    assert not _visible_to(pid, tmp_path)
    assert _visible_to(pid, REPO / "corpusflow" / "resources")

    ja = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=80)
    en = read_jsonl(fixture("en/c4_sample.jsonl.gz"), limit=40)
    copies = [{**r, "id": f"{r['id']}-copy"} for r in ja[:10]]
    s3.upload_file(str(write_jsonl(tmp_path / "ja.jsonl.gz", ja + copies, compress="gz")),
                   BUCKET, "unshared/in/ja.jsonl.gz")  # 10 exact copies: dedup's join routing has work
    s3.upload_file(str(write_jsonl(tmp_path / "en.jsonl", en)), BUCKET, "unshared/in/en.jsonl")
    cfg = {
        "name": "unshared",
        "seed": 5,
        "sources": [
            {"name": "ja", "paths": [f"s3://{BUCKET}/unshared/in/ja.jsonl.gz"], "lang": "ja"},
            {"name": "en", "paths": [f"s3://{BUCKET}/unshared/in/en.jsonl"], "fields": {"id": None, "url": "url"}},
        ],
        "stages": {"dedup": {"enabled": True}},
        "output": {"shard_max_bytes": 20_000},
    }
    config = tmp_path / "unshared.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    out = f"s3://{BUCKET}/unshared/out"
    code = run_cli("run", config, "--output", out, "--runner", "PortableRunner", "--job_endpoint=embed",
                   "--environment_type=EXTERNAL", f"--environment_config=localhost:{port}", "-q")
    assert code == 0, log.read_text()[-4000:]

    _s, bucket, key = fs.split_url(out)
    m = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}/manifest.json")["Body"].read())
    assert m["status"] == "complete" and m["runner"]["environment_type"] == "EXTERNAL"
    assert m["runner"]["shared_filesystem"] is False
    t = m["counts"]["total"]
    assert t["input"] == 130 and t["conserved"] and t["duplicates"] >= 10 and t["kept"] > 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="unshared/out/")["Contents"]]
    assert f"{key}/_IN_PROGRESS" not in keys
    # The SDK workers did the reading and writing: they started in the pool's namespace.
    assert "Starting worker" in log.read_text() or "sdk_worker" in log.read_text()
    # Same result as a local run over the same input (a local output, the DirectRunner).
    local = tmp_path / "local"
    assert run_cli("run", config, "--output", local, "-q") == 0
    ref = load_manifest(local)
    assert ref["counts"] == m["counts"] and ref["outputs"] == m["outputs"]
    # Claiming a shared disk that the workers do not have: they write into their own tmpfs and
    # the launcher finds nothing to finish (this is what the launch check's refusal prevents).
    lie = tmp_path / "claimed-shared"
    capsys.readouterr()
    assert run_cli("run", config, "--output", lie, "--runner", "PortableRunner", "--job_endpoint=embed",
                   "--environment_type=EXTERNAL", f"--environment_config=localhost:{port}", "-q",
                   "--shared_filesystem=true") == 1
    assert "_work/stats.json is missing: its workers wrote somewhere this machine cannot see" in capsys.readouterr().err
    assert not (lie / "manifest.json").exists() and not (lie / "data").exists()
