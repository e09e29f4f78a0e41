"""The per-stage result cache, keyed by a hash of everything a result depends on.

Layout::

    $HP_CACHE_DIR/<stage>/<key[:2]>/<key>/   a published entry, never modified in place:
        <artifacts>                          files the stage wrote (Parquet tables, models, arrays)
        entry.json                           the output record and its SHA-256, the size and SHA-256 of every artifact
    $HP_CACHE_DIR/.staging/<...>/            entries being built, one private directory per run
    $HP_CACHE_DIR/.locks/<stage>/<key>.lock  held (flock) by the run computing that key
    $HP_CACHE_DIR/.trash/<...>/              entries being removed

Nothing lost, nothing half-trusted:

* An entry is built in a private staging directory and published by renaming the whole
  directory onto its key, so under ``<stage>/`` there are only complete entries. A run killed
  at any point (SIGINT, SIGTERM, SIGKILL) leaves at most a staging directory, which no lookup
  reads; the next run removes staging directories whose process is gone.
* A lookup trusts an entry only when ``entry.json`` parses, its record has the recorded SHA-256
  and every artifact it lists has the recorded size and SHA-256; anything else (truncated,
  corrupted, edited) is removed and rebuilt.
* Two runs that need the same result at once: the second waits on the key's lock (which the
  kernel releases even when the holder is killed) and then reuses what the first published. If
  the lock is bypassed (lock file removed by eviction), both compute, the first published entry
  wins and the second run emits it, so both print the same numbers. A ``--no-cache`` run is
  the exception: it replaces the published entry with the one it computed (in one atomic swap
  where the system has one), so what it prints is what it computed.
* An entry is tied to its key: ``entry.json`` holds the key, and an entry found under another
  key (entry directories swapped or copied by hand) is damaged, rebuilt, never trusted.
* A cache can be moved or copied: ``entry.json`` also holds the cache directory it was sealed
  in, and paths in its record under that directory are read as paths under the cache's place now.
* Removing an entry renames it out of its key first, so a lookup never sees half of one.

Keys chain the key of the stage's input record with the stage's parameters and the tool
version, so a changed input or parameter invalidates exactly the stages downstream of it.

Least-recently-used eviction keeps the cache under ``HP_CACHE_MAX_BYTES`` (default 2 GiB) after
each commit: every lookup refreshes the modification time of the entry's ``entry.json``, and so
does a stage that starts computing, for every entry its input record reads from. Entries used in
the last :data:`EVICTION_GRACE_SECONDS` are kept even over the cap, and a commit never evicts the
entries its own record refers to, so a pipeline that is running never loses the files its next
stage is about to read, however long a stage takes.
"""

import collections
import contextlib
import json
import os
import re
import shutil
import time
import uuid

try:
    # Loaded with this module, before a stage's background imports start (core/prefetch.py): a
    # C extension loaded later by the main thread can deadlock with them (see prefetch.py).
    import fcntl
except ImportError:  # no flock (Windows): concurrent runs still publish safely, maybe twice
    fcntl = None

from .. import __version__
from .errors import OutputError, UsageError
from .fsutil import nearest_existing, process_state, refuse_undecodable, sha256_file, sha256_json, write_json_atomic
from .records import leaves

ENTRY_FILE = "entry.json"
DEFAULT_MAX_BYTES = 2 << 30
EVICTION_GRACE_SECONDS = 600
STAGING, LOCKS, TRASH = ".staging", ".locks", ".trash"
SPOOL = "tmp"  # hp-load spools stdin here (core/dataio.spool_stdin)
# What entries are filed under, all named here so that hp-cache --stage knows them all: each
# stage's record (its ``produces``), then the stages' side products.
REFERENCE = "reference"  # hp-train's forests of the base rows alone (the learning curve's first point)
CHECKPOINT = "checkpoint"  # hp-train's trees so far, to resume from (core/checkpoint.py)
BUNDLE_CHECK = "bundle-check"  # bundles whose files passed their hashes (core/bundle.py)
KINDS = ("load", "check", "sample", "train", "eval", "delta", REFERENCE, CHECKPOINT, BUNDLE_CHECK)

