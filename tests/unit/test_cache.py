"""The cache on its own: publishing, verification, eviction, locking, leftovers of killed runs."""

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from hokusai_preview.core.cache import Cache, parse_size, read_entry, within
from hokusai_preview.core.errors import OutputError, UsageError

KEY = "ab" + "0" * 62


def build(cache, stage="s", key=KEY, payload=b"x" * 1000, name="a.bin"):
    """Create, fill and commit one entry; returns the emitted record."""
    entry = cache.create(stage, key)
    assert entry.reused is None
    with open(entry.path(name), "wb") as handle:
        handle.write(payload)
    return entry.commit({"path": entry.path(name), "nested": [{"path": entry.path(name)}], "n": 1}, [name])


def staging(cache):
    folder = os.path.join(cache.root, ".staging")
    return os.listdir(folder) if os.path.isdir(folder) else []


def key(n):
    return "%02x" % n + "%062x" % n


def test_commit_publishes_the_whole_entry_and_points_the_record_at_it(tmp_path):
    cache = Cache(str(tmp_path))
    record = build(cache)
    final = cache.entry_dir("s", KEY)
    assert record["path"] == os.path.join(final, "a.bin") == record["nested"][0]["path"]
    with open(record["path"], "rb") as handle:
        assert handle.read() == b"x" * 1000
    assert cache.lookup("s", KEY) == record
    assert staging(cache) == []


def test_an_entry_is_invisible_until_committed_and_discard_leaves_nothing(tmp_path):
    cache = Cache(str(tmp_path))
    entry = cache.create("s", KEY)
    with open(entry.path("a.bin"), "wb") as handle:
        handle.write(b"half")
    assert cache.lookup("s", KEY) is None
    assert not os.path.exists(cache.entry_dir("s", KEY))
    entry.discard()
    assert staging(cache) == [] and list(cache.entries()) == []
    assert build(cache)["n"] == 1  # the key is free again (the lock was released)


def _flip(path):
    with open(path, "r+b") as handle:
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([first[0] ^ 0xFF]))


def _truncate(path):
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)


CORRUPTIONS = {
    "artifact byte flipped": lambda d: _flip(os.path.join(d, "a.bin")),
    "artifact truncated": lambda d: _truncate(os.path.join(d, "a.bin")),
    "artifact deleted": lambda d: os.unlink(os.path.join(d, "a.bin")),
    "entry.json truncated": lambda d: _truncate(os.path.join(d, "entry.json")),
    "entry.json not JSON": lambda d: open(os.path.join(d, "entry.json"), "w").write("\x00garbage"),
    "entry.json deleted": lambda d: os.unlink(os.path.join(d, "entry.json")),
    "entry.json lists a file outside": lambda d: _rewrite_files(d, {"../../x": {"size": 1, "sha256": "0"}}),
    "entry.json record edited": lambda d: _rewrite(d, lambda meta: meta["record"].update(n=2)),
}


def _rewrite(directory, edit):
    path = os.path.join(directory, "entry.json")
    with open(path) as handle:
        meta = json.load(handle)
    edit(meta)
    with open(path, "w") as handle:
        json.dump(meta, handle)


def _rewrite_files(directory, files):
    _rewrite(directory, lambda meta: meta.update(files=files))


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_damaged_entry_is_never_trusted_and_is_removed(tmp_path, corruption):
    cache = Cache(str(tmp_path))
    build(cache)
    CORRUPTIONS[corruption](cache.entry_dir("s", KEY))
    assert cache.lookup("s", KEY) is None
    assert not os.path.exists(cache.entry_dir("s", KEY))
    assert build(cache, payload=b"y" * 10)["n"] == 1  # and rebuilt
    assert cache.lookup("s", KEY) is not None


def _age(cache, stage, k, seconds):
    path = os.path.join(cache.entry_dir(stage, k), "entry.json")
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_eviction_removes_the_least_recently_used_not_the_oldest(tmp_path):
    cache = Cache(str(tmp_path), max_bytes=10 ** 9)
    for n, age in ((1, 3000), (2, 2000), (3, 1000)):
        build(cache, key=key(n))
        _age(cache, "s", key(n), age)
    entry_bytes = next(cache.entries())["bytes"]
    assert cache.lookup("s", key(1)) is not None  # the oldest entry is used again
    _age(cache, "s", key(1), 700)  # ... a while ago, but more recently than 2 and 3
    cache.max_bytes = int(entry_bytes * 2.5)
    build(cache, key=key(4))
    kept = {e["key"] for e in cache.entries()}
    assert kept == {key(1), key(4)}


