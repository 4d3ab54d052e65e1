"""Opening and listing local paths and object-store URLs (``s3://``, ``gs://``).

Reading and writing go through ``smart_open`` (streaming, transparent ``.gz``/``.bz2``/``.zst``
decompression by extension). S3 uses boto3, so the standard AWS settings apply, including
``AWS_ENDPOINT_URL`` for S3-compatible stores (and moto's server in the tests). ``gs://`` needs
``google-cloud-storage`` (``pip install 'corpusflow[gcp]'``).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import uuid
from typing import IO, Any

from corpusflow.config import is_remote, resolve_path


def open_read(path: str, *, compressed: bool = True) -> IO[bytes]:
    """Open ``path`` for binary streaming reads, decompressing by extension unless told not to.

    ``.gz`` (multi-member too), ``.bz2``, ``.xz`` and ``.zst`` are decompressed here rather than
    by smart_open, so every runner and Python version behaves the same (smart_open 9 needs the
    ``backports.zstd`` package for ``.zst`` on Python < 3.14).
    """
    import smart_open

    path = resolve_path(path)
    raw = smart_open.open(path, "rb", compression="disable")
    if not compressed:
        return raw
    name = path.lower()
    if name.endswith(".gz"):
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if name.endswith(".bz2"):
        import bz2

        return bz2.BZ2File(raw, "rb")  # type: ignore[return-value]
    if name.endswith(".xz"):
        import lzma

        return lzma.LZMAFile(raw, "rb")  # type: ignore[return-value]
    if name.endswith(".zst"):
        import io

        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return io.BufferedReader(reader, buffer_size=1 << 20)  # type: ignore[arg-type]
    return raw


def open_write(path: str) -> IO[bytes]:
    import smart_open

    return smart_open.open(path, "wb", compression="disable")


def _split_bucket(url: str) -> tuple[str, str, str]:
    scheme, rest = url.split("://", 1)
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


def match_remote(pattern: str) -> list[str]:
    """List the objects matching a glob URL (``*``, ``?``, ``[..]``; ``**`` crosses ``/``)."""
    scheme, bucket, key_glob = _split_bucket(pattern)
    prefix = re.split(r"[*?\[]", key_glob, maxsplit=1)[0]
    regex = re.compile(fnmatch.translate(key_glob).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*"))
    keys: list[str] = []
    if scheme == "s3":
        import boto3

        client = boto3.client("s3")
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
    elif scheme in ("gs", "gcs"):
        try:
            from google.cloud import storage  # type: ignore[import-not-found]
        except ImportError as exc:  # pragma: no cover - depends on optional extra
            raise RuntimeError("gs:// needs google-cloud-storage: pip install 'corpusflow[gcp]'") from exc
        client = storage.Client()
        keys.extend(b.name for b in client.list_blobs(bucket, prefix=prefix))
    else:
        raise RuntimeError(f"cannot list {scheme}:// URLs; give the files explicitly")
    return sorted(f"{scheme}://{bucket}/{k}" for k in keys if regex.fullmatch(k))


def join(base: str, *parts: str) -> str:
    if is_remote(base):
        return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])
    return os.path.join(base, *parts)


def exists(path: str) -> bool:
    if is_remote(path):
        scheme, bucket, key = _split_bucket(path)
        if scheme != "s3":
            raise RuntimeError(f"exists() not supported for {scheme}://")
        import boto3

        resp = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/") + "/", MaxKeys=1)
        if resp.get("KeyCount", 0):
            return True
        try:
            boto3.client("s3").head_object(Bucket=bucket, Key=key)
            return True
        except Exception:
            return False
    return os.path.exists(path)


def list_dir(path: str) -> list[str]:
    """Names (not paths) directly or recursively under a directory, sorted; [] if it is absent."""
    if is_remote(path):
        return [p[len(path.rstrip("/")) + 1 :] for p in match_remote(path.rstrip("/") + "/**")]
    if not os.path.isdir(path):
        return []
    out = []
    for root, _dirs, files in os.walk(path):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), path))
    return sorted(out)


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader never sees a partial file.

    Local: a temporary sibling then ``os.replace``. Object stores: a PUT is already atomic.
    """
    if is_remote(path):
        with open_write(path) as f:
            f.write(data)
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def remove_tree(path: str) -> None:
    if is_remote(path):
        _scheme, bucket, key = _split_bucket(path)
        import boto3

        client = boto3.client("s3")
        for name in list_dir(path):
            client.delete_object(Bucket=bucket, Key=f"{key.rstrip('/')}/{name}")
        return
    shutil.rmtree(path, ignore_errors=True)


def read_bytes(path: str) -> bytes:
    with open_read(path, compressed=False) as f:
        data: Any = f.read()
    return bytes(data)
