"""The per-stage result cache, keyed by a hash of everything a result depends on.

Layout::

    $HP_CACHE_DIR/<stage>/<key[:2]>/<key>/
        <artifacts>        files the stage wrote (Parquet tables, models, arrays)
        entry.json         the stage's output record plus the size and SHA-256 of every artifact

An entry is trusted only when ``entry.json`` exists, parses, and every artifact it lists has
the recorded size and SHA-256. ``entry.json`` is written last and atomically, and each artifact
is itself written atomically, so a run killed at any point (SIGINT, SIGTERM, SIGKILL) leaves
either a complete entry or one that the next run detects as incomplete and rebuilds. Two runs
computing the same entry at once both write complete files; whichever ``entry.json`` lands last
describes the files that are there, and a mismatch is never trusted, only rebuilt.

The key of an entry chains the key of the stage's input record with the stage's parameters
and the tool version, so a changed input or parameter invalidates exactly the stages
downstream of it.

Least-recently-used eviction keeps the cache under ``HP_CACHE_MAX_BYTES`` (default 2 GiB):
reading an entry refreshes the modification time of its ``entry.json``.
"""

import contextlib
import json
import os
import shutil
import time

from .. import __version__
from .errors import OutputError
from .fsutil import sha256_file, sha256_json, write_json_atomic

ENTRY_FILE = "entry.json"
DEFAULT_MAX_BYTES = 2 << 30


def default_cache_dir():
    """``$HP_CACHE_DIR``, else ``$XDG_CACHE_HOME/hokusai-preview``, else ``~/.cache/hokusai-preview``."""
    explicit = os.environ.get("HP_CACHE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hokusai-preview")


def make_key(stage, inputs, params):
    """The cache key of a stage run: SHA-256 of stage name, tool version, inputs and parameters."""
    return sha256_json({"stage": stage, "version": __version__, "inputs": inputs, "params": params})


class Entry:
    """A cache entry being built. Artifacts are written under :attr:`dir`; :meth:`commit` seals it."""

    def __init__(self, cache, stage, key):
        self.cache = cache
        self.stage = stage
        self.key = key
        self.dir = cache.entry_dir(stage, key)

    def path(self, name):
        """Absolute path of artifact ``name`` (write it atomically, e.g. with fsutil.atomic_path)."""
        return os.path.join(self.dir, name)

    def commit(self, record, artifacts):
        """Seal the entry: record its output record and the checksum of each artifact name."""
        files = {}
        for name in artifacts:
            path = self.path(name)
            files[name] = {"size": os.path.getsize(path), "sha256": sha256_file(path)}
        write_json_atomic(self.path(ENTRY_FILE), {"record": record, "files": files, "created": time.time()})
        self.cache.enforce_limit(keep=self.dir)


class Cache:
    """The cache rooted at ``root`` (default :func:`default_cache_dir`).

    Parameters
    ----------
    root : str, optional
    enabled : bool, default True
        When False, lookups always miss (results are still stored, refreshing the entry).
    max_bytes : int, optional
        Size cap; default ``$HP_CACHE_MAX_BYTES`` or 2 GiB.
    """

    def __init__(self, root=None, enabled=True, max_bytes=None):
        self.root = os.path.abspath(root or default_cache_dir())
        self.enabled = enabled
        if max_bytes is None:
            max_bytes = int(os.environ.get("HP_CACHE_MAX_BYTES") or DEFAULT_MAX_BYTES)
        self.max_bytes = max_bytes

    def entry_dir(self, stage, key):
        return os.path.join(self.root, stage, key[:2], key)

    def lookup(self, stage, key):
        """The output record of a verified entry, or None (absent, incomplete or corrupted)."""
        if not self.enabled:
            return None
        directory = self.entry_dir(stage, key)
        meta_path = os.path.join(directory, ENTRY_FILE)
        try:
            with open(meta_path, encoding="utf-8") as handle:
                meta = json.load(handle)
            for name, info in meta["files"].items():
                path = os.path.join(directory, name)
                if os.path.getsize(path) != info["size"] or sha256_file(path) != info["sha256"]:
                    raise ValueError("artifact %s changed" % name)
            record = meta["record"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # Truncated, corrupted or half-built: never trusted, rebuilt by the caller.
            self.discard(stage, key)
            return None
        with contextlib.suppress(OSError):
            os.utime(meta_path)  # least-recently-used bookkeeping
        return record

    def create(self, stage, key):
        """Start (or restart) building an entry; any stale content is removed first."""
        entry = Entry(self, stage, key)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path(ENTRY_FILE))  # an old seal must not vouch for new files
        try:
            os.makedirs(entry.dir, exist_ok=True)
        except OSError as exc:
            raise OutputError("cannot create cache directory %s: %s" % (entry.dir, exc.strerror or exc),
                              "set HP_CACHE_DIR to a writable directory") from exc
        return entry

    def discard(self, stage, key):
        shutil.rmtree(self.entry_dir(stage, key), ignore_errors=True)

    # --- inspection and maintenance -------------------------------------------------------

    def entries(self):
        """Yield dicts (stage, key, path, bytes, last_used, complete) for every entry on disk."""
        if not os.path.isdir(self.root):
            return
        for stage in sorted(os.listdir(self.root)):
            stage_dir = os.path.join(self.root, stage)
            if not os.path.isdir(stage_dir):
                continue
            for prefix in sorted(os.listdir(stage_dir)):
                prefix_dir = os.path.join(stage_dir, prefix)
                if not os.path.isdir(prefix_dir):
                    continue
                for key in sorted(os.listdir(prefix_dir)):
                    path = os.path.join(prefix_dir, key)
                    meta = os.path.join(path, ENTRY_FILE)
                    complete = os.path.exists(meta)
                    try:
                        last_used = os.path.getmtime(meta if complete else path)
                    except OSError:
                        continue
                    yield {"stage": stage, "key": key, "path": path, "bytes": _tree_size(path),
                           "last_used": last_used, "complete": complete}

    def enforce_limit(self, keep=None):
        """Evict least-recently-used entries until the cache fits ``max_bytes``; never ``keep``."""
        entries = sorted(self.entries(), key=lambda e: e["last_used"])
        total = sum(e["bytes"] for e in entries)
        for entry in entries:
            if total <= self.max_bytes:
                break
            if entry["path"] == keep:
                continue
            shutil.rmtree(entry["path"], ignore_errors=True)
            total -= entry["bytes"]

    def clear(self):
        """Remove every entry; returns the number of bytes freed."""
        freed = sum(e["bytes"] for e in self.entries())
        if os.path.isdir(self.root):
            for name in os.listdir(self.root):
                shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)
        return freed


def _tree_size(path):
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(directory, name))
    return total