def test_maintenance_never_touches_what_the_cache_did_not_make(tmp_path):
    # A --cache-dir pointed by mistake at a folder of other things (a home folder): eviction
    # and clearing remove the tool's entries and leftovers only.
    mine = ["projects/app/src/main.py", "Documents/2024/taxes/return.pdf", "tmp/notes.txt",
            ".staging/draft.txt", ".trash/keep.txt", ".locks/s/mine.lock", "s/ab/" + "0" * 62 + "/x.txt",
            "s/" + KEY[:2] + "/not-a-key/y.txt", "load/sub/x/z.txt"]
    for name in mine:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep me")
        os.utime(path, (time.time() - 7200,) * 2)
    (tmp_path / "s" / "cd").mkdir(parents=True)
    os.symlink(str(tmp_path / "projects"), str(tmp_path / "s" / "cd" / ("cd" + "0" * 62)))
    cache = Cache(str(tmp_path), max_bytes=1)
    build(cache, key=key(1))
    build(cache, key=key(2))
    assert {e["key"] for e in cache.entries()} == {key(1), key(2)}
    assert len(cache.enforce_limit(max_bytes=1, grace=0)) == 2
    build(cache, key=key(3))
    cache.clear()
    assert list(cache.entries()) == []
    for name in mine:
        assert (tmp_path / name).read_text() == "keep me", name
    assert (tmp_path / "projects" / "app" / "src" / "main.py").exists()


def test_entries_in_use_are_not_evicted_even_over_the_cap(tmp_path):
    cache = Cache(str(tmp_path), max_bytes=1)
    for n in range(3):
        build(cache, key=key(n))
    assert len(list(cache.entries())) == 3  # all used in the last minutes: a running pipe needs them
    removed = cache.enforce_limit(max_bytes=1, grace=0)
    assert len(removed) == 3 and list(cache.entries()) == []


def test_a_long_stage_keeps_the_entries_its_record_reads_from(tmp_path):
    """A stage that computed for longer than the grace period: the upstream entries it read were
    last used when it started. Starting to compute marks them used, and its commit never evicts
    what its own record refers to, which the next stage reads."""
    from hokusai_preview.core.cache import damaged_references

    cache = Cache(str(tmp_path), max_bytes=1)
    upstream = build(cache, key=key(1))  # e.g. hp-sample's entry, read by hp-train
    _age(cache, "s", key(1), 4000)
    assert damaged_references(upstream) == []
    assert time.time() - os.path.getmtime(os.path.join(cache.entry_dir("s", key(1)), "entry.json")) < 60
    _age(cache, "s", key(1), 4000)  # ... and the stage then ran for over an hour
    entry = cache.create("t", key(2))
    with open(entry.path("b.bin"), "wb") as handle:
        handle.write(b"y" * 1000)
    entry.commit({"model": entry.path("b.bin"), "table": upstream["path"]}, ["b.bin"])
    assert {e["key"] for e in cache.entries()} == {key(1), key(2)}  # over the cap, but both are needed


def test_eviction_counts_a_file_shared_by_hard_links_once_and_frees_it_with_its_last_entry(tmp_path):
    cache = Cache(str(tmp_path), max_bytes=10 ** 9)
    shared = build(cache, key=key(1), payload=b"s" * 100000)["path"]  # oldest: links the big file first
    for n in (2, 3):  # two more entries hold the same file, as hp-train's entries hold reference predictions
        entry = cache.create("s", key(n))
        entry.adopt("a.bin", shared)
        entry.commit({"path": entry.path("a.bin")}, ["a.bin"])
    build(cache, key=key(4), payload=b"y" * 1000)
    for n, age in ((1, 4000), (2, 3000), (3, 2000), (4, 1000)):
        _age(cache, "s", key(n), age)
    # On disk: 100 KB once, 1 KB once, and the small entry.json files. Evicting the first two
    # entries frees no byte of the shared file; only evicting all three of its entries does.
    removed = cache.enforce_limit(max_bytes=50000, grace=0)
    assert [e["key"] for e in removed] == [key(1), key(2), key(3)]
    assert [e["key"] for e in cache.entries()] == [key(4)]


