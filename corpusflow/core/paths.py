"""Paths: ``pkg:`` paths inside the installed package, and which paths are object-store URLs.

A ``pkg:`` prefix resolves inside the installed corpusflow package (``pkg:data/sample/ja_wiki.jsonl.gz``),
so the embedded sample, the fastText model and the tokenizers are found wherever corpusflow is
installed (including on remote workers).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PKG_PREFIX = "pkg:"
REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "http://", "https://", "hdfs://", "az://", "abfs://")


def resolve_path(path: str) -> str:
    """Resolve ``pkg:`` paths inside the package; leave URLs and other paths as given."""
    if path.startswith(PKG_PREFIX):
        return str(PACKAGE_DIR / path[len(PKG_PREFIX) :])
    return path


def package_path(path: str) -> str:
    """The ``pkg:`` spelling of a local file inside the installed package (others as given).

    Used for the files a ``pkg:`` glob matches, so that what is planned, passed to workers and
    written to outputs (the ``file`` column, the manifest's inputs) never holds the absolute
    install path: two installs give the same bytes, and a worker whose package lives elsewhere
    (a Dataflow container) resolves the path inside its own install.
    """
    prefix = str(PACKAGE_DIR) + os.sep
    if path.startswith(prefix):
        return PKG_PREFIX + path[len(prefix) :].replace(os.sep, "/")
    return path


def is_remote(path: str) -> bool:
    return path.startswith(REMOTE_SCHEMES)