# What this module names things, exactly. Maintenance only ever removes what matches, so a
# --cache-dir pointed by mistake at a folder holding other files (a home folder) loses nothing.
KEY = re.compile(r"[0-9a-f]{64}\Z")
STAGE_NAME = re.compile(r"[a-z][a-z_-]*\Z")
LEFTOVER_NAMES = {
    STAGING: re.compile(r"[a-z][a-z_-]*-[0-9a-f]{16}-[0-9]+-[0-9a-f]{8}\Z"),
    SPOOL: re.compile(r"stdin-[0-9]+-[A-Za-z0-9_]+\Z"),
    TRASH: re.compile(r"removing-[0-9]+-[0-9a-f]{32}\Z"),
}
LOCK_NAME = re.compile(r"[0-9a-f]{64}\.lock\Z")


def default_cache_dir():
    """``$HP_CACHE_DIR``, else ``$XDG_CACHE_HOME/hokusai-preview``, else ``~/.cache/hokusai-preview``."""
    explicit = os.environ.get("HP_CACHE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hokusai-preview")


def make_key(stage, inputs, params):
    """The cache key of a stage run: SHA-256 of stage name (one of :data:`KINDS`), tool version,
    inputs and parameters."""
    if stage not in KINDS:  # a kind hp-cache --stage would not know
        raise ValueError("cache entries of %r are not among cache.KINDS" % stage)
    return sha256_json({"stage": stage, "version": __version__, "inputs": inputs, "params": params})


def within(root, path):
    """Whether ``path`` lies inside the directory ``root`` (a cache's, whether or not a
    :class:`Cache` was made for it), by their absolute paths; ``root`` itself is not inside."""
    return os.path.abspath(path).startswith(os.path.abspath(root).rstrip(os.sep) + os.sep)


def parse_size(text):
    """Bytes from ``"500M"``, ``"2G"``, ``"1.5GiB"``, ``"1048576"`` (K, M, G, T are powers of 1024);
    ValueError if bad. Plain ASCII digits only: float() would also take "１２", "1_000" or "+5",
    and a size mistyped so could empty the whole cache."""
    match = re.fullmatch(r"\s*([0-9]{1,30}(?:\.[0-9]{1,30})?)\s*([KMGT]?)(?:I?B|I)?\s*", str(text),
                         re.IGNORECASE | re.ASCII)  # ASCII: no Kelvin sign for K
    if not match:
        raise ValueError(text)
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    return int(float(match.group(1)) * units[match.group(2).upper()])