def test_entries_a_read_only_cache_keeps_are_neither_counted_as_freed_nor_cleared_silently(tmp_path, monkeypatch):
    from hokusai_preview.core import cache as cache_module
    from hokusai_preview.core.errors import OutputError

    cache = Cache(str(tmp_path), max_bytes=10 ** 9)
    for n in (1, 2):
        build(cache, key=key(n))

    def refused(*_args, **_kwargs):
        raise PermissionError(30, "Read-only file system")

    # What a read-only file system answers (root ignores permission bits, so a test cannot chmod).
    monkeypatch.setattr(cache_module.os, "rename", refused)
    monkeypatch.setattr(cache_module.shutil, "rmtree", lambda *a, **k: None)
    assert cache.enforce_limit(max_bytes=0, grace=0) == []
    with pytest.raises(OutputError) as error:
        cache.clear()
    assert error.value.line().startswith("cannot remove 2 of 2 cache entries in %s" % cache.root)
    assert len(list(cache.entries())) == 2


def test_without_hp_cache_dir_the_cache_is_the_users_own(tmp_path, monkeypatch):
    """$XDG_CACHE_HOME/hokusai-preview, else ~/.cache/hokusai-preview; a stage run puts its entry there."""
    from helpers import EXAMPLES, cache_files, run
    from hokusai_preview.core.cache import default_cache_dir

    monkeypatch.delenv("HP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == str(tmp_path / "xdg" / "hokusai-preview")
    assert run("hp-load", EXAMPLES + "/hpc_jobs_500.json").code == 0
    assert cache_files(tmp_path / "xdg" / "hokusai-preview")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == str(tmp_path / "home" / ".cache" / "hokusai-preview")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HP_CACHE_DIR", "mine")  # relative: to where the command started
    assert default_cache_dir() == str(tmp_path / "mine")


def test_the_cap_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HP_CACHE_MAX_BYTES", "3M")
    assert Cache(str(tmp_path)).max_bytes == 3 << 20
    monkeypatch.setenv("HP_CACHE_MAX_BYTES", "lots")
    with pytest.raises(UsageError) as error:
        Cache(str(tmp_path))
    assert "HP_CACHE_MAX_BYTES" in error.value.line()


@pytest.mark.parametrize("text,expected", [("1048576", 1048576), ("500M", 500 << 20), ("2G", 2 << 30),
                                           ("2GiB", 2 << 30), ("1.5k", 1536), ("0", 0),
                                           ("500Mi", 500 << 20)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "lots", "inf", "nan", "1e306T", "1e308K",
                                  "１２", "1_000", "+5", "5X", "5\u212a"])  # float() took 3 of them; U+212A: Kelvin
def test_parse_size_refuses(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_a_second_builder_waits_for_the_first_and_reuses_its_entry(tmp_path):
    messages = []
    first = Cache(str(tmp_path))
    second = Cache(str(tmp_path), notify=messages.append)
    entry = first.create("s", KEY)
    got = {}
    waiter = threading.Thread(target=lambda: got.update(entry=second.create("s", KEY)))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # blocked on the key's lock while the first run computes
    with open(entry.path("a.bin"), "wb") as handle:
        handle.write(b"z")
    record = entry.commit({"path": entry.path("a.bin")}, ["a.bin"])
    waiter.join(10)
    assert not waiter.is_alive()
    assert got["entry"].reused == record
    assert messages == ["waiting for another run computing the same result (process %d)" % os.getpid()]


def test_a_run_waiting_on_a_stopped_one_says_which_and_what_to_do(tmp_path):
    # A run suspended with Ctrl-Z holds its keys' locks until resumed: the waiter says so.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from hokusai_preview.core.cache import Cache; "
        "entry = Cache(sys.argv[1]).create('s', sys.argv[2]); print('held', flush=True); time.sleep(60)"),
        str(tmp_path), KEY], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        os.kill(holder.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the signal is delivered a moment after kill() returns
            with open("/proc/%d/stat" % holder.pid, "rb") as handle:
                if handle.read().rsplit(b")", 1)[1].split()[0] in (b"T", b"t"):
                    break
            time.sleep(0.01)
        messages = []
        waiter = threading.Thread(target=lambda: Cache(str(tmp_path), notify=messages.append).create("s", KEY))
        waiter.daemon = True
        waiter.start()
        deadline = time.monotonic() + 10
        while not messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiter.is_alive() and messages == [
            "waiting for another run computing the same result (process %d, which is stopped: resume it with fg, "
            "or end it with kill %d)" % (holder.pid, holder.pid)]
    finally:
        holder.kill()
        holder.wait()
    waiter.join(10)
    assert not waiter.is_alive()  # the lock died with its holder


def test_when_two_runs_publish_the_same_key_the_first_wins_and_both_emit_it(tmp_path):
    cache = Cache(str(tmp_path))
    a = cache.create("s", KEY)
    os.unlink(os.path.join(cache.root, ".locks", "s", KEY + ".lock"))  # a lock bypassed (e.g. evicted)
    b = cache.create("s", KEY)
    for entry, payload in ((a, b"first"), (b, b"second")):
        with open(entry.path("a.bin"), "wb") as handle:
            handle.write(payload)
    ra = a.commit({"path": a.path("a.bin"), "who": "a"}, ["a.bin"])
    rb = b.commit({"path": b.path("a.bin"), "who": "b"}, ["a.bin"])
    assert rb == ra and ra["who"] == "a"
    with open(ra["path"], "rb") as handle:
        assert handle.read() == b"first"
    assert staging(cache) == []


@pytest.mark.parametrize("exchange", [True, False], ids=["swapped", "removed-then-renamed"])
def test_without_the_cache_the_new_entry_replaces_the_published_one(tmp_path, monkeypatch, exchange):
    # --no-cache recomputes, and what it prints must be what it computed (not the old record
    # while saying "miss"), so the new entry takes the key.
    import hokusai_preview.core.cache as cache_module

    if not exchange:
        monkeypatch.setattr(cache_module, "_exchange", lambda a, b: False)
    build(Cache(str(tmp_path)), payload=b"old")
    entry = Cache(str(tmp_path), enabled=False).create("s", KEY)
    assert entry.reused is None  # --no-cache still recomputes
    with open(entry.path("a.bin"), "wb") as handle:
        handle.write(b"new")
    record = entry.commit({"path": entry.path("a.bin"), "nested": [], "n": 2}, ["a.bin"])
    assert record["n"] == 2 and entry.dir == Cache(str(tmp_path)).entry_dir("s", KEY)
    with open(record["path"], "rb") as handle:
        assert handle.read() == b"new"
    assert read_entry(entry.dir)["record"] == record == Cache(str(tmp_path)).lookup("s", KEY)
    assert staging(Cache(str(tmp_path))) == []
    trash = os.path.join(str(tmp_path), ".trash")
    assert not os.path.isdir(trash) or os.listdir(trash) == []


def test_a_moved_cache_reads_its_entries_at_their_new_place(tmp_path):
    # The full-disk hint says to move the cache: its records must follow it.
    first = Cache(str(tmp_path / "one"))
    record = build(first)
    other = build(first, stage="t", key=key(7))
    chained = first.create("u", key(8))  # a record reading another entry's file
    chained_record = chained.commit({"table": record["path"], "own": other["path"]}, [])
    os.rename(str(tmp_path / "one"), str(tmp_path / "two"))
    moved = Cache(str(tmp_path / "two"))
    found = moved.lookup("s", KEY)
    assert found["path"] == os.path.join(moved.entry_dir("s", KEY), "a.bin") == found["nested"][0]["path"]
    assert moved.recorded("s", KEY) == found
    assert os.path.isfile(found["path"])
    again = moved.lookup("u", key(8))
    assert again["table"] == found["path"] and os.path.isfile(again["own"])
    assert again != chained_record
    from hokusai_preview.core.cache import damaged_references

    assert damaged_references(again) == []


def test_a_copied_cache_reads_its_own_files_not_the_original_s(tmp_path):
    import shutil

    build(Cache(str(tmp_path / "one")))
    shutil.copytree(str(tmp_path / "one"), str(tmp_path / "two"))
    copy = Cache(str(tmp_path / "two"))
    assert copy.lookup("s", KEY)["path"].startswith(str(tmp_path / "two") + os.sep)


@pytest.mark.parametrize("how", ["swapped", "copied"])
def test_an_entry_under_another_key_is_damaged_not_trusted(tmp_path, how):
    import shutil

    cache = Cache(str(tmp_path))
    build(cache, key=key(1), payload=b"one")
    build(cache, key=key(2), payload=b"two")
    a, b = cache.entry_dir("s", key(1)), cache.entry_dir("s", key(2))
    if how == "swapped":
        os.rename(a, a + ".x")
        os.rename(b, a)
        os.rename(a + ".x", b)
    else:
        shutil.rmtree(b)
        shutil.copytree(a, b)
    assert cache.lookup("s", key(2)) is None and not os.path.exists(b)  # removed, to be rebuilt
    if how == "swapped":
        assert cache.recorded("s", key(1)) is None
        with pytest.raises(ValueError):
            read_entry(a)  # sealed under key(2): its directory's name is the key looked up
        assert cache.lookup("s", key(1)) is None
    else:
        assert cache.lookup("s", key(1))["path"].startswith(a)  # the original is untouched


def test_without_the_cache_a_damaged_entry_is_replaced(tmp_path):
    old = build(Cache(str(tmp_path)), payload=b"old")
    with open(old["path"], "wb") as handle:
        handle.write(b"bad")
    entry = Cache(str(tmp_path), enabled=False).create("s", KEY)
    with open(entry.path("a.bin"), "wb") as handle:
        handle.write(b"new")
    record = entry.commit({"path": entry.path("a.bin")}, ["a.bin"])
    with open(record["path"], "rb") as handle:
        assert handle.read() == b"new"
    assert read_entry(Cache(str(tmp_path)).entry_dir("s", KEY))["record"] == record


@pytest.mark.parametrize("waiting", [False, True], ids=["at-once", "while-waiting"])
def test_a_lock_the_filesystem_refuses_is_an_output_error_and_leaks_no_file(tmp_path, monkeypatch, waiting):
    import fcntl  # the cache locks with it (POSIX)
    handles = []

    def flock(handle, operation):
        handles.append(handle)
        if waiting and operation & fcntl.LOCK_NB:
            raise BlockingIOError(errno.EAGAIN, "busy")
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))  # NFS without a lock daemon

    monkeypatch.setattr(fcntl, "flock", flock)
    notes = []
    cache = Cache(str(tmp_path / "cache"), notify=notes.append)
    with pytest.raises(OutputError) as raised:
        cache.create("s", KEY)
    assert raised.value.exit_code == 7
    line = raised.value.line()
    assert "\n" not in line and str(tmp_path / "cache") in line and os.strerror(errno.ENOLCK) in line
    assert "HP_CACHE_DIR" in line and "--cache-dir" in line
    assert handles and all(handle.closed for handle in handles)
    assert len(notes) == int(waiting)


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_leftovers_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    cache = Cache(str(tmp_path))
    dead = os.path.join(cache.root, ".staging", "train-%s-%d-%s" % ("0" * 16, _dead_pid(), "deadbeef"))
    alive = os.path.join(cache.root, ".staging", "train-%s-%d-%s" % ("1" * 16, os.getppid(), "cafecafe"))
    trash = os.path.join(cache.root, ".trash", "removing-%d-%s" % (_dead_pid(), "0" * 32))
    for folder in (dead, alive, trash):
        os.makedirs(folder)
        with open(os.path.join(folder, "model.skops.tmp"), "wb") as handle:
            handle.write(b"partial")
    assert cache.lookup("train", "0" * 64) is None  # never read as an entry
    build(cache)  # any new entry collects the garbage first
    assert not os.path.exists(dead) and not os.path.exists(trash)
    assert os.path.exists(alive)


