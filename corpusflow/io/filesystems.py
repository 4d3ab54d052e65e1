"""Opening, listing, writing and deleting local paths and object-store URLs (``s3://``, ``gs://``).

Every path the pipeline reads or writes goes through this module, on the launcher (listing
inputs, preparing the output directory, the manifest) and on the workers (reading input files,
writing shards), so a run works the same with a local directory and with a bucket.

* Local paths: plain files; writes go to a temporary sibling and are renamed into place.
* ``s3://`` (and S3-compatible stores): boto3, with the standard AWS settings (credentials
  chain, ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` for MinIO/Ceph/moto). Reads stream
  through ``smart_open`` (ranged GETs); small writes are one ``PutObject``, which S3 makes
  visible atomically, whole or not at all.
* ``gs://``: ``google-cloud-storage`` (``pip install 'corpusflow[gcp]'``). Without it every
  ``gs://`` operation raises :class:`RemoteStorageError` at once, naming the package, instead
  of failing inside smart_open or Beam. (With it but without credentials, Google's client
  probes the metadata server and retries for minutes before failing: docs/design.md#beam-offline. Tests never
  use ``gs://``.)

Clients are created once per process and shared by threads (boto3 and GCS clients are
thread-safe once built; building them is not), and rebuilt after a fork.

Globs (``*``, ``?``, ``[...]``, ``**``) follow :func:`glob.glob` with ``recursive=True``:
``*`` stays within one path segment, ``**/`` matches zero or more directories.
"""

from __future__ import annotations

import bz2
import glob
import io
import lzma
import os
import re
import shutil
import threading
import uuid
import zlib
from dataclasses import dataclass
from typing import IO, Any

from corpusflow.core.paths import PKG_PREFIX, is_remote, package_path, resolve_path

S3_SCHEMES = ("s3",)
GCS_SCHEMES = ("gs", "gcs")
# One PutObject can carry 5 GiB; larger payloads go through smart_open's multipart upload,
# which is also invisible until it completes.
_SINGLE_PUT_MAX = 1 << 30
_S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys

_lock = threading.Lock()
_clients: dict[tuple[str, int], Any] = {}


class RemoteStorageError(RuntimeError):
    """An object-store URL that cannot be used here (missing client library, unsupported scheme)."""


# ------------------------------------------------------------------------------------------------
# URLs and clients
# ------------------------------------------------------------------------------------------------


def scheme_of(path: str) -> str:
    """``s3`` for ``s3://b/k``; ``""`` for a local path."""
    return path.split("://", 1)[0].lower() if is_remote(path) else ""


def split_url(url: str) -> tuple[str, str, str]:
    """``s3://bucket/a/b`` -> ``("s3", "bucket", "a/b")``."""
    scheme, rest = url.split("://", 1)
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"{url!r}: no bucket name")
    return scheme.lower(), bucket, key


_split_bucket = split_url  # old name, kept for callers outside this module


def _cached_client(kind: str, make: Any) -> Any:
    """One client per process and kind, built once under a lock (and again after a fork)."""
    key = (kind, os.getpid())
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = make()
    return client


def _make_s3_client() -> Any:
    try:
        import boto3  # lazy: heavy or optional dependency, loaded only when used
    except ImportError as exc:  # pragma: no cover - boto3 comes with smart-open[s3]
        raise RemoteStorageError("s3:// needs boto3: pip install 'smart-open[s3]'") from exc
    return boto3.session.Session().client("s3")


def _make_gcs_client() -> Any:
    try:
        from google.cloud import storage  # type: ignore[import-not-found,import-untyped]
    except ImportError as exc:
        raise RemoteStorageError(
            "gs:// URLs need the google-cloud-storage package, which is not installed: "
            "pip install 'corpusflow[gcp]' (or pip install google-cloud-storage); "
            "see docs/running.md"
        ) from exc
    return storage.Client()