class Entry:
    """A cache entry being built in a private staging directory; :meth:`commit` publishes it.

    Attributes
    ----------
    reused : dict or None
        Set by :meth:`Cache.create` when, while this run waited for the key's lock, another run
        published the entry: the caller emits it instead of computing.
    dir : str
        Where artifacts go: the staging directory until committed, the entry's own after.
    """

    def __init__(self, cache, stage, key, lock):
        self.cache = cache
        self.stage = stage
        self.key = key
        self.final = cache.entry_dir(stage, key)
        self.dir = None
        self.reused = None
        self._lock = lock

    def path(self, name):
        """Absolute path of artifact ``name`` (write it atomically, e.g. with fsutil.atomic_path)."""
        return os.path.join(self.dir, name)

    def adopt(self, name, source):
        """Make file ``source`` (e.g. from another entry) artifact ``name`` of this one; returns its path.

        A hard link (no copy; a copy where links are not possible), so that this entry's checksums
        cover a file it depends on: if the file is damaged, this entry no longer verifies either.
        """
        path = self.path(name)
        try:
            os.link(source, path)
        except OSError:
            shutil.copyfile(source, path)
        return path

    def commit(self, record, artifacts):
        """Seal and publish the entry; returns the record to emit.

        Paths inside ``record`` that point into the staging directory are rewritten to the
        published location. If the key is already published and its entry verifies (another run
        published it meanwhile, its lock bypassed), that one is kept and its record returned: the
        same key means the same content and concurrent runs emit the same thing. Under --no-cache
        (lookups disabled) the new entry replaces the published one, so the run emits what it
        computed.
        """
        try:
            staging = self.dir
            record = _relocate(record, staging, self.final)
            seal(staging, record, artifacts, key=self.key, root=self.cache.root)
            os.makedirs(os.path.dirname(self.final), exist_ok=True)
            for _attempt in range(3):
                try:
                    os.rename(staging, self.final)
                    break
                except OSError:
                    if not os.path.exists(self.final):
                        raise
                if not self.cache.enabled:  # --no-cache: what this run computed is what it emits
                    if _exchange(staging, self.final):
                        self.cache._remove_tree(staging)  # the old entry, swapped out of its key
                        break
                    self.cache.remove(self.stage, self.key)
                    continue
                existing = self.cache.verified(self.stage, self.key)  # removes it unless it verifies
                if existing is not None:
                    self.cache._remove_tree(staging)
                    record = existing
                    break
            else:
                raise OutputError("cannot publish cache entry %s" % self.final, "run again")
            self.dir = self.final
        except OSError as exc:
            self.discard()
            raise OutputError("cannot write cache entry %s: %s" % (self.final, exc.strerror or exc),
                              "give --cache-dir (or HP_CACHE_DIR) a writable directory with free space") from exc
        finally:
            self.release()
        self.cache.enforce_limit(keep=[self.final] + referenced_entries(record))  # what the next stage reads
        return record

    def discard(self):
        """Abandon the build: remove the staging directory and release the lock."""
        if self.dir and self.dir != self.final:
            self.cache._remove_tree(self.dir)
        self.release()

    def release(self):
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class Cache:
    """The cache rooted at ``root`` (default :func:`default_cache_dir`).

    Parameters
    ----------
    root : str, optional
    enabled : bool, default True
        When False, lookups always miss (results are still stored; an entry already published
        under the key is replaced only if it fails verification).
    max_bytes : int, optional
        Size cap; default ``$HP_CACHE_MAX_BYTES`` (a size like ``500M``) or 2 GiB.
    notify : callable, optional
        Called with a message when a run has to wait for another one, or finds an entry damaged.
    """

    def __init__(self, root=None, enabled=True, max_bytes=None, notify=None):
        self.root = os.path.abspath(root or default_cache_dir())
        refuse_undecodable(self.root, "the cache directory")  # its paths go into every record
        self.enabled = enabled
        if max_bytes is None:
            try:
                max_bytes = parse_size(os.environ.get("HP_CACHE_MAX_BYTES") or DEFAULT_MAX_BYTES)
            except ValueError:
                raise UsageError("HP_CACHE_MAX_BYTES=%r is not a size" % os.environ["HP_CACHE_MAX_BYTES"],
                                 "set it to a number of bytes, or like 500M or 2G") from None
        place = nearest_existing(self.root)  # the directory itself, or where it would be made
        if not os.path.isdir(place):
            raise OutputError("the cache directory %s is not a directory" % place if place == self.root else
                              "the cache directory %s cannot be made: %s is not a directory" % (self.root, place),
                              "point HP_CACHE_DIR (or --cache-dir) at a directory")
        self.max_bytes = max_bytes
        self.notify = notify

    def entry_dir(self, stage, key):
        return os.path.join(self.root, stage, key[:2], key)

    # --- reading ---------------------------------------------------------------------------

    def holds(self, path):
        """Whether ``path`` lies inside this cache's directory."""
        return within(self.root, path)

    def lookup(self, stage, key):
        """The output record of a verified entry, or None (absent or not trustworthy)."""
        if not self.enabled:
            return None
        return self.verified(stage, key)

    def verified(self, stage, key):
        """The record of the published entry if it verifies, even with lookups disabled; else
        None, the entry removed (the caller rebuilds it)."""
        directory = self.entry_dir(stage, key)
        try:
            meta = read_entry(directory, key)
        except FileNotFoundError:
            if os.path.isdir(directory):
                self.remove(stage, key)  # no seal: never published by this version
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.remove(stage, key)  # truncated, corrupted or edited: rebuilt by the caller
            if self.notify is not None:  # worth knowing: something damages this cache
                self.notify("the cached %s result %s was damaged (a file cut short, changed or missing): removed, "
                            "and computed again" % (stage, key[:12]))
            return None
        _used(directory)
        return meta["record"]

    def recorded(self, stage, key):
        """The record a published entry holds, read without checking its files (None if none):
        enough to tell whether a record is the one its key names, on every cache hit too."""
        directory = self.entry_dir(stage, key)
        try:
            with open(os.path.join(directory, ENTRY_FILE), encoding="utf-8") as handle:
                meta = json.load(handle)
            record = meta.get("record")
            if not isinstance(record, dict) or meta.get("key") != key:
                return None
            return _here(meta, directory)
        except (OSError, ValueError, AttributeError):
            return None

    # --- writing ---------------------------------------------------------------------------

    def build(self, stage, key, make):
        """The record cached under ``(stage, key)``, made and published first if there is none.

        ``make(entry) -> (record, artifacts)`` writes the artifacts at ``entry.path(name)``. A run
        building the same key meanwhile is waited for and its entry used; a ``make`` that fails or
        is interrupted leaves no entry behind.
        """
        found = self.lookup(stage, key)
        if found is not None:
            return found
        entry = self.create(stage, key)
        if entry.reused is not None:
            return entry.reused
        try:
            return entry.commit(*make(entry))
        except BaseException:
            entry.discard()
            raise

    def create(self, stage, key):
        """Start building an entry. Waits while another run builds the same key.

        Returns an :class:`Entry`; when another run published the key meanwhile,
        ``entry.reused`` holds its record and nothing needs computing.
        """
        lock = self.lock(stage, key)
        entry = Entry(self, stage, key, lock)
        try:
            entry.reused = self.lookup(stage, key)
            if entry.reused is not None:
                entry.release()
                return entry
            self.collect_garbage()
            staging_root = os.path.join(self.root, STAGING)
            os.makedirs(staging_root, exist_ok=True)
            entry.dir = os.path.join(staging_root, "%s-%s-%d-%s" % (stage, key[:16], os.getpid(), uuid.uuid4().hex[:8]))
            os.mkdir(entry.dir)
        except OSError as exc:
            entry.release()
            raise OutputError("cannot create a cache entry in %s: %s" % (self.root, exc.strerror or exc),
                              _folder_hint(self.root, os.path.join(self.root, STAGING, "x"))) from exc
        except BaseException:
            entry.release()
            raise
        return entry

    def lock(self, stage, key):
        """An exclusive lock on a key (blocking); ``.release()`` it. Released by the kernel on death."""
        return _Lock(os.path.join(self.root, LOCKS, stage, key + ".lock"), self.notify, self.root)

    def remove(self, stage, key):
        """Remove a published entry (renamed out of its key first, then deleted)."""
        self._remove_tree(self.entry_dir(stage, key))

    def _remove_tree(self, path):
        trash = os.path.join(self.root, TRASH)
        try:
            os.makedirs(trash, exist_ok=True)
            moved = os.path.join(trash, "removing-%d-%s" % (os.getpid(), uuid.uuid4().hex))
            os.rename(path, moved)
        except OSError:
            moved = path  # already gone, another run moved it first, or the cache is read-only
        shutil.rmtree(moved, ignore_errors=True)
        return not os.path.lexists(path)  # out of its key: no lookup finds it (trash goes later)

    # --- inspection and maintenance -------------------------------------------------------

    def entries(self):
        """Yield dicts (stage, key, path, bytes, files, last_used) for every published entry."""
        if not os.path.isdir(self.root):
            return
        for stage in _listdir(self.root):  # unlistable (mode 0333): no entries to cap, not a failed run
            stage_dir = os.path.join(self.root, stage)
            if stage == SPOOL or not STAGE_NAME.match(stage) or not _real_dir(stage_dir):
                continue
            for prefix in _listdir(stage_dir):  # one unreadable folder must not fail a finished run
                prefix_dir = os.path.join(stage_dir, prefix)
                if not _real_dir(prefix_dir):
                    continue
                for key in _listdir(prefix_dir):
                    path = os.path.join(prefix_dir, key)
                    if not (KEY.match(key) and key[:2] == prefix and _real_dir(path)):
                        continue  # not an entry this tool made
                    try:
                        last_used = os.path.getmtime(os.path.join(path, ENTRY_FILE))
                    except OSError:
                        try:
                            last_used = os.path.getmtime(path)
                        except OSError:
                            continue  # removed meanwhile
                    size, files = _tree_size(path)
                    yield {"stage": stage, "key": key, "path": path, "bytes": size, "files": files,
                           "last_used": last_used}

    def unreadable(self):
        """Yield (path, reason) for the folders entries() cannot list: the root, stages, prefixes."""
        def listed(folder):
            try:
                return [os.path.join(folder, name) for name in sorted(os.listdir(folder))], None
            except OSError as exc:
                return [], exc.strerror or str(exc)

        if not os.path.isdir(self.root):
            return
        stages, reason = listed(self.root)
        if reason:
            yield self.root, reason
        for stage_dir in stages:
            name = os.path.basename(stage_dir)
            if name == SPOOL or not STAGE_NAME.match(name) or not _real_dir(stage_dir):
                continue
            prefixes, reason = listed(stage_dir)
            if reason:
                yield stage_dir, reason
            for prefix_dir in filter(_real_dir, prefixes):
                reason = listed(prefix_dir)[1]
                if reason:
                    yield prefix_dir, reason

    def leftovers(self):
        """Yield (path, bytes, owner alive) for staging directories and spooled inputs."""
        for folder in (STAGING, SPOOL, TRASH):
            base = os.path.join(self.root, folder)
            if not os.path.isdir(base):
                continue
            for name in _listdir(base):
                path = os.path.join(base, name)
                if not LEFTOVER_NAMES[folder].match(name) or os.path.islink(path):
                    continue  # not something this tool left
                alive = _owner_alive(name)
                size = _tree_size(path)[0] if os.path.isdir(path) else _file_size(path)
                yield path, size, alive

    def collect_garbage(self):
        """Remove what killed runs left: their staging directories, spooled input and trash."""
        for path, _size, alive in list(self.leftovers()):
            if alive:
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def enforce_limit(self, keep=(), max_bytes=None, grace=EVICTION_GRACE_SECONDS):
        """Evict least-recently-used entries until the cache fits; returns the entries removed.

        Never evicts the entry directories in ``keep``, nor entries used in the last ``grace`` seconds.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        entries = sorted(self.entries(), key=lambda e: e["last_used"])
        # Entries share files by hard links (hp-train's entry holds the reference predictions),
        # so count bytes on disk: a file is freed only with the last entry that links it.
        files = {id(e): _tree_files(e["path"]) for e in entries}
        links = collections.Counter(inode for e in entries for inode in files[id(e)])
        sizes = {inode: found[0] for e in entries for inode, found in files[id(e)].items()}
        total = sum(sizes.values())
        removed = []
        now = time.time()
        for entry in entries:
            if total <= limit:
                break
            if entry["path"] in keep or now - entry["last_used"] < grace:
                continue
            if not self._remove_tree(entry["path"]):
                continue  # cannot be removed (a read-only cache): nothing freed
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.root, LOCKS, entry["stage"], entry["key"] + ".lock"))
            for inode in files[id(entry)]:
                links[inode] -= 1
                if not links[inode]:
                    total -= sizes[inode]
            removed.append(entry)
        return removed

    def clear(self, stage=None):
        """Remove every entry (of ``stage`` only, if given) and what killed runs left; returns bytes freed.

        OutputError when some entry cannot be removed (a read-only cache)."""
        entries = [e for e in self.entries() if stage is None or e["stage"] == stage]
        kept = [e for e in entries if not self._remove_tree(e["path"])]
        if kept:
            from .text import plural

            raise OutputError("cannot remove %d of %s in %s (is it read-only?)" % (
                len(kept), plural(len(entries), "cache entry", "cache entries"), self.root),
                "check the directory's permissions")
        freed = sum(e["bytes"] for e in entries)
        if stage is None:
            before = sum(size for _path, size, alive in self.leftovers() if not alive)
            self.collect_garbage()
            freed += before - sum(size for _path, size, alive in self.leftovers() if not alive)
            # Runs may be waiting on these lock files; removing them is harmless, since a run
            # that then builds a key twice publishes it once (Entry.commit keeps a verified twin).
            self._remove_locks()
        return freed

    def _remove_locks(self):
        locks = os.path.join(self.root, LOCKS)
        for stage in _listdir(locks):
            folder = os.path.join(locks, stage)
            if not (STAGE_NAME.match(stage) and _real_dir(folder)):
                continue
            for name in _listdir(folder):
                if LOCK_NAME.match(name):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(folder, name))
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only when empty
        with contextlib.suppress(OSError):
            os.rmdir(locks)


def read_entry(directory, key=None):
    """The parsed ``entry.json`` of an entry directory after checking every artifact it lists,
    its record's paths under the cache it was sealed in moved to where that cache is now.

    ``key`` (default: the directory's name, which is the key in the cache's layout) is the key
    looked up: an entry sealed under another key (moved or copied by hand) does not verify.
    Raises FileNotFoundError when there is no seal, ValueError (or KeyError, TypeError...) when
    the seal, its key or an artifact does not match.
    """
    with open(os.path.join(directory, ENTRY_FILE), encoding="utf-8") as handle:
        meta = json.load(handle)
    if not isinstance(meta.get("record"), dict):
        raise ValueError("entry has no record")
    if meta.get("record_sha256") != sha256_json(meta["record"]):
        raise ValueError("record changed")  # e.g. a count edited by hand: the record is output too
    expected = os.path.basename(os.path.normpath(directory)) if key is None else key
    if meta.get("key") != expected or meta["record"].get("key", expected) != expected:
        raise ValueError("entry sealed under another key")  # directories swapped or copied by hand
    for name, info in meta["files"].items():
        path = os.path.join(directory, name)
        if os.path.basename(name) != name:
            raise ValueError("artifact name %r" % name)
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            raise ValueError("artifact %s missing" % name) from None
        if size != info["size"] or sha256_file(path) != info["sha256"]:
            raise ValueError("artifact %s changed" % name)
    meta["record"] = _here(meta, directory)
    return meta


def _root_of(directory):
    """The cache directory an entry directory (``<root>/<stage>/<key[:2]>/<key>``) is in."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.normpath(directory))))