def test_clear_removes_entries_of_one_stage_or_everything(tmp_path):
    cache = Cache(str(tmp_path))
    build(cache, stage="load", key=key(1))
    build(cache, stage="train", key=key(2))
    assert cache.clear(stage="train") > 0
    assert [e["stage"] for e in cache.entries()] == ["load"]
    os.makedirs(os.path.join(cache.root, ".staging", "x-%s-%d-%s" % ("0" * 16, _dead_pid(), "ff" * 4)))
    assert cache.clear() > 0
    assert list(cache.entries()) == [] and staging(cache) == []


def _checkpoint_with_a_tree(cache, k, rows):
    from sklearn.tree import DecisionTreeClassifier

    from hokusai_preview.core.checkpoint import Checkpoint

    tree = DecisionTreeClassifier(random_state=0).fit([[0], [1]], [0, 1])
    saved = Checkpoint(cache, k, rows).open()
    saved.save([tree])
    saved.close()


@pytest.mark.parametrize("how", ["directory copied over", "same key, other rows"])
def test_a_checkpoint_of_another_run_is_never_resumed(tmp_path, how):
    import shutil

    from hokusai_preview.core.checkpoint import STAGE, Checkpoint

    cache = Cache(str(tmp_path))
    _checkpoint_with_a_tree(cache, key(1), "rows-one")
    assert len(Checkpoint(cache, key(1), "rows-one").open().trees) == 1  # its own run resumes
    if how == "directory copied over":
        _checkpoint_with_a_tree(cache, key(2), "rows-two")
        shutil.rmtree(cache.entry_dir(STAGE, key(2)))
        shutil.copytree(cache.entry_dir(STAGE, key(1)), cache.entry_dir(STAGE, key(2)))
        opened = Checkpoint(cache, key(2), "rows-two").open()
    else:
        opened = Checkpoint(cache, key(1), "rows-other").open()
    assert opened.trees == [] and opened.files == []
    opened.close()


