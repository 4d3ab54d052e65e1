"""Remote IO for real against moto's S3 server on 127.0.0.1: globs, atomic writes, the output
directory lifecycle, and a whole pipeline run reading from and writing to ``s3://``.

The server is moto's ``ThreadedMotoServer`` on a free loopback port; boto3 finds it through
``AWS_ENDPOINT_URL`` (set with fake credentials and a region for the module). Nothing here
touches ``gs://`` over the network: the gs:// tests only check the error raised when
google-cloud-storage cannot be imported.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import logging
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from corpusflow.io import filesystems as fs
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import fixture, load_manifest, run_cli

BUCKET = "corpusflow-test"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 with one bucket; yields a boto3 client."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    fs.reset_clients()
    try:
        client = fs.s3_client()
        client.create_bucket(Bucket=BUCKET)
        yield client
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        fs.reset_clients()
        server.stop()


def _keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


# ------------------------------------------------------------------------------------------------
# Listing: s3:// globs behave like glob.glob(recursive=True) on the same tree
# ------------------------------------------------------------------------------------------------

TREE = [
    "crawl/a.jsonl.gz", "crawl/b.jsonl.zst", "crawl/b.jsonl.zst.tmp", "crawl/notes.txt",
    "crawl/2024/c.jsonl.gz", "crawl/2024/05/d.jsonl.gz", "crawl/2025/e.jsonl.gz",
    "crawl-old/f.jsonl.gz", "crawl/[x]/g.jsonl",
]


@pytest.mark.parametrize("pattern", [
    "crawl/*.jsonl.gz",             # one level only: not crawl/2024/c
    "crawl/*.jsonl.*",              # .gz, .zst and the .tmp leftover
    "crawl/**/*.jsonl.gz",          # ** matches zero or more directories
    "crawl/20??/*.jsonl.gz",
    "crawl/202[4]/**/*.gz",
    "crawl/[!a]*.jsonl.zst",
    "crawl*/*.jsonl.gz",            # * never crosses '/', but covers crawl-old
    "crawl/**",
    "crawl/a.jsonl.gz",             # no wildcard: the object itself
    "crawl/missing.jsonl",
])
def test_globs_match_local_glob(s3, tmp_path: Path, pattern: str) -> None:
    for key in TREE:
        p = tmp_path / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
        s3.put_object(Bucket=BUCKET, Key=f"globs/{key}", Body=b"x")
    local = sorted(os.path.relpath(p, tmp_path) for p in glob.glob(str(tmp_path / pattern), recursive=True)
                   if os.path.isfile(p))
    remote = [u[len(f"s3://{BUCKET}/globs/"):] for u in fs.match_remote(f"s3://{BUCKET}/globs/{pattern}")]
    assert remote == local


def test_list_exists_remove_and_atomic_write(s3) -> None:
    base = f"s3://{BUCKET}/lifecycle/run"
    assert fs.list_dir(base) == [] and not fs.exists(base)
    fs.write_bytes_atomic(fs.join(base, "data", "x.parquet"), b"abc")
    fs.write_bytes_atomic(fs.join(base, "manifest.json"), "{\"名前\": 1}".encode())
    s3.put_object(Bucket=BUCKET, Key="lifecycle/run2/other", Body=b"keep")  # a sibling prefix
    assert fs.list_dir(base) == ["data/x.parquet", "manifest.json"]
    assert fs.exists(base) and fs.exists(fs.join(base, "manifest.json"))
    assert not fs.exists(fs.join(base, "nothing"))
    assert fs.read_bytes(fs.join(base, "manifest.json")).decode() == "{\"名前\": 1}"
    fs.remove(fs.join(base, "manifest.json"))
    fs.remove(fs.join(base, "manifest.json"))  # idempotent
    assert fs.list_dir(base) == ["data/x.parquet"]
    fs.remove_tree(base)
    assert fs.list_dir(base) == []
    assert _keys(s3, "lifecycle/") == ["lifecycle/run2/other"]  # run2 is not under run/


def test_remove_tree_deletes_more_than_one_batch(s3, monkeypatch) -> None:
    monkeypatch.setattr(fs, "_S3_DELETE_BATCH", 3)  # DeleteObjects takes 1000 keys per call
    for i in range(7):
        s3.put_object(Bucket=BUCKET, Key=f"many/d{i % 2}/k{i:05d}", Body=b"")
    assert len(fs.list_dir(f"s3://{BUCKET}/many")) == 7
    fs.remove_tree(f"s3://{BUCKET}/many")
    assert _keys(s3, "many/") == []


@pytest.mark.parametrize("suffix,compress", [(".jsonl.gz", "gz"), (".jsonl.zst", "zst"), (".jsonl", None)])
def test_streaming_reads_decompress(s3, tmp_path: Path, suffix: str, compress: str | None) -> None:
    rows = [{"id": str(i), "text": f"吾輩は猫である。名前はまだ無い。{i}"} for i in range(300)]
    local = write_jsonl(tmp_path / f"f{suffix}", rows, compress=compress)
    s3.put_object(Bucket=BUCKET, Key=f"stream/f{suffix}", Body=local.read_bytes())
    with fs.open_read(f"s3://{BUCKET}/stream/f{suffix}") as f:
        got = [json.loads(line) for line in f]
    assert got == rows


# ------------------------------------------------------------------------------------------------
# gs:// without google-cloud-storage: a clear error at once, never a network call
# ------------------------------------------------------------------------------------------------


@pytest.fixture()
def no_gcs(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)  # import fails
    fs.reset_clients()
    yield
    fs.reset_clients()


@pytest.mark.parametrize("call", [
    lambda: fs.match_remote("gs://some-bucket/crawl/*.jsonl.gz"),
    lambda: fs.list_dir("gs://some-bucket/out"),
    lambda: fs.write_bytes_atomic("gs://some-bucket/out/x", b"x"),
    lambda: fs.open_read("gs://some-bucket/crawl/a.jsonl.gz"),
])
def test_gs_without_library_names_the_package(no_gcs, call) -> None:
    with pytest.raises(fs.RemoteStorageError, match=r"google-cloud-storage.*corpusflow\[gcp\]"):
        call()


def _small_config(tmp_path: Path, paths: list[str]) -> Path:
    cfg = tmp_path / "small.yaml"
    cfg.write_text(yaml.safe_dump({"sources": [{"name": "s", "paths": paths}]}))
    return cfg


def test_cli_gs_output_without_library_is_a_usage_error(no_gcs, tmp_path: Path, capsys) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "This is a short English sentence."}])
    code = run_cli("run", _small_config(tmp_path, [str(src)]), "--output", "gs://some-bucket/out")
    assert code == 2
    assert "google-cloud-storage" in capsys.readouterr().err


def test_cli_gs_input_without_library_is_a_config_error(no_gcs, tmp_path: Path, capsys) -> None:
    code = run_cli("run", _small_config(tmp_path, ["gs://some-bucket/*.jsonl"]), "--output", tmp_path / "out")
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot list" in err and "google-cloud-storage" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------
# The whole pipeline: inputs on S3, outputs on S3, read back
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_inputs(s3, tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("s3in")
    ja = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=120)
    en = read_jsonl(fixture("en/c4_sample.jsonl.gz"), limit=80)
    multi = read_jsonl(fixture("en/cc_main_raw_multilingual.jsonl.gz"), limit=60)
    files = {
        "web/ja/part-0.jsonl.gz": write_jsonl(d / "a.jsonl.gz", ja[:60], compress="gz"),
        "web/ja/2024/part-1.jsonl.zst": write_jsonl(d / "b.jsonl.zst", ja[60:], compress="zst"),
        "web/en/part-0.jsonl": write_jsonl(d / "c.jsonl", en),
        "web/multi/part-0.jsonl.gz": write_jsonl(d / "d.jsonl.gz", multi, compress="gz"),
    }
    # one malformed line in the English file: a cut JSON record is an error, not a crash
    en_bytes = files["web/en/part-0.jsonl"].read_bytes().split(b"\n")
    en_bytes[3] = en_bytes[3][:40]
    files["web/en/part-0.jsonl"].write_bytes(b"\n".join(en_bytes))
    for key, path in files.items():
        s3.upload_file(str(path), BUCKET, key)
    cfg = {
        "name": "s3-e2e",
        "seed": 11,
        "sources": [
            {"name": "ja", "paths": [f"s3://{BUCKET}/web/ja/**/*.jsonl.*"], "lang": "ja"},
            {"name": "en", "paths": [f"s3://{BUCKET}/web/en/*.jsonl"], "fields": {"id": None, "url": "url"}},
            {"name": "multi", "paths": [f"s3://{BUCKET}/web/multi/*.gz"], "fields": {"url": "metadata.url"}},
        ],
        "output": {"shard_max_bytes": 20_000, "row_group_rows": 25},
        "limits": {"max_error_rate": 0.05},
    }
    path = d / "s3.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return {"config": path, "n": {"ja": 120, "en": 80, "multi": 60}}


@pytest.fixture(scope="module")
def s3_run(s3, s3_inputs) -> str:
    out = f"s3://{BUCKET}/runs/one"
    assert run_cli("run", s3_inputs["config"], "--output", out) == 0
    return out


def _manifest(s3, out: str) -> dict:
    _s, bucket, key = fs.split_url(out)
    return json.loads(s3.get_object(Bucket=bucket, Key=f"{key}/manifest.json")["Body"].read())


def test_s3_round_trip_counts_and_files(s3, s3_inputs, s3_run: str) -> None:
    m = _manifest(s3, s3_run)
    assert m["status"] == "complete"
    for src, n in s3_inputs["n"].items():
        c = m["counts"]["by_source"][src]
        assert c["input"] == n and c["conserved"], (src, c)
    assert m["counts"]["by_source"]["en"]["errors"] == 1
    assert sorted(i["path"] for i in m["inputs"]) == [
        f"s3://{BUCKET}/web/en/part-0.jsonl", f"s3://{BUCKET}/web/ja/2024/part-1.jsonl.zst",
        f"s3://{BUCKET}/web/ja/part-0.jsonl.gz", f"s3://{BUCKET}/web/multi/part-0.jsonl.gz"]
    keys = _keys(s3, "runs/one/")
    assert "runs/one/_IN_PROGRESS" not in keys and "runs/one/manifest.json" in keys
    assert not [k for k in keys if ".tmp" in k]
    # every shard listed in the manifest is on S3 with the recorded size, hash and row count
    total = {"data": 0, "rejected": 0, "errors": 0}
    for sub in total:
        assert m["outputs"][sub], sub
        for shard in m["outputs"][sub]:
            body = s3.get_object(Bucket=BUCKET, Key=f"runs/one/{sub}/{shard['file']}")["Body"].read()
            assert len(body) == shard["bytes"] and hashlib.sha256(body).hexdigest() == shard["sha256"]
            table = pq.read_table(io.BytesIO(body))
            assert table.num_rows == shard["rows"]
            total[sub] += table.num_rows
    t = m["counts"]["total"]
    assert (total["data"], total["rejected"], total["errors"]) == (t["kept"], t["rejected"], t["errors"])
    assert len(m["outputs"]["data"]) > 1  # sharded
    data_keys = [k.rsplit("/", 1)[1] for k in keys if k.startswith("runs/one/data/")]
    n = len(data_keys)
    assert data_keys == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]


def test_s3_output_is_byte_identical_to_local_output(s3, s3_inputs, s3_run: str, tmp_path: Path) -> None:
    local = tmp_path / "local"
    assert run_cli("run", s3_inputs["config"], "--output", local) == 0
    a, b = _manifest(s3, s3_run), load_manifest(local)
    assert a["outputs"] == b["outputs"] and a["counts"] == b["counts"]


def test_s3_output_lifecycle_refuse_then_overwrite(s3, s3_inputs, s3_run: str, capsys) -> None:
    out = f"s3://{BUCKET}/runs/two"
    # an earlier finished run left a manifest and a shard this run will not write
    s3.put_object(Bucket=BUCKET, Key="runs/two/manifest.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="runs/two/data/stale-from-an-old-run.parquet", Body=b"old")
    # a non-empty output is refused without --overwrite, and nothing is touched
    assert run_cli("run", s3_inputs["config"], "--output", out) == 2
    assert "not empty (it holds a finished run)" in capsys.readouterr().err
    assert "runs/two/data/stale-from-an-old-run.parquet" in _keys(s3, "runs/two/")
    # --overwrite empties the prefix first: the stale object is gone, the run is complete again
    assert run_cli("run", s3_inputs["config"], "--output", out, "--overwrite") == 0
    keys = _keys(s3, "runs/two/")
    assert "runs/two/data/stale-from-an-old-run.parquet" not in keys
    assert "runs/two/_IN_PROGRESS" not in keys
    assert _manifest(s3, out)["outputs"] == _manifest(s3, s3_run)["outputs"]


def test_s3_failed_run_leaves_failed_json_and_marker(s3, s3_inputs) -> None:
    out = f"s3://{BUCKET}/runs/failed"
    assert run_cli("run", s3_inputs["config"], "--output", out, "--max-error-rate", "0.0001") == 1
    keys = _keys(s3, "runs/failed/")
    assert "runs/failed/FAILED.json" in keys and "runs/failed/manifest.json" not in keys
    assert "runs/failed/_IN_PROGRESS" in keys  # an unfinished run stays marked


def test_langid_model_read_from_s3(s3, s3_inputs, s3_run: str, tmp_path: Path) -> None:
    """langid.model on the object store: the workers' alternative to the model shipped in the package."""
    model = REPO / "corpusflow" / "resources" / "lid.176.ftz"
    s3.upload_file(str(model), BUCKET, "models/lid.176.ftz")
    out = tmp_path / "model-from-s3"
    code = run_cli("run", s3_inputs["config"], "--output", out,
                   "--set", f"stages.langid.model=s3://{BUCKET}/models/lid.176.ftz")
    assert code == 0
    a, b = load_manifest(out), _manifest(s3, s3_run)  # s3_run used the packaged model
    assert a["outputs"] == b["outputs"]
    assert a["config_hash"] != b["config_hash"]  # the model path is part of the config