def s3_client() -> Any:
    """The process's boto3 S3 client (honours ``AWS_ENDPOINT_URL`` and the usual AWS settings)."""
    return _cached_client("s3", _make_s3_client)


def gcs_client() -> Any:
    """The process's google-cloud-storage client; RemoteStorageError if the library is missing."""
    return _cached_client("gs", _make_gcs_client)


def reset_clients() -> None:
    """Forget the cached clients (after changing ``AWS_ENDPOINT_URL`` or credentials in-process)."""
    with _lock:
        _clients.clear()


def _unsupported(path: str, what: str) -> RemoteStorageError:
    return RemoteStorageError(
        f"cannot {what} {path!r}: corpusflow supports local paths, s3:// and gs:// "
        f"(other URLs can only be read, one explicit file at a time)"
    )


def _transport_params(path: str) -> dict[str, Any]:
    scheme = scheme_of(path)
    if scheme in S3_SCHEMES:
        return {"client": s3_client()}
    if scheme in GCS_SCHEMES:
        return {"client": gcs_client()}
    return {}


# ------------------------------------------------------------------------------------------------
# Reading and writing
# ------------------------------------------------------------------------------------------------


def inflate_backend() -> Any:
    """``isal.isal_zlib`` (Intel ISA-L, ~2.4x zlib's inflate speed) when installed, else ``zlib``.

    Both give the same bytes and check the same CRC-32 and length; ``CORPUSFLOW_NO_ISAL=1``
    forces zlib.
    """
    if not os.environ.get("CORPUSFLOW_NO_ISAL"):
        try:
            from isal import isal_zlib  # lazy: heavy or optional dependency, loaded only when used

            return isal_zlib
        except ImportError:  # pragma: no cover - isal is a dependency
            pass

    return zlib


#: Compressed formats read by :func:`open_read`: extension -> codec name.
CODEC_BY_EXT = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".lz4": "lz4"}
#: First bytes of a member/stream/frame of each codec: where reading resumes after damage.
CODEC_MAGIC = {
    "gzip": b"\x1f\x8b\x08",
    "bz2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
    "zstd": b"\x28\xb5\x2f\xfd",
    "lz4": b"\x04\x22\x4d\x18",
}
#: Codecs that allow zero bytes between or after members (gzip padding, xz stream padding).
_ZERO_PADDED = frozenset({"gzip", "xz"})


class UnsupportedCompression(ValueError):
    """A compressed input whose codec cannot be read here (e.g. ``.lz4`` without the lz4 package)."""


def lz4_available() -> bool:
    """True when the ``lz4`` package (LZ4 frame format) can be imported."""
    try:
        import lz4.frame  # type: ignore[import-not-found,import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def supported_compressions() -> list[str]:
    """The compressed-file extensions :func:`open_read` decompresses in this environment."""
    return [ext for ext, codec in CODEC_BY_EXT.items() if codec != "lz4" or lz4_available()]


def _decompressor_factory(codec: str, backend: Any = None) -> Any:
    """A function returning a fresh one-member decompressor (``decompress``, ``eof``,
    ``unused_data``) for ``codec``."""
    if codec == "gzip":
        zl = backend or inflate_backend()
        return lambda: zl.decompressobj(31)
    if codec == "bz2":

        return bz2.BZ2Decompressor
    if codec == "xz":

        return lzma.LZMADecompressor
    if codec == "zstd":
        import zstandard  # lazy: heavy or optional dependency, loaded only when used

        dctx = zstandard.ZstdDecompressor()
        return dctx.decompressobj
    if codec == "lz4":
        try:
            import lz4.frame  # type: ignore[import-not-found,import-untyped]
        except ImportError as exc:
            raise UnsupportedCompression(
                "reading .lz4 needs the lz4 package (pip install lz4); supported here: "
                + ", ".join(supported_compressions())
            ) from exc
        return lz4.frame.LZ4FrameDecompressor
    raise UnsupportedCompression(f"unknown codec {codec!r}; supported: {', '.join(supported_compressions())}")