def test_hp_cache_says_a_missing_directory_does_not_exist_and_counts_in_words(tmp_path):
    from helpers import run

    missing = tmp_path / "typo"
    shown = run("hp-cache", "--cache-dir", str(missing))
    assert shown.code == 0 and shown.stdout.splitlines()[0] == "cache: %s (does not exist yet: nothing cached " \
                                                               "there)" % missing
    assert shown.stdout.splitlines()[1].startswith("size: 0 B in 0 entries (cap ")
    assert json.loads(run("hp-cache", "--cache-dir", str(missing), "--json").stdout)["exists"] is False
    assert not missing.exists()  # looking makes nothing
    build(Cache(str(tmp_path / "one")))
    one = run("hp-cache", "--cache-dir", str(tmp_path / "one"))
    assert one.stdout.splitlines()[0] == "cache: %s" % (tmp_path / "one")
    assert " in 1 entry (cap " in one.stdout
    evicted = run("hp-cache", "--cache-dir", str(tmp_path / "one"), "--max-bytes", "0")
    assert evicted.err_lines[0].startswith("hp-cache: evicted 1 entry (")


@pytest.mark.parametrize("folder", [".locks", ".staging"])
def test_a_file_where_the_cache_keeps_a_folder_is_named_with_what_to_do(tmp_path, folder):
    (tmp_path / folder).write_text("x")
    with pytest.raises(OutputError) as caught:
        Cache(str(tmp_path)).create("s", KEY)
    assert caught.value.hint == ("remove %s, a file where the cache keeps a folder (or give --cache-dir another "
                                 "directory)" % (tmp_path / folder))


