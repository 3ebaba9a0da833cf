"""Where attachment bytes live, behind a small interface: a local directory by default.

An S3-compatible store implements the same three methods (put, get, exists) with boto3's
put_object/get_object/head_object on a bucket, keys as they are here; select it in app.py.
"""

import os
import tempfile
from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Content-addressed files under a directory: `ab/cd/abcdef…`; writing the same key twice stores once."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key.replace("-", "").isalnum():
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key[:2] / key[2:4] / key

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)  # atomic: a reader never sees half a file

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()