@dataclass(frozen=True, slots=True)
class StreamDamage:
    """A stretch of a compressed file that could not be decompressed.

    Attributes:
        kind: ``truncated`` (the file ends inside a member/frame) or ``corrupt`` (the
            decompressor rejected the data: bad header, checksum, length, garbage).
        raw_start: compressed byte offset of the damaged member (where its data began).
        raw_end: compressed byte offset where reading resumed at the next intact member, or
            the file size when nothing after the damage could be read.
        out_offset: decompressed bytes delivered before the damage was met.
        message: the decompressor's error.
    """

    kind: str
    raw_start: int
    raw_end: int
    out_offset: int
    message: str

    @property
    def lost_bytes(self) -> int:
        """Compressed bytes skipped (from the damaged member's start to where reading resumed)."""
        return self.raw_end - self.raw_start


class DecompressingReader(io.RawIOBase):
    """Decompresses a stream of concatenated members (gzip members, bz2/xz streams, zstd or
    lz4 frames), 1 MiB of compressed input at a time, with the codec's own checks.

    Each member is checked to its end (gzip CRC-32 and length, zstd content checksum when the
    frame has one, xz/bz2 stream checks). A file that ends inside a member and bytes that do not
    start a member are damage:

    * ``record_damage=False`` (default): raise, as :class:`gzip.GzipFile` does (``EOFError`` for
      a stream cut short, the codec's own error for corrupt data).
    * ``record_damage=True``: append a :class:`StreamDamage` to :attr:`damage`, skip to the next
      member's magic bytes (the rest of a multi-member file is read) and go on; the decompressed
      bytes delivered before the damage are kept, and a newline is added after them when they
      end inside a line (the cut line stays one bad record; the next member's first line is
      read whole). Nothing is ever skipped without a record.

    :attr:`raw_pos` counts the compressed bytes consumed, :attr:`out_pos` the bytes delivered.
    """

    CHUNK = 1 << 20
    SLICE = 1 << 16

    def __init__(self, raw: IO[bytes], codec: str = "gzip", backend: Any = None, *,
                 record_damage: bool = False) -> None:
        super().__init__()
        self._raw = raw
        self.codec = codec
        self._make = _decompressor_factory(codec, backend)
        self._magic = CODEC_MAGIC[codec]
        self._record = record_damage
        self._d: Any = None  # decompressor of the current member
        self._buf = b""
        self._pos = 0
        self._pending = b""  # compressed bytes given back (unused data after a member's end)
        self._chunk = b""  # the last read from raw, handed out a slice at a time from _ppos
        self._ppos = 0
        self._done = False
        self.raw_pos = 0  # compressed bytes consumed (read from raw, minus what is pending)
        self.out_pos = 0
        self.member_start = 0
        self._ends_line = True  # the bytes delivered so far end with a newline (or there are none)
        self.damage: list[StreamDamage] = []

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._pos >= len(self._buf):
            if self._done:
                return 0
            self._fill()
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = memoryview(self._buf)[self._pos : self._pos + n]  # no intermediate copy
        self._pos += n
        self.out_pos += n
        self._ends_line = self._buf[self._pos - 1] == 10  # b"\n"
        return n

    def _read_raw(self) -> bytes:
        """The next compressed bytes, at most :attr:`SLICE` at a time: a decompressor that fails
        loses the output of one slice at most, not of a whole 1 MiB read."""
        if self._pending:
            data, self._pending = self._pending, b""
        else:
            if self._ppos >= len(self._chunk):
                self._chunk, self._ppos = self._raw.read(self.CHUNK), 0
            data = self._chunk[self._ppos : self._ppos + self.SLICE]
            self._ppos += len(data)
        self.raw_pos += len(data)
        return data

    def _unread(self, data: bytes) -> None:
        self._pending = data + self._pending
        self.raw_pos -= len(data)

    def _fill(self) -> None:
        self._buf, self._pos = b"", 0
        data = self._read_raw()
        if self._d is None:
            if self.codec in _ZERO_PADDED:  # zero padding between/after members is allowed
                stripped = data.lstrip(b"\0")
                while not stripped:
                    more = self._read_raw()
                    if not more:
                        self._done = True  # end of input between members (or an empty file)
                        return
                    stripped = more.lstrip(b"\0")
                data = stripped
            elif not data:
                self._done = True
                return
            self.member_start = self.raw_pos - len(data)
            self._d = self._make()
        if not data:
            self._damaged("truncated", EOFError(
                "Compressed file ended before the end-of-stream marker was reached"))
            return
        try:
            self._buf = self._d.decompress(data)
        except Exception as exc:  # zlib/isal/lzma/bz2/zstd/lz4 errors: corrupt data
            self._damaged("corrupt", exc, data)
            return
        if self._d.eof:  # member finished: what follows starts the next member
            rest = self._d.unused_data
            if rest:
                self._unread(rest)
            self._d = None

    def _damaged(self, kind: str, exc: BaseException, chunk: bytes = b"") -> None:
        """Record (or raise) damage in the current member; resume at the next member's magic."""
        if not self._record:
            raise exc
        start = self.member_start
        self._d = None
        self._buf = b""
        resume = self._find_magic(chunk, after=start + 1)
        message = f"{type(exc).__name__}: {exc}"[:500]
        last = self.damage[-1] if self.damage else None
        if last is not None and last.raw_end == start and last.out_offset == self.out_pos:
            # resumed at bytes that only looked like a member: one damaged stretch, not two
            self.damage[-1] = StreamDamage(last.kind, last.raw_start, resume, last.out_offset, last.message)
        else:
            self.damage.append(StreamDamage(kind, start, resume, self.out_pos, message))
        if not self._ends_line and not self._done:
            # End the cut line here, so that it stays one (bad) record and the first line of the
            # next intact member is read as its own record instead of being glued to it.
            self._buf = b"\n"

    def _find_magic(self, chunk: bytes, after: int) -> int:
        """Consume input up to the next magic at or after raw offset ``after``; return its offset
        (the end of the input if there is none), leaving the magic unread."""
        chunk_start = self.raw_pos - len(chunk)
        data = chunk[max(0, after - chunk_start):]
        base = max(after, chunk_start)
        keep = len(self._magic) - 1
        while True:
            i = data.find(self._magic)
            if i >= 0:
                self._unread(data[i:])
                return base + i
            more = self._read_raw()
            if not more:
                self._done = True
                return self.raw_pos
            tail = data[-keep:] if keep and len(data) >= keep else data
            base += len(data) - len(tail)
            data = tail + more

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