def test_every_kind_of_entry_is_one_hp_cache_knows():
    """A stage or side product filing entries under a name of its own would escape hp-cache --stage."""
    from hokusai_preview.core.cache import KINDS, make_key
    from hokusai_preview.core.command import Stage
    from hokusai_preview.stages import check, delta, eval, load, sample, train  # noqa: F401 (their Stage classes)

    produced = {cls.produces for cls in Stage.__subclasses__() if cls.produces}
    assert produced == {"load", "check", "sample", "train", "eval", "delta"} and produced <= set(KINDS)
    with pytest.raises(ValueError, match="not among cache.KINDS"):
        make_key("scratch", {}, {})


def test_a_path_is_in_the_cache_below_its_directory_only(tmp_path):
    root = str(tmp_path / "cache")
    cache = Cache(root)
    for path, inside in ((root, False), (root + os.sep, False), (os.path.join(root, "load", "ab"), True),
                         (root + "-other" + os.sep + "x", False), (str(tmp_path), False)):
        assert within(root, path) is inside and cache.holds(path) is inside, path


def test_an_entrys_record_digest_is_the_canonical_json_hash(tmp_path):
    """entry.json's record_sha256 is fsutil.sha256_json of the record: the bytes it always hashed
    (sorted keys, no spaces, ASCII escapes), so entries sealed before still verify."""
    import hashlib

    from hokusai_preview.core.cache import seal
    from hokusai_preview.core.fsutil import sha256_json

    record = {"b": [1, 2.5, None, True], "a": "caf\u00e9 \u65e5\u672c", "key": "k" * 64}
    directory = tmp_path / "stage" / "kk" / ("k" * 64)
    directory.mkdir(parents=True)
    seal(str(directory), record, [], root=str(tmp_path))
    meta = json.loads((directory / "entry.json").read_text())
    before = hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()
    assert meta["record_sha256"] == sha256_json(record) == before
    assert read_entry(str(directory))["record"] == record