def _here(meta, directory):
    """The record of ``meta`` (read from ``directory``) with paths under the cache directory it
    was sealed in moved to the cache directory it is in now (a cache moved or copied whole)."""
    sealed_in = meta.get("root")
    now = _root_of(directory)
    if not isinstance(sealed_in, str) or sealed_in == now:
        return meta["record"]
    return _relocate(meta["record"], sealed_in, now)


def referenced_entries(record):
    """Entry directories (any cache root) that file paths inside ``record`` point into, sorted."""
    found = set()
    for _path, _name, value in leaves(record):
        if isinstance(value, str) and os.path.isabs(value):
            directory = os.path.dirname(value)
            key, prefix = os.path.basename(directory), os.path.basename(os.path.dirname(directory))
            if KEY.match(key) and key[:2] == prefix:
                found.add(directory)
    return sorted(found)


def damaged_references(record):
    """The entries ``record`` reads files from that are gone or fail verification (list of paths).

    A stage about to compute calls this: upstream files are only trusted while their entry
    verifies, so a saved record whose cached files were since evicted or damaged is refused
    instead of silently giving other numbers. The sound ones are marked used now: the stage is
    about to read them.
    """
    damaged = []
    for directory in referenced_entries(record):
        try:
            read_entry(directory)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            damaged.append(directory)
        else:
            _used(directory)
    return damaged