class GzipChunkReader(DecompressingReader):
    """Decompresses a (multi-member) gzip stream, 1 MiB of compressed input at a time.

    Same bytes and same errors as :class:`gzip.GzipFile` (zlib checks each member's CRC-32 and
    length; a stream that ends inside a member raises ``EOFError``; anything that is not a gzip
    member raises ``zlib.error`` or isal's ``IsalError``), with ISA-L's inflate when available
    (:func:`inflate_backend`), and ``gzip.GzipFile`` decompresses 8 KiB of input per Python
    call, which made reading JSONL.gz ~9% of a full pipeline run (measured with py-spy).
    """

    def __init__(self, raw: IO[bytes], backend: Any = None, *, record_damage: bool = False) -> None:
        super().__init__(raw, "gzip", backend, record_damage=record_damage)


def codec_of(path: str) -> str | None:
    """The codec of a compressed file name (``gzip`` for ``x.jsonl.gz``), None if not compressed."""
    name = path.lower()
    for ext, codec in CODEC_BY_EXT.items():
        if name.endswith(ext):
            return codec
    return None


def open_read(path: str, *, compressed: bool = True, record_damage: bool = False) -> IO[bytes]:
    """Open ``path`` for binary streaming reads, decompressing by extension unless told not to.

    ``.gz``, ``.bz2``, ``.xz``, ``.zst`` and ``.lz4`` (with the lz4 package) are decompressed
    here by :class:`DecompressingReader` rather than by smart_open, so every runner and Python
    version behaves the same and damage is never silent: a stream cut short raises
    ``EOFError`` and corrupt data the codec's error; with ``record_damage=True`` the damage is
    recorded on the reader (``reader.raw.damage``) and reading resumes at the next member.
    """
    path = resolve_path(path)
    if path.startswith("file://"):
        path = path[len("file://") :]
    codec = codec_of(path) if compressed else None
    if codec == "lz4":
        _decompressor_factory(codec)  # UnsupportedCompression before opening, without lz4
    if is_remote(path):
        import smart_open  # lazy: heavy or optional dependency, loaded only when used

        raw: Any = smart_open.open(path, "rb", compression="disable", transport_params=_transport_params(path))
    else:
        raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if codec is None:
        return raw
    reader = DecompressingReader(raw, codec, record_damage=record_damage)
    return io.BufferedReader(reader, buffer_size=1 << 20)  # type: ignore[return-value]