def _used(directory):
    """Least-recently-used bookkeeping: the entry in ``directory`` was used now."""
    with contextlib.suppress(OSError):  # a read-only cache is read all the same
        os.utime(os.path.join(directory, ENTRY_FILE))


def seal(directory, record, artifacts, key=None, root=None):
    """Write ``entry.json`` for the artifacts in ``directory``: new entries, and checkpoints as they grow.

    ``key`` (default: the directory's name) ties the entry to its key; ``root`` (default: the
    cache directory of an entry directory) is where the cache is, so that its paths can follow
    it when the cache is moved.
    """
    files = {name: {"size": os.path.getsize(os.path.join(directory, name)),
                    "sha256": sha256_file(os.path.join(directory, name))} for name in artifacts}
    record = json.loads(json.dumps(record))  # as it will read back (tuples as lists, keys as text)
    write_json_atomic(os.path.join(directory, ENTRY_FILE), {
        "record": record, "files": files, "record_sha256": sha256_json(record),
        "key": key or os.path.basename(os.path.normpath(directory)),
        "root": root or _root_of(directory), "created": time.time()})


class _Lock:
    """An flock on a lock file; waiting is announced once through ``notify``."""

    def __init__(self, path, notify=None, root=None):
        self.handle = None
        if fcntl is None:
            return
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.handle = open(path, "a")
        except OSError as exc:
            raise OutputError("cannot create a lock in %s: %s" % (os.path.dirname(path), exc.strerror or exc),
                              _folder_hint(root, path)) from exc
        try:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if notify is not None:
                    notify("waiting for another run computing the same result%s" % _holder(path))
                fcntl.flock(self.handle, fcntl.LOCK_EX)
            try:  # who holds it, for a run that waits on it to name
                self.handle.truncate(0)
                self.handle.write("%d\n" % os.getpid())
                self.handle.flush()
            except OSError:
                pass
        except OSError as exc:  # e.g. ENOLCK: a network filesystem without locks
            self.release()
            raise OutputError("cannot take a lock in the cache directory %s: %s" % (
                root or os.path.dirname(path), exc.strerror or exc),
                "point HP_CACHE_DIR (or --cache-dir) at a directory on a local disk") from exc
        except BaseException:
            self.release()
            raise

    def release(self):
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.truncate(0)  # still held: no later waiter names this run
            self.handle.close()  # closing the file releases the flock
            self.handle = None