def open_write(path: str) -> IO[bytes]:
    """A binary writer. Object stores: the object appears when the writer is closed without error
    (multipart upload, aborted on an exception). Local: written in place; prefer
    :func:`write_bytes_atomic` for files other processes may read while they are written."""
    if is_remote(path):
        if scheme_of(path) not in S3_SCHEMES + GCS_SCHEMES:
            raise _unsupported(path, "write")
        import smart_open  # lazy: heavy or optional dependency, loaded only when used

        return smart_open.open(path, "wb", compression="disable", transport_params=_transport_params(path))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return open(path, "wb")


def read_bytes(path: str) -> bytes:
    with open_read(path, compressed=False) as f:
        data: Any = f.read()
    return bytes(data)


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader never sees a partial file.

    Local: a temporary sibling, fsync, then ``os.replace``. S3: one ``PutObject`` (multipart
    above 1 GiB), visible only when complete. GCS: one upload, likewise. A retried writer
    (a worker re-running a bundle) simply replaces the object with identical bytes.
    """
    scheme = scheme_of(path)
    if scheme in S3_SCHEMES:
        _s, bucket, key = split_url(path)
        if len(data) <= _SINGLE_PUT_MAX:
            s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        else:
            with open_write(path) as f:
                f.write(data)
        return
    if scheme in GCS_SCHEMES:
        _s, bucket, key = split_url(path)
        gcs_client().bucket(bucket).blob(key).upload_from_string(data)
        return
    if scheme:
        raise _unsupported(path, "write")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# ------------------------------------------------------------------------------------------------
# Listing
# ------------------------------------------------------------------------------------------------


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob over ``/``-separated keys with :func:`glob.glob` (recursive) semantics.

    ``*`` and ``?`` never cross ``/``; ``**`` as a whole segment matches any number of segments
    (``a/**/b`` matches ``a/b`` and ``a/x/y/b``); ``[abc]``/``[!abc]`` are character classes.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i) and (i == 0 or pattern[i - 1] == "/"):
            j = i + 2
            if j == n:
                out.append(".*")
                i = j
                continue
            if pattern[j] == "/":
                out.append("(?:[^/]*/)*")  # zero or more whole directories
                i = j + 1
                continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _list_keys(scheme: str, bucket: str, prefix: str) -> list[str]:
    if scheme in S3_SCHEMES:
        keys: list[str] = []
        paginator = s3_client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys
    if scheme in GCS_SCHEMES:
        return [b.name for b in gcs_client().list_blobs(bucket, prefix=prefix)]
    raise _unsupported(f"{scheme}://{bucket}/{prefix}", "list")


def match_remote(pattern: str) -> list[str]:
    """The objects matching a glob URL, sorted (``*``, ``?``, ``[..]``; ``**`` crosses ``/``).

    A URL without wildcards matches itself if that object exists. Only the part of the key
    before the first wildcard is sent as the listing prefix.
    """
    scheme, bucket, key_glob = split_url(pattern)
    if scheme not in S3_SCHEMES + GCS_SCHEMES:
        if not re.search(r"[*?\[]", pattern):
            return [pattern]  # e.g. one https:// file: smart_open can read it, nothing to list
        raise _unsupported(pattern, "list")
    prefix = re.split(r"[*?\[]", key_glob, maxsplit=1)[0]
    regex = glob_to_regex(key_glob)
    keys = _list_keys(scheme, bucket, prefix)
    return sorted(f"{scheme}://{bucket}/{k}" for k in keys if regex.fullmatch(k) and not k.endswith("/"))


def join(base: str, *parts: str) -> str:
    if is_remote(base):
        return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])
    return os.path.join(base, *parts)


def exists(path: str) -> bool:
    """True if ``path`` is a file/object, or a directory/prefix with something under it."""
    scheme = scheme_of(path)
    if not scheme:
        return os.path.exists(path)
    _s, bucket, key = split_url(path)
    if scheme in S3_SCHEMES:
        client = s3_client()
        resp = client.list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/") + "/", MaxKeys=1)
        if resp.get("KeyCount", 0):
            return True
        from botocore.exceptions import (  # lazy: heavy or optional dependency, loaded only when used
            ClientError,  # lazy: heavy or optional dependency, loaded only when used
        )

        try:
            client.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
    if scheme in GCS_SCHEMES:
        client = gcs_client()
        if client.bucket(bucket).blob(key).exists():
            return True
        return any(True for _ in client.list_blobs(bucket, prefix=key.rstrip("/") + "/", max_results=1))
    raise _unsupported(path, "check")


def list_dir(path: str) -> list[str]:
    """Names (relative paths) of every file under a directory or prefix, sorted; [] if absent."""
    if is_remote(path):
        scheme, bucket, key = split_url(path.rstrip("/"))
        prefix = key + "/" if key else ""
        return sorted(k[len(prefix) :] for k in _list_keys(scheme, bucket, prefix) if not k.endswith("/"))
    if not os.path.isdir(path):
        return []
    out = []
    for root, _dirs, files in os.walk(path):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), path))
    return sorted(out)


# ------------------------------------------------------------------------------------------------
# Deleting
# ------------------------------------------------------------------------------------------------


def remove(path: str) -> None:
    """Delete one file or object; nothing happens if it does not exist."""
    scheme = scheme_of(path)
    if scheme in S3_SCHEMES:
        _s, bucket, key = split_url(path)
        s3_client().delete_object(Bucket=bucket, Key=key)  # S3 deletes are idempotent
    elif scheme in GCS_SCHEMES:
        _s, bucket, key = split_url(path)
        blob = gcs_client().bucket(bucket).blob(key)
        if blob.exists():
            blob.delete()
    elif scheme:
        raise _unsupported(path, "delete")
    elif os.path.exists(path):
        os.remove(path)


def remove_tree(path: str) -> None:
    """Delete a directory (local) or every object under ``path/`` (object stores)."""
    scheme = scheme_of(path)
    if not scheme:
        if os.path.islink(path):
            raise OSError(f"{path} is a symbolic link; not following it to delete what it points to")
        if os.path.exists(path):
            shutil.rmtree(path)  # a file that cannot be removed is an error, never skipped silently
        return
    _s, bucket, key = split_url(path.rstrip("/"))
    prefix = key + "/" if key else ""
    keys = _list_keys(scheme, bucket, prefix)
    if scheme in S3_SCHEMES:
        client = s3_client()
        for i in range(0, len(keys), _S3_DELETE_BATCH):
            batch = [{"Key": k} for k in keys[i : i + _S3_DELETE_BATCH]]
            resp = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if resp.get("Errors"):
                first = resp["Errors"][0]
                raise OSError(f"could not delete {len(resp['Errors'])} object(s) under {path}, e.g. "
                              f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}")
    else:
        b = gcs_client().bucket(bucket)
        for k in keys:
            b.blob(k).delete()


# ------------------------------------------------------------------------------------------------
# Input planning (local globs)
# ------------------------------------------------------------------------------------------------


class InputPlanError(ValueError):
    """Input files that must not be read as given (symlink loop, unreadable folder or file,
    unsupported format); raised at launch, before anything is read."""


def _walk_depth(rest: str) -> int | None:
    """How many directory levels below the glob base a pattern tail can reach (None: any)."""
    if "**" in rest:
        return None
    return rest.count("/")


def scan_local_pattern(pattern: str) -> list[str]:
    """Problems under the directories a local glob walks: symlink loops and folders that cannot
    be listed (which :func:`glob.glob` skips without a word). Returns one message per problem.

    Only the directories the pattern can reach are visited (``a/*/x.jsonl``: one level below
    ``a``; ``**``: all). A symlink to a directory that is also reached another way is not a
    problem (its files are de-duplicated by real path when the plan is made); a symlink to one
    of its own ancestors is.
    """
    pattern = resolve_path(pattern)
    if is_remote(pattern) or not re.search(r"[*?\[]", pattern):
        return []
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    base = head if head.endswith("/") else os.path.dirname(head)
    base = base or "."
    depth = _walk_depth(pattern[len(base):].lstrip("/"))
    problems: list[str] = []

    def walk(d: str, level: int, ancestors: tuple[str, ...]) -> None:
        try:
            entries = list(os.scandir(d))
        except OSError as exc:
            problems.append(f"cannot list folder {d}: {exc.strerror or exc}")
            return
        if depth is not None and level >= depth:
            return
        for e in entries:
            try:
                is_dir = e.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if not is_dir:
                if e.is_symlink() and not os.path.exists(e.path):
                    try:
                        os.stat(e.path)
                    except OSError as exc:
                        if exc.errno == 40:  # ELOOP: a link that points (eventually) at itself
                            problems.append(f"symlink loop at {e.path}")
                continue
            real = os.path.realpath(e.path)
            if real in ancestors:
                problems.append(f"symlink loop: {e.path} points to {real}, one of its own parent folders")
                continue
            walk(e.path, level + 1, (*ancestors, real))

    if os.path.isdir(base):
        walk(base, 0, (os.path.realpath(base),))
    return problems


def expand_local_glob(pattern: str) -> list[str]:
    """The files a local glob matches (:func:`glob.glob` with ``recursive=True``), sorted, each
    real file once (the first spelling in sorted order), never through a symlink loop.

    Raises :class:`InputPlanError` for a symlink loop or a folder that cannot be listed under the
    pattern (glob would skip it silently). Remote URLs are not handled here.
    """
    problems = scan_local_pattern(pattern)
    if problems:
        raise InputPlanError(f"{pattern}: " + "; ".join(problems))
    seen: set[str] = set()
    out = []
    for p in sorted(glob.glob(resolve_path(pattern), recursive=True)):
        if not os.path.isfile(p):
            continue
        real = os.path.realpath(p)
        if real not in seen:
            seen.add(real)
            out.append(p)
    return out


def expand_glob(pattern: str) -> list[str]:
    """Expand a local or remote glob into a sorted list of files (``pkg:`` globs give ``pkg:``
    paths; a local glob never follows a symlink loop and gives each real file once)."""
    resolved = resolve_path(pattern)
    if is_remote(resolved):
        return match_remote(resolved)
    files = expand_local_glob(pattern)
    if pattern.startswith(PKG_PREFIX):  # keep the install-independent spelling (same order)
        return [package_path(p) for p in files]
    return files