def _folder_hint(root, path):
    """What to do when the cache cannot make a folder on the way to ``path``: remove a file that
    stands where the cache keeps a folder (a stray ``.locks``), else give it another directory."""
    if root:
        current = root
        for part in os.path.relpath(os.path.dirname(path), root).split(os.sep):
            current = os.path.join(current, part)
            if os.path.lexists(current) and not os.path.isdir(current):
                return ("remove %s, a file where the cache keeps a folder (or give --cache-dir another directory)"
                        % current)
    return "give --cache-dir (or HP_CACHE_DIR) a writable directory"


def _holder(path):
    """' (process 1234)' for the run holding the lock at ``path``, and what to do when it is
    stopped (a Ctrl-Z'd run holds it until resumed); '' when that cannot be told."""
    try:
        with open(path) as handle:
            pid = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return ""
    if process_state(pid) in ("T", "t"):
        return " (process %d, which is stopped: resume it with fg, or end it with kill %d)" % (pid, pid)
    return " (process %d)" % pid


def _relocate(value, old, new):
    """``value`` with every string path under ``old`` moved under ``new``."""
    if isinstance(value, dict):
        return {k: _relocate(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_relocate(v, old, new) for v in value]
    if isinstance(value, str) and (value == old or value.startswith(old + os.sep)):
        return new + value[len(old):]
    return value


def _exchange(a, b):
    """Swap directories ``a`` and ``b`` in one step (Linux renameat2 RENAME_EXCHANGE); False
    where the system cannot (the caller then removes ``b`` and renames ``a`` onto it)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _owner_alive(name):
    """Whether the process whose id is in a staging, spool or trash name (``...-<pid>-<random>``) still runs."""
    try:
        pid = int(name.rsplit("-", 2)[-2])
    except (ValueError, IndexError):
        return False
    return pid == os.getpid() or process_state(pid) is not None


def _real_dir(path):
    """A directory, not a link to one (maintenance never follows links out of the cache)."""
    return os.path.isdir(path) and not os.path.islink(path)


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _tree_files(path):
    """{(device, inode): (bytes, links)} of the files under ``path``."""
    found = {}
    for directory, _dirs, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                info = os.stat(os.path.join(directory, name))
                found[(info.st_dev, info.st_ino)] = (info.st_size, info.st_nlink)
    return found


def _tree_size(path):
    """(bytes, files) under ``path``; a file hard-linked into n entries counts 1/n in each."""
    found = _tree_files(path)
    return sum(size // max(links, 1) for size, links in found.values()), len(found)
